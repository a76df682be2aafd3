"""``fjord`` and ``fjord-partial``: FjORD (Horváth et al., 2021), ordered dropout
(docs/distreal.md, 'The baselines').

A device has a maximum width: the widest uniform sub-model on the grid that fits its capability.
Before every mini-batch it draws a width uniformly among the grid widths up to that maximum and
trains the **first** k_l channels of every group (ordered dropout). The server averages each entry
over the devices that trained it.

Two tiers, sized as HeteroFL's (:mod:`leantrain.fl.heterofl`):

* ``fjord`` (paper-style): the maximum width is fixed at round start from the device's capability
  then (class FLOP/s times its availability now, against the deadline); a device whose next
  mini-batch would end after the deadline misses T and is dropped.
* ``fjord-partial`` (strengthened): one maximum width per class from its configured capability;
  the device stops at the deadline and sends what it trained.

Choices where the paper differs: FjORD optionally adds self-distillation from the widest
sub-model; we leave it out and describe the method by its ordered dropout alone.
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
    uniform_rates,
)
from leantrain.fleet import Device

__all__ = ["FjORD", "FjORDPartial"]


class FjORD(Strategy):
    """Ordered dropout up to the width that fits the device at round start; a device that misses
    T is dropped."""

    name = "fjord"
    overrun: ClassVar[Overrun] = "drop"

    def rates_within(self, capability: float) -> list[float]:
        """The grid rates a device of ``capability`` draws from: those at or above the rate of
        the widest sub-model that fits."""
        smallest = uniform_rate_within(self.setup, capability)
        return [rate for rate, _ in uniform_rates(self.setup) if rate >= smallest]

    def rates(self, device: Device, round_start_s: float) -> list[float]:
        """The rates ``device`` draws from in the round starting at ``round_start_s``."""
        return self.rates_within(round_capability(self.setup, device, round_start_s))

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        return Instruction(
            "ordered-dropout",
            {"rates": self.rates(device, round_start_s), "overrun": self.overrun},
        )


class FjORDPartial(FjORD):
    """Ordered dropout up to a static width per device class from its configured capability;
    devices stop at the deadline and send what they trained."""

    name = "fjord-partial"
    overrun: ClassVar[Overrun] = "partial"

    def __init__(self, setup: FederatedSetup) -> None:
        super().__init__(setup)
        self._rates: dict[str, list[float]] | None = None

    @property
    def class_rates(self) -> dict[str, list[float]]:
        """The dropout rates each device class draws from (computed once, from the config)."""
        if self._rates is None:
            self._rates = {
                name: self.rates_within(capability)
                for name, capability in class_capabilities(self.setup).items()
            }
        return self._rates

    def rates(self, device: Device, round_start_s: float) -> list[float]:
        return self.class_rates[device.device_class]
