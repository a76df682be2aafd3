"""Tests for leantrain.fleet.trace: the four trace kinds, CSV reading and errors."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from leantrain.config import (
    ConstantTraceConfig,
    CsvTraceConfig,
    MarkovTraceConfig,
    PeriodicTraceConfig,
)
from leantrain.errors import InputError
from leantrain.fleet import (
    AvailabilityTrace,
    ConstantTrace,
    CsvTrace,
    MarkovTrace,
    PeriodicTrace,
    build_trace,
    read_csv_trace,
)
from leantrain.seeding import numpy_rng


def _first(trace: AvailabilityTrace, start: float, n: int) -> list[tuple[float, float, float]]:
    return list(itertools.islice(trace.segments(start), n))


def _assert_contiguous(segments: list[tuple[float, float, float]], start: float) -> None:
    assert segments[0][0] == start
    for (_, end, _), (begin, _, _) in itertools.pairwise(segments):
        assert begin == end
    for begin, end, value in segments:
        assert begin < end
        assert 0.0 < value <= 1.0


# --- constant ----------------------------------------------------------------------------------


def test_constant_trace() -> None:
    trace = ConstantTrace(0.4)
    assert trace.at(0.0) == trace.at(1e9) == 0.4
    assert _first(trace, 3.0, 5) == [(3.0, math.inf, 0.4)]
    with pytest.raises(ValueError):
        ConstantTrace(0.0)
    with pytest.raises(ValueError):
        trace.at(-1.0)


# --- periodic ----------------------------------------------------------------------------------


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
    segments = _first(trace, 0.25, 6)
    _assert_contiguous(segments, 0.25)
    assert segments[0][1] == pytest.approx(0.3)
    assert [end for _, end, _ in segments[1:]] == pytest.approx([0.4, 0.5, 0.6, 0.7, 0.8])
    # A start that is a float-rounded boundary still yields a non-empty first piece.
    _assert_contiguous(_first(trace, 0.1 * 3, 3), 0.1 * 3)


# --- markov ------------------------------------------------------------------------------------

LEVELS = [0.2, 0.6, 1.0]
MATRIX = [[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.3, 0.0, 0.7]]


def test_markov_only_levels_and_changes_at_step_boundaries() -> None:
    trace = MarkovTrace(LEVELS, MATRIX, step_s=5.0, initial=0, seed=0, device_index=0)
    segments = _first(trace, 2.0, 200)
    _assert_contiguous(segments, 2.0)
    assert segments[0][1] == 5.0
    for begin, end, value in segments[1:]:
        assert value in LEVELS
        assert begin % 5.0 == 0.0 and end - begin == 5.0
    assert trace.at(0.0) == 0.2  # the given initial state
    for step in range(100):
        assert trace.at(5.0 * step) == trace.at(5.0 * step + 4.99)


def test_markov_transition_frequencies_match_the_matrix() -> None:
    trace = MarkovTrace(LEVELS, MATRIX, step_s=1.0, initial=None, seed=4, device_index=2)
    steps = 60_000
    states = [trace.state(k) for k in range(steps)]
    counts = np.zeros((3, 3))
    for a, b in itertools.pairwise(states):
        counts[a, b] += 1
    frequencies = counts / counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(frequencies, MATRIX, atol=0.02)
    assert counts[2, 1] == 0  # a zero probability is never taken


def test_markov_deterministic_and_order_independent() -> None:
    def make(device_index: int = 1) -> MarkovTrace:
        return MarkovTrace(LEVELS, MATRIX, 2.0, None, seed=8, device_index=device_index)

    sequential, jumping = make(), make()
    far = jumping.at(2.0 * 5000)  # reaches well past the first chunk before anything else
    values = [sequential.at(2.0 * k) for k in range(5001)]
    assert values[-1] == far
    assert [jumping.at(2.0 * k) for k in range(5001)] == values
    other = make(device_index=2)
    assert [other.at(2.0 * k) for k in range(5001)] != values


def test_markov_initial_none_is_drawn_first_from_the_stream() -> None:
    trace = MarkovTrace(LEVELS, MATRIX, 1.0, None, seed=6, device_index=9)
    assert trace.state(0) == int(numpy_rng(6, "trace", 9).integers(3))


def test_markov_single_level_is_constant() -> None:
    trace = MarkovTrace([0.3], [[1.0]], 1.0, None, seed=0, device_index=0)
    assert _first(trace, 4.0, 3) == [(4.0, math.inf, 0.3)]


@pytest.mark.parametrize(
    ("levels", "matrix", "initial"),
    [([0.5, 1.0], [[1.0]], 0), ([0.5, 1.0], [[0.5, 0.4], [0.0, 1.0]], 0), ([0.5], [[1.0]], 1)],
)
def test_markov_rejects_bad_parameters(
    levels: list[float], matrix: list[list[float]], initial: int
) -> None:
    with pytest.raises(ValueError):
        MarkovTrace(levels, matrix, 1.0, initial, seed=0, device_index=0)


# --- csv trace rules ---------------------------------------------------------------------------


def test_csv_hold_rule() -> None:
    trace = CsvTrace([10.0, 20.0, 25.0], [0.5, 1.0, 0.25])
    assert trace.at(0.0) == 0.5  # before the first row the first value holds
    assert trace.at(10.0) == 0.5
    assert trace.at(19.999) == 0.5
    assert trace.at(20.0) == 1.0
    assert trace.at(25.0) == trace.at(1e12) == 0.25
    segments = _first(trace, 0.0, 10)
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
    segments = _first(trace, 0.0, 7)
    _assert_contiguous(segments, 0.0)
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
    assert _first(trace, 0.0, 3) == [(0.0, math.inf, 0.7)]


def test_csv_segments_contiguous_from_any_start() -> None:
    trace = CsvTrace([0.0, 0.1, 0.3, 0.7], [0.2, 0.4, 0.6, 0.8], loop=True)
    for start in [0.0, 0.1, 0.3, 0.7, 0.1 * 3, 0.7 + 0.1, 1.1 * 7, 123.456]:
        _assert_contiguous(_first(trace, start, 20), start)


# --- csv files ---------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "trace.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_csv_without_device_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "time_s,availability\n0,1.0\n2,0.5\n5,0.25\n")
    trace = read_csv_trace(path, "phone-3", "phone", loop=False)
    assert (trace.times, trace.values) == ((0.0, 2.0, 5.0), (1.0, 0.5, 0.25))


def test_read_csv_per_device_then_per_class(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "device,time_s,availability\n"
        "phone-0,0,0.9\n"
        "phone,0,0.3\n"
        "phone-0,10,0.8\n"
        "phone,10,0.4\n"
        "tablet-1,0,0.5\n",
    )
    own = read_csv_trace(path, "phone-0", "phone", loop=False)
    assert (own.times, own.values) == ((0.0, 10.0), (0.9, 0.8))
    by_class = read_csv_trace(path, "phone-1", "phone", loop=True)
    assert (by_class.times, by_class.values, by_class.loop) == ((0.0, 10.0), (0.3, 0.4), True)
    with pytest.raises(InputError) as caught:
        read_csv_trace(path, "tablet-0", "tablet", loop=False)
    assert caught.value.file == str(path)
    assert caught.value.field == "device"
    assert "no rows for device 'tablet-0'" in caught.value.message


def test_read_csv_tolerates_spaces_bom_blank_lines_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("\ufeff time_s , availability ,note\n0, 0.5 ,x\n\n4,1,y\n", encoding="utf-8")
    trace = read_csv_trace(path, "a-0", "a", loop=False)
    assert (trace.times, trace.values) == ((0.0, 4.0), (0.5, 1.0))


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("", "row 1: header", "empty"),
        ("time_s,availability\n", "row 2: time_s", "no data rows"),
        ("time_s,avail\n0,1\n", "row 1: availability", "missing column"),
        ("availability\n1\n", "row 1: time_s", "missing column"),
        ("time_s,availability,time_s\n0,1,0\n", "row 1: time_s", "duplicate"),
        ("time_s,availability\n0,1\nabc,0.5\n", "row 3: time_s", "not a number"),
        ("time_s,availability\n0,high\n", "row 2: availability", "not a number"),
        ("time_s,availability\n0,1\n1,0\n", "row 3: availability", "outside (0, 1]"),
        ("time_s,availability\n0,1.5\n", "row 2: availability", "outside (0, 1]"),
        ("time_s,availability\n0,nan\n", "row 2: availability", "not a finite number"),
        ("time_s,availability\n-1,0.5\n", "row 2: time_s", "negative"),
        ("time_s,availability\ninf,0.5\n", "row 2: time_s", "not a finite number"),
        ("time_s,availability\n0,1\n5,1\n5,0.5\n", "row 4: time_s", "does not increase"),
        ("time_s,availability\n0,1\n5,1\n3,0.5\n", "row 4: time_s", "does not increase"),
        ("time_s,availability\n0,1\n\n\n7\n", "row 5: availability", "missing value"),
        ("time_s,availability\n0,1\n8,\n", "row 3: availability", "missing value"),
        ("device,time_s,availability\n,0,1\n", "row 2: device", "missing value"),
        ("device,time_s,availability\na-0,0,1\nb-0,0,1\na-0,0,1\n", "row 4: time_s", "increase"),
    ],
)
def test_read_csv_bad_rows(tmp_path: Path, text: str, field: str, fragment: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_csv_trace(path, "a-0", "a", loop=False)
    error = caught.value
    assert (error.file, error.field) == (str(path), field)
    assert fragment in error.message
    assert error.line().startswith(f"{path}: {field}: ")


def test_read_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_csv_trace(tmp_path / "absent.csv", "a-0", "a", loop=False)
    assert caught.value.file == str(tmp_path / "absent.csv")


# --- build_trace -------------------------------------------------------------------------------


def test_build_trace_dispatches_on_config_kind(tmp_path: Path) -> None:
    path = _write(tmp_path, "time_s,availability\n0,0.5\n1,1\n")
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
