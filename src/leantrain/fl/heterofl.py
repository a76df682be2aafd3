"""``heterofl``: HeteroFL (Diao et al., 2021), static nested widths per capability class (SPEC 3).

Each device class gets one width for the whole run: the widest uniform sub-model on the grid whose
cost fits the class's capability (its FLOP/s times its mean availability over the run, relative to
the reference device, whose full-model workload defines the deadline). A device trains the
**first** k_l channels of every group, so the sub-models are nested, until its work is done or the
deadline comes. The server averages each entry over the devices that held it.

Static batch normalisation ("sBN", as in the paper): devices normalise with the statistics of each
mini-batch and do not report running statistics, so the global model's running statistics are not
averaged. Before each evaluation the server computes them afresh with the full model over a seeded
sample of training data (cumulative averages), as the paper's sBN does after training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from leantrain.fl.aggregate import WeightedUpdate, masked_average
from leantrain.fl.setup import FederatedSetup
from leantrain.fl.strategy import Instruction, Strategy, register_strategy
from leantrain.fl.submodels import class_capabilities, uniform_rate_within
from leantrain.fl.task import ClientUpdate
from leantrain.fleet import Device
from leantrain.nn.submodel import first_keep
from leantrain.seeding import torch_generator

__all__ = ["STATIC_BN_SAMPLES", "HeteroFL", "static_batch_norm"]

#: Training samples the server passes through the model to compute sBN statistics.
STATIC_BN_SAMPLES = 2048

_RUNNING = (".running_mean", ".running_var")


def static_batch_norm(
    setup: FederatedSetup, state: Mapping[str, torch.Tensor], samples: int = STATIC_BN_SAMPLES
) -> dict[str, torch.Tensor]:
    """``state`` with every BatchNorm's running statistics recomputed over a seeded sample of
    training data (cumulative averages, the full model in training mode)."""
    model = setup.build_model()
    model.load_state_dict(state)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return dict(state)
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative moving average over the pass
    train = setup.data.train
    count = min(samples, len(train))
    order = torch.randperm(len(train), generator=torch_generator(setup.config.seed, "sbn"))[:count]
    model.train()
    with torch.no_grad():
        for batch in torch.split(order, 256):
            model(train.x[batch])
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


@register_strategy("heterofl")
class HeteroFL(Strategy):
    """Static nested widths per capability class, masked averaging, static BatchNorm."""

    def __init__(self, setup: FederatedSetup) -> None:
        super().__init__(setup)
        self._rates: dict[str, float] | None = None

    @property
    def class_rates(self) -> dict[str, float]:
        """The dropout rate of each device class (computed once)."""
        if self._rates is None:
            self._rates = {
                name: uniform_rate_within(self.setup, capability)
                for name, capability in class_capabilities(self.setup).items()
            }
        return self._rates

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        rate = self.class_rates[device.device_class]
        groups = self.setup.channel_groups
        counts = groups.keep_counts([rate] * len(groups))
        keep = first_keep(groups, counts)
        return Instruction(
            "submodel",
            {
                "keep": {name: [int(i) for i in indices] for name, indices in keep.items()},
                "cost": self.setup.submodel_cost.ratio(counts),
                "rate": rate,
            },
        )

    def aggregate(
        self,
        round_index: int,
        global_state: Mapping[str, torch.Tensor],
        updates: Sequence[ClientUpdate],
    ) -> dict[str, torch.Tensor]:
        """Masked average of everything but the BatchNorm running statistics (sBN)."""
        untracked = {
            key: torch.zeros(value.shape, dtype=torch.bool)
            for key, value in global_state.items()
            if key.endswith(_RUNNING)
        }
        weighted = [
            WeightedUpdate(u.state, float(u.num_samples), {**(u.masks or {}), **untracked})
            for u in updates
            if u.state is not None
        ]
        return masked_average(global_state, weighted)

    def evaluation_state(self, state: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        return static_batch_norm(self.setup, state)
