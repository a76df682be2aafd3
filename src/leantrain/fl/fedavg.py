"""The three FedAvg baselines every comparison includes (SPEC 3)."""

from __future__ import annotations

from leantrain.fl.strategy import Instruction, Strategy, register_strategy
from leantrain.fleet import Device

__all__ = ["FedAvg", "FedAvgDrop", "FedAvgPartial"]


@register_strategy("fedavg")
class FedAvg(Strategy):
    """Every selected device trains the full model on its full workload; no deadline."""

    has_deadline = False

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        return Instruction("full")


@register_strategy("fedavg-drop")
class FedAvgDrop(Strategy):
    """FedAvg with the round deadline T: devices that cannot finish in time are dropped."""

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        return Instruction("drop")


@register_strategy("fedavg-partial")
class FedAvgPartial(Strategy):
    """FedAvg where each device stops at the deadline T and sends what it trained so far."""

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        return Instruction("partial")
