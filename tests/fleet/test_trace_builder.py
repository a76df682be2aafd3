"""Tests for leantrain.fleet.trace_builder: one trace per config kind."""

from __future__ import annotations

from pathlib import Path

from trace_cases import LEVELS, MATRIX, write_csv

from leantrain.config import (
    ConstantTraceConfig,
    CsvTraceConfig,
    MarkovTraceConfig,
    PeriodicTraceConfig,
)
from leantrain.fleet import ConstantTrace, CsvTrace, MarkovTrace, PeriodicTrace, build_trace


def test_build_trace_dispatches_on_config_kind(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "time_s,availability\n0,0.5\n1,1\n")
    constant = build_trace(ConstantTraceConfig(availability=0.3), 0, 0, "a-0", "a")
    assert isinstance(constant, ConstantTrace) and constant.at(5.0) == 0.3
    periodic = build_trace(PeriodicTraceConfig(period_s=4.0, low=0.2, high=0.4), 7, 2, "a-2", "a")
    assert isinstance(periodic, PeriodicTrace)
    assert (periodic.period_s, periodic.seed, periodic.device_index) == (4.0, 7, 2)
    markov_config = MarkovTraceConfig(levels=LEVELS, transition=MATRIX, step_s=3.0, initial=2)
    markov = build_trace(markov_config, 7, 2, "a-2", "a")
    assert isinstance(markov, MarkovTrace) and markov.at(0.0) == 1.0
    csv_trace = build_trace(CsvTraceConfig(path=path, loop=True), 0, 0, "a-0", "a")
    assert isinstance(csv_trace, CsvTrace) and csv_trace.loop and csv_trace.at(0.5) == 0.5
