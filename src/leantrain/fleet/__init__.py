"""The simulated fleet: devices, availability traces, the exact clock and energy
(docs/world-model.md); every name is imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leantrain.lazy import lazy_exports

if TYPE_CHECKING:
    from leantrain.fleet.builder import Fleet, build_fleet
    from leantrain.fleet.clock import compute_time, finish_time, work_between
    from leantrain.fleet.constant_trace import ConstantTrace
    from leantrain.fleet.device import Device
    from leantrain.fleet.energy import EnergyBreakdown, device_energy
    from leantrain.fleet.markov_trace import MarkovTrace
    from leantrain.fleet.periodic_trace import PeriodicTrace
    from leantrain.fleet.replay_trace import CsvTrace
    from leantrain.fleet.trace import AvailabilityTrace, Segment
    from leantrain.fleet.trace_builder import build_trace
    from leantrain.fleet.trace_file import CsvTable, parse_csv_table, read_csv_trace

__all__ = [
    "AvailabilityTrace",
    "ConstantTrace",
    "CsvTable",
    "CsvTrace",
    "Device",
    "EnergyBreakdown",
    "Fleet",
    "MarkovTrace",
    "PeriodicTrace",
    "Segment",
    "build_fleet",
    "build_trace",
    "compute_time",
    "device_energy",
    "finish_time",
    "parse_csv_table",
    "read_csv_trace",
    "work_between",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "builder": ["Fleet", "build_fleet"],
        "clock": ["compute_time", "finish_time", "work_between"],
        "device": ["Device"],
        "energy": ["EnergyBreakdown", "device_energy"],
        "constant_trace": ["ConstantTrace"],
        "markov_trace": ["MarkovTrace"],
        "periodic_trace": ["PeriodicTrace"],
        "replay_trace": ["CsvTrace"],
        "trace": ["AvailabilityTrace", "Segment"],
        "trace_builder": ["build_trace"],
        "trace_file": ["CsvTable", "parse_csv_table", "read_csv_trace"],
    },
)
