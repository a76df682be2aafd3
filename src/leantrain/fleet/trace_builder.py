"""Building a device's availability trace from its class's trace config."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leantrain.config import (
    ConstantTraceConfig,
    CsvTraceConfig,
    MarkovTraceConfig,
    PeriodicTraceConfig,
    TraceConfig,
)
from leantrain.fleet.constant_trace import ConstantTrace
from leantrain.fleet.markov_trace import MarkovTrace
from leantrain.fleet.periodic_trace import PeriodicTrace
from leantrain.fleet.trace import AvailabilityTrace
from leantrain.fleet.trace_file import (
    CsvTable,
    csv_trace_from_table,
    parse_csv_table,
    read_csv_trace,
)

__all__ = ["build_trace"]


@dataclass(frozen=True)
class _TraceContext:
    seed: int
    device_index: int
    device_name: str
    device_class: str
    csv_tables: MutableMapping[Path, CsvTable] | None


def _constant(config: ConstantTraceConfig, ctx: _TraceContext) -> AvailabilityTrace:
    return ConstantTrace(config.availability)


def _periodic(config: PeriodicTraceConfig, ctx: _TraceContext) -> AvailabilityTrace:
    return PeriodicTrace(config.period_s, config.low, config.high, ctx.seed, ctx.device_index)


def _markov(config: MarkovTraceConfig, ctx: _TraceContext) -> AvailabilityTrace:
    return MarkovTrace(
        config.levels, config.transition, config.step_s, config.initial, ctx.seed, ctx.device_index
    )


def _csv(config: CsvTraceConfig, ctx: _TraceContext) -> AvailabilityTrace:
    if ctx.csv_tables is None:
        return read_csv_trace(config.path, ctx.device_name, ctx.device_class, config.loop)
    table = ctx.csv_tables.get(config.path)
    if table is None:
        table = ctx.csv_tables[config.path] = parse_csv_table(config.path)
    return csv_trace_from_table(table, ctx.device_name, ctx.device_class, config.loop)


# Keyed by config class; each builder takes its own config type, which the dict cannot express.
_BUILDERS: Mapping[type[Any], Callable[[Any, _TraceContext], AvailabilityTrace]] = {
    ConstantTraceConfig: _constant,
    PeriodicTraceConfig: _periodic,
    MarkovTraceConfig: _markov,
    CsvTraceConfig: _csv,
}


def build_trace(
    config: TraceConfig,
    seed: int,
    device_index: int,
    device_name: str,
    device_class: str,
    *,
    csv_tables: MutableMapping[Path, CsvTable] | None = None,
) -> AvailabilityTrace:
    """Build one device's availability trace from its class's trace config.

    Args:
        config: The trace section of the device class.
        seed: The config's seed.
        device_index: The device's index in the fleet (keys the random streams).
        device_name: The device's name, ``<class>-<i>`` (selects CSV rows).
        device_class: The device's class name (selects CSV rows when none bear the name).
        csv_tables: Optional cache of parsed CSV files, so a fleet reads each file once.

    Raises:
        InputError: A CSV trace file is unreadable, has a bad row or no rows for the device.
    """
    builder = _BUILDERS.get(type(config))
    if builder is None:
        raise TypeError(f"unknown trace config {type(config).__name__}")
    context = _TraceContext(seed, device_index, device_name, device_class, csv_tables)
    return builder(config, context)
