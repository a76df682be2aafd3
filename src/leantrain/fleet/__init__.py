"""The simulated fleet: devices, availability traces, the exact clock and energy (SPEC 2)."""

from __future__ import annotations

from leantrain.fleet.builder import Fleet, build_fleet
from leantrain.fleet.clock import compute_time, finish_time, work_between
from leantrain.fleet.device import Device
from leantrain.fleet.energy import EnergyBreakdown, device_energy
from leantrain.fleet.trace import (
    AvailabilityTrace,
    ConstantTrace,
    CsvTable,
    CsvTrace,
    MarkovTrace,
    PeriodicTrace,
    Segment,
    build_trace,
    parse_csv_table,
    read_csv_trace,
)

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
