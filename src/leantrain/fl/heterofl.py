"""``heterofl`` and ``heterofl-partial``: HeteroFL (Diao et al., 2021), nested widths
(docs/distreal.md, 'The baselines' and 'HeteroFL reproduction').

A device trains the **first** k_l channels of every group (one rate for all groups), so the
sub-models are nested; the server averages each entry over the devices that held it.

Two tiers:

* ``heterofl`` (paper-style): by default (``heterofl.mode = "capability"``) the width is fixed at
  round start from what the device sees then, the widest grid width whose cost fits its
  capability (class FLOP/s times its availability now, against the deadline); it trains its whole
  workload and a device that misses the deadline is dropped. The paper's own assignments run
  without a deadline, from a mix of width letters (``heterofl.mix``, e.g. ``"c-d-e"``): ``fix``
  gives each device one width by its index, in the mix's proportions; ``dynamic`` redraws every
  device's width each round from the mix's proportions. A width of relative rate ρ (the letter's
  rate over the mix's first, widest letter, down to 1/16) keeps ⌈ρ·C_l⌉ channels of every group.
* ``heterofl-partial`` (strengthened): one width per device class for the whole run, from the
  class's configured capability (FLOP/s × the trace's configured mean availability × the compute
  time the deadline leaves; :func:`~leantrain.fl.submodels.class_capabilities`); the device stops
  at the deadline and sends what it trained.

Batch normalisation: by default, as every method, the global model's running statistics are the
masked average of the devices' ones and are evaluated as aggregated (docs/distreal.md, 'Batch
normalisation at evaluation'). ``heterofl.static_bn`` recomputes them over the whole training set
before each evaluation instead (the paper's sBN, which needs training data at the server), and
``heterofl.aggregation = "count"`` averages each entry unweighted over the devices that held it
(the paper's rule) instead of by samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
import torch

from leantrain.config import HeteroflConfig, parse_mix
from leantrain.errors import InputError
from leantrain.fl.aggregate import WeightedUpdate, count_average
from leantrain.fl.evaluate import static_bn_state
from leantrain.fl.setup import FederatedSetup
from leantrain.fl.strategy import Instruction, Strategy
from leantrain.fl.submodels import (
    Overrun,
    class_capabilities,
    round_capability,
    uniform_rate_within,
)
from leantrain.fl.task import ClientUpdate
from leantrain.fleet import Device
from leantrain.nn.submodel import first_keep
from leantrain.seeding import numpy_rng

__all__ = ["HeteroFL", "HeteroFLPartial", "fixed_mix_rates", "mix_counts"]


def fixed_mix_rates(mix: Sequence[tuple[float, int]], devices: int) -> list[float]:
    """The relative rate of each device index under ``fix``: the mix's rates in order, each
    repeated ⌊n / Σ proportions⌋ × its proportion times, the remainder at the last rate.

    Args:
        mix: (rate, proportion) pairs (:func:`~leantrain.config.parse_mix`), widest first.
        devices: The number of devices n.
    """
    widest = mix[0][0]
    unit = devices // sum(proportion for _, proportion in mix)
    rates = [rate / widest for rate, proportion in mix for _ in range(unit * proportion)]
    return rates + [mix[-1][0] / widest] * (devices - len(rates))


def mix_counts(channels: Sequence[int], relative_rate: float) -> tuple[int, ...]:
    """⌈ρ·C_l⌉ channels of each group at relative rate ρ (HeteroFL's widths), at least one."""
    return tuple(max(1, min(c, math.ceil(relative_rate * c))) for c in channels)


class HeteroFL(Strategy):
    """Nested widths sized per device at round start (or from a mix); a device that misses T is
    dropped."""

    name = "heterofl"
    overrun: ClassVar[Overrun] = "drop"

    def __init__(self, setup: FederatedSetup) -> None:
        super().__init__(setup)
        settings = setup.config.heterofl or HeteroflConfig()
        self.settings = settings
        self.mode = settings.mode
        self.mix = None if settings.mix is None else parse_mix(settings.mix)
        self._scratch: torch.nn.Module | None = None

    # --- widths -----------------------------------------------------------------------------

    def rate(self, device: Device, round_start_s: float) -> float:
        """The dropout rate ``device`` trains at in the round starting at ``round_start_s``
        (``capability`` mode)."""
        return uniform_rate_within(self.setup, round_capability(self.setup, device, round_start_s))

    def mix_rate(self, round_index: int, device: Device) -> float:
        """The relative width rate ρ of ``device`` in round ``round_index`` (``fix`` and
        ``dynamic`` modes).

        ``dynamic`` draws every device's letter from the stream (seed, ``heterofl-rates``,
        round) with the mix's proportions, so a device's width does not depend on which devices
        were sampled.
        """
        assert self.mix is not None
        devices = len(self.setup.fleet.devices)
        if self.mode == "fix":
            return fixed_mix_rates(self.mix, devices)[device.index]
        proportions = np.array([p for _, p in self.mix], dtype=np.float64)
        rng = numpy_rng(self.setup.config.seed, "heterofl-rates", round_index)
        letters = rng.choice(len(self.mix), size=devices, p=proportions / proportions.sum())
        return self.mix[int(letters[device.index])][0] / self.mix[0][0]

    def uses_deadline(self) -> bool:
        """The mix modes are resource-unconstrained: their rounds wait for every device."""
        return self.mode == "capability" and self.has_deadline

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        groups = self.setup.channel_groups
        if self.mode == "capability":
            rate = self.rate(device, round_start_s)
            counts = groups.keep_counts([rate] * len(groups))
        else:
            relative = self.mix_rate(round_index, device)
            rate = 1.0 - relative
            counts = mix_counts(groups.channels, relative)
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

    # --- the paper's aggregation and BatchNorm options ---------------------------------------

    def aggregate(
        self,
        round_index: int,
        global_state: Mapping[str, torch.Tensor],
        updates: Sequence[ClientUpdate],
    ) -> dict[str, torch.Tensor]:
        """By samples (as every method), or unweighted by count (``heterofl.aggregation``)."""
        if self.settings.aggregation == "samples":
            return super().aggregate(round_index, global_state, updates)
        counted = [WeightedUpdate(u.state, 1.0, u.masks) for u in updates if u.state is not None]
        return count_average(global_state, counted)

    def evaluation_state(self, state: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        """``state`` itself, or with static BatchNorm statistics over the whole training set
        (``heterofl.static_bn``; :func:`~leantrain.fl.evaluate.static_bn_state`)."""
        if not self.settings.static_bn:
            return state
        if self._scratch is None:
            self._scratch = self.setup.build_model()
        return static_bn_state(
            self._scratch, state, self.setup.data.train, self.setup.config.training.batch_size
        )


class HeteroFLPartial(HeteroFL):
    """Static nested widths per device class from its configured capability; devices stop at
    the deadline and send what they trained."""

    name = "heterofl-partial"
    overrun: ClassVar[Overrun] = "partial"

    def __init__(self, setup: FederatedSetup) -> None:
        super().__init__(setup)
        if self.mode != "capability":
            raise InputError(
                None,
                "heterofl.mode",
                f"'{self.mode}' applies to heterofl; heterofl-partial sizes widths by capability",
            )
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
