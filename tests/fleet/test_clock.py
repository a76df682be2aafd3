"""Tests for leantrain.fleet.clock: the exact clock across availability changes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leantrain.fleet import (
    ConstantTrace,
    CsvTrace,
    PeriodicTrace,
    compute_time,
    finish_time,
    work_between,
)

# a(t) = 1.0 on [0, 2), 0.5 on [2, 5), 0.25 from 5 on.
STEPS = CsvTrace([0.0, 2.0, 5.0], [1.0, 0.5, 0.25])
GFLOPS = 1e9


def test_work_spanning_several_changes() -> None:
    # From t=1: [1, 2) at 1e9 FLOP/s does 1e9, leaving 2.5e9; [2, 5) at 0.5e9 does 1.5e9, leaving
    # 1e9; from 5 at 0.25e9 FLOP/s that takes 4 s, so the work finishes at t = 9.
    assert finish_time(STEPS, GFLOPS, 1.0, 3.5e9) == pytest.approx(9.0, rel=1e-12)
    assert compute_time(STEPS, GFLOPS, 1.0, 3.5e9) == pytest.approx(8.0, rel=1e-12)


def test_start_mid_segment() -> None:
    # From t=3 at 0.5e9 FLOP/s: 0.5e9 FLOPs take 1 s; 1e9 FLOPs end exactly at the change at t=5.
    assert finish_time(STEPS, GFLOPS, 3.0, 0.5e9) == pytest.approx(4.0, rel=1e-12)
    assert finish_time(STEPS, GFLOPS, 3.0, 1e9) == pytest.approx(5.0, rel=1e-12)
    # 1.5e9 FLOPs: 1e9 up to t=5, then 0.5e9 at 0.25e9 FLOP/s = 2 s more.
    assert finish_time(STEPS, GFLOPS, 3.0, 1.5e9) == pytest.approx(7.0, rel=1e-12)


def test_start_in_the_last_open_segment() -> None:
    assert finish_time(STEPS, GFLOPS, 100.0, 1e9) == pytest.approx(104.0, rel=1e-12)


def test_looping_trace() -> None:
    # Steps are 2 and 3 s, median 2.5, so the loop period is 5 + 2.5 = 7.5 s: 0.25 holds on
    # [5, 7.5), then 1.0 on [7.5, 9.5). From t=1: 1e9 + 1.5e9 + 0.25e9·2.5 = 3.125e9 FLOPs by
    # t = 7.5, and the remaining 0.375e9 at 1e9 FLOP/s take 0.375 s: t = 7.875.
    looped = CsvTrace([0.0, 2.0, 5.0], [1.0, 0.5, 0.25], loop=True)
    assert finish_time(looped, GFLOPS, 1.0, 3.5e9) == pytest.approx(7.875, rel=1e-12)


def test_zero_work_returns_start() -> None:
    assert finish_time(STEPS, GFLOPS, 3.25, 0.0) == 3.25
    assert compute_time(STEPS, GFLOPS, 3.25, 0.0) == 0.0


def test_work_between_hand_computed() -> None:
    # [1, 2): 1e9; [2, 5): 1.5e9; [5, 6): 0.25e9.
    assert work_between(STEPS, GFLOPS, 1.0, 6.0) == pytest.approx(2.75e9, rel=1e-12)
    assert work_between(STEPS, GFLOPS, 3.0, 4.0) == pytest.approx(0.5e9, rel=1e-12)
    assert work_between(STEPS, GFLOPS, 4.0, 4.0) == 0.0
    assert work_between(STEPS, GFLOPS, 4.0, math.inf) == math.inf


def test_constant_trace_is_work_over_speed() -> None:
    trace = ConstantTrace(0.5)
    assert finish_time(trace, 2e9, 10.0, 3e9) == pytest.approx(13.0, rel=1e-12)


def test_many_short_periods_terminate() -> None:
    trace = PeriodicTrace(0.01, 0.1, 0.2, seed=3, device_index=0)
    end = finish_time(trace, GFLOPS, 0.0, 1e9)  # 1 s at full speed: between 5 and 10 s here
    assert 5.0 <= end <= 10.0
    assert work_between(trace, GFLOPS, 0.0, end) == pytest.approx(1e9, rel=1e-9)


@pytest.mark.parametrize(
    ("flops", "start", "work"),
    [(0.0, 0.0, 1.0), (-1.0, 0.0, 1.0), (1.0, -1.0, 1.0), (1.0, 0.0, -1.0), (1.0, 0.0, math.inf)],
)
def test_finish_time_rejects_bad_arguments(flops: float, start: float, work: float) -> None:
    with pytest.raises(ValueError):
        finish_time(STEPS, flops, start, work)


def test_work_between_rejects_reversed_interval() -> None:
    with pytest.raises(ValueError):
        work_between(STEPS, GFLOPS, 5.0, 4.0)


@st.composite
def piecewise_traces(draw: st.DrawFn) -> CsvTrace:
    gaps = draw(st.lists(st.floats(0.01, 100.0), min_size=0, max_size=12))
    first = draw(st.floats(0.0, 50.0))
    times = [first]
    for gap in gaps:
        times.append(times[-1] + gap)
    values = draw(st.lists(st.floats(0.01, 1.0), min_size=len(times), max_size=len(times)))
    return CsvTrace(times, values, loop=draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(
    trace=piecewise_traces(),
    flops=st.floats(1e6, 1e12),
    start=st.floats(0.0, 1000.0),
    duration=st.floats(0.0, 2000.0),
)
def test_finish_time_inverts_work_between(
    trace: CsvTrace, flops: float, start: float, duration: float
) -> None:
    end = start + duration
    work = work_between(trace, flops, start, end)
    assert math.isclose(finish_time(trace, flops, start, work), end, rel_tol=1e-9, abs_tol=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    period=st.floats(0.5, 50.0),
    start=st.floats(0.0, 500.0),
    duration=st.floats(0.0, 200.0),
)
def test_finish_time_inverts_work_between_periodic(
    period: float, start: float, duration: float
) -> None:
    trace = PeriodicTrace(period, 0.1, 1.0, seed=11, device_index=2)
    end = start + duration
    work = work_between(trace, GFLOPS, start, end)
    assert math.isclose(finish_time(trace, GFLOPS, start, work), end, rel_tol=1e-9, abs_tol=1e-12)
