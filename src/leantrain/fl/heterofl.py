"""``heterofl`` and ``heterofl-partial``: HeteroFL (Diao et al., 2021), nested widths
(docs/distreal.md, 'The baselines').

A device trains the **first** k_l channels of every group (one rate for all groups), so the
sub-models are nested; the server averages each entry over the devices that held it.

Two tiers:

* ``heterofl`` (paper-style): the width is fixed at round start from what the device sees then,
  the widest grid width whose cost fits its capability (class FLOP/s times its availability now,
  against the deadline); it trains its whole workload and a device that misses the deadline is
  dropped.
* ``heterofl-partial`` (strengthened): one width per device class for the whole run, from the
  class's configured capability (FLOP/s × the trace's configured mean availability × the compute
  time the deadline leaves; :func:`~leantrain.fl.submodels.class_capabilities`); the device stops
  at the deadline and sends what it trained.

Batch normalisation: as every method, the global model's running statistics are the masked
average of the devices' ones and are evaluated as aggregated (docs/distreal.md, 'Batch
normalisation at evaluation'); the paper's server-side recomputation (sBN) would need training
data at the server, which no other method has.
"""

from __future__ import annotations

from typing import ClassVar

from leantrain.fl.setup import FederatedSetup
from leantrain.fl.strategy import Instruction, Strategy
from leantrain.fl.submodels import (
    Overrun,
    class_capabilities,
    round_capability,
    uniform_rate_within,
)
from leantrain.fleet import Device
from leantrain.nn.submodel import first_keep

__all__ = ["HeteroFL", "HeteroFLPartial"]


class HeteroFL(Strategy):
    """Nested widths sized per device at round start; a device that misses T is dropped."""

    name = "heterofl"
    overrun: ClassVar[Overrun] = "drop"

    def rate(self, device: Device, round_start_s: float) -> float:
        """The dropout rate ``device`` trains at in the round starting at ``round_start_s``."""
        return uniform_rate_within(self.setup, round_capability(self.setup, device, round_start_s))

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        rate = self.rate(device, round_start_s)
        groups = self.setup.channel_groups
        counts = groups.keep_counts([rate] * len(groups))
        keep = first_keep(groups, counts)
        return Instruction(
            "submodel",
            {
                "keep": {name: [int(i) for i in indices] for name, indices in keep.items()},
                "cost": self.setup.submodel_cost.ratio(counts),
                "rate": rate,
                "overrun": self.overrun,
            },
        )


class HeteroFLPartial(HeteroFL):
    """Static nested widths per device class from its configured capability; devices stop at
    the deadline and send what they trained."""

    name = "heterofl-partial"
    overrun: ClassVar[Overrun] = "partial"

    def __init__(self, setup: FederatedSetup) -> None:
        super().__init__(setup)
        self._rates: dict[str, float] | None = None

    @property
    def class_rates(self) -> dict[str, float]:
        """The dropout rate of each device class (computed once, from the config only)."""
        if self._rates is None:
            self._rates = {
                name: uniform_rate_within(self.setup, capability)
                for name, capability in class_capabilities(self.setup).items()
            }
        return self._rates

    def rate(self, device: Device, round_start_s: float) -> float:
        return self.class_rates[device.device_class]
