"""Tests for leantrain.fleet.replay_trace: the hold and loop rules of replayed rows."""

from __future__ import annotations

import math

import pytest
from trace_cases import assert_contiguous, first_segments

from leantrain.fleet import CsvTrace


def test_csv_hold_rule() -> None:
    trace = CsvTrace([10.0, 20.0, 25.0], [0.5, 1.0, 0.25])
    assert trace.at(0.0) == 0.5  # before the first row the first value holds
    assert trace.at(10.0) == 0.5
    assert trace.at(19.999) == 0.5
    assert trace.at(20.0) == 1.0
    assert trace.at(25.0) == trace.at(1e12) == 0.25
    segments = first_segments(trace, 0.0, 10)
    assert segments == [(0.0, 20.0, 0.5), (20.0, 25.0, 1.0), (25.0, math.inf, 0.25)]


def test_csv_loop_rule() -> None:
    # Steps 10 and 5, median 7.5: the period is 25 - 10 + 7.5 = 22.5, so the last row lasts
    # 7.5 s and the rows repeat from t = 32.5, 55, ...
    trace = CsvTrace([10.0, 20.0, 25.0], [0.5, 1.0, 0.25], loop=True)
    assert trace.period_s == 22.5
    assert trace.at(5.0) == 0.5
    assert trace.at(30.0) == 0.25
    assert trace.at(32.5) == 0.5
    assert trace.at(42.5) == 1.0
    assert trace.at(47.5) == 0.25
    assert trace.at(10.0 + 22.5 * 1000 + 12.0) == 1.0
    segments = first_segments(trace, 0.0, 7)
    assert_contiguous(segments, 0.0)
    expected_ends = [20.0, 25.0, 32.5, 42.5, 47.5, 55.0, 65.0]
    assert [end for _, end, _ in segments] == pytest.approx(expected_ends)
    assert [value for _, _, value in segments] == [0.5, 1.0, 0.25, 0.5, 1.0, 0.25, 0.5]


def test_csv_loop_with_irregular_steps_uses_the_median() -> None:
    # Steps 1, 1, 10: the median is 1, so the period is 12 + 1 = 13.
    trace = CsvTrace([0.0, 1.0, 2.0, 12.0], [0.1, 0.2, 0.3, 0.4], loop=True)
    assert trace.period_s == 13.0
    assert trace.at(12.5) == 0.4
    assert trace.at(13.0) == 0.1


def test_csv_single_row_is_constant_even_looped() -> None:
    trace = CsvTrace([3.0], [0.7], loop=True)
    assert first_segments(trace, 0.0, 3) == [(0.0, math.inf, 0.7)]


def test_csv_segments_contiguous_from_any_start() -> None:
    trace = CsvTrace([0.0, 0.1, 0.3, 0.7], [0.2, 0.4, 0.6, 0.8], loop=True)
    for start in [0.0, 0.1, 0.3, 0.7, 0.1 * 3, 0.7 + 0.1, 1.1 * 7, 123.456]:
        assert_contiguous(first_segments(trace, start, 20), start)
