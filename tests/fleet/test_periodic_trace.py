"""Tests for leantrain.fleet.periodic_trace: values per period from their own streams."""

from __future__ import annotations

import pytest
from trace_cases import assert_contiguous, first_segments

from leantrain.fleet import PeriodicTrace
from leantrain.seeding import numpy_rng


def test_periodic_values_in_range_and_constant_within_a_period() -> None:
    trace = PeriodicTrace(10.0, 0.2, 0.8, seed=1, device_index=0)
    for k in range(50):
        value = trace.at(10.0 * k)
        assert 0.2 <= value <= 0.8
        assert trace.at(10.0 * k + 3.3) == trace.at(10.0 * k + 9.999) == value
    assert len({trace.at(10.0 * k) for k in range(50)}) > 40


def test_periodic_value_is_the_per_period_stream() -> None:
    trace = PeriodicTrace(10.0, 0.2, 0.8, seed=5, device_index=3)
    expected = numpy_rng(5, "trace", 3, 7).uniform(0.2, 0.8)
    assert trace.at(75.0) == pytest.approx(expected, rel=1e-15)


def test_periodic_independent_of_query_order() -> None:
    forward = PeriodicTrace(7.0, 0.1, 1.0, seed=2, device_index=4)
    backward = PeriodicTrace(7.0, 0.1, 1.0, seed=2, device_index=4)
    times = [7.0 * k + 1.0 for k in range(40)]
    values = [forward.at(t) for t in times]
    assert [backward.at(t) for t in reversed(times)] == list(reversed(values))


def test_periodic_devices_differ_and_seeds_repeat() -> None:
    times = [10.0 * k for k in range(20)]
    a = [PeriodicTrace(10.0, 0.1, 1.0, seed=0, device_index=0).at(t) for t in times]
    b = [PeriodicTrace(10.0, 0.1, 1.0, seed=0, device_index=1).at(t) for t in times]
    again = [PeriodicTrace(10.0, 0.1, 1.0, seed=0, device_index=0).at(t) for t in times]
    other_seed = [PeriodicTrace(10.0, 0.1, 1.0, seed=9, device_index=0).at(t) for t in times]
    assert a == again
    assert a != b
    assert a != other_seed


def test_periodic_segments_follow_period_boundaries() -> None:
    trace = PeriodicTrace(0.1, 0.5, 0.6, seed=0, device_index=0)
    segments = first_segments(trace, 0.25, 6)
    assert_contiguous(segments, 0.25)
    assert segments[0][1] == pytest.approx(0.3)
    assert [end for _, end, _ in segments[1:]] == pytest.approx([0.4, 0.5, 0.6, 0.7, 0.8])
    # A start that is a float-rounded boundary still yields a non-empty first piece.
    assert_contiguous(first_segments(trace, 0.1 * 3, 3), 0.1 * 3)
