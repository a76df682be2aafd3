"""``fjord``: FjORD (Horváth et al., 2021), ordered dropout (SPEC 3).

Each device class has a maximum width: the widest uniform sub-model on the grid that fits the
class's capability (as for HeteroFL). Before every mini-batch the device draws a width uniformly
among the grid widths up to its maximum and trains the **first** k_l channels of every group
(ordered dropout), until its work is done or the deadline comes. The server averages each entry
over the devices that trained it.

Choices where the paper differs: FjORD optionally adds self-distillation from the widest
sub-model; we leave it out, as SPEC 3 describes the method by its ordered dropout alone.
"""

from __future__ import annotations

from leantrain.fl.setup import FederatedSetup
from leantrain.fl.strategy import Instruction, Strategy, register_strategy
from leantrain.fl.submodels import class_capabilities, uniform_rate_within, uniform_rates
from leantrain.fleet import Device

__all__ = ["FjORD"]


@register_strategy("fjord")
class FjORD(Strategy):
    """Ordered dropout with a per-step width drawn up to the device class's maximum."""

    def __init__(self, setup: FederatedSetup) -> None:
        super().__init__(setup)
        self._rates: dict[str, list[float]] | None = None

    @property
    def class_rates(self) -> dict[str, list[float]]:
        """The dropout rates each device class draws from (computed once)."""
        if self._rates is None:
            grid = [rate for rate, _ in uniform_rates(self.setup)]
            self._rates = {}
            for name, capability in class_capabilities(self.setup).items():
                smallest = uniform_rate_within(self.setup, capability)
                self._rates[name] = [rate for rate in grid if rate >= smallest]
        return self._rates

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        return Instruction("ordered-dropout", {"rates": self.class_rates[device.device_class]})
