"""The three FedAvg baselines every comparison includes (docs/runtime.md, 'Strategies')."""

from __future__ import annotations

from leantrain.fl.strategy import Instruction, Strategy
from leantrain.fleet import Device

__all__ = ["FedAvg", "FedAvgDrop", "FedAvgPartial"]


class FedAvg(Strategy):
    """Every selected device trains the full model on its full workload; no deadline."""

    name = "fedavg"
    has_deadline = False

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        return Instruction("full")


class FedAvgDrop(Strategy):
    """FedAvg with the round deadline T: devices that cannot finish in time are dropped."""

    name = "fedavg-drop"

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        return Instruction("drop")


class FedAvgPartial(Strategy):
    """FedAvg where each device stops at the deadline T and sends what it trained so far."""

    name = "fedavg-partial"

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        return Instruction("partial")
