"""Tests for leantrain.fleet.markov_trace: the Markov chain over availability levels."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from trace_cases import LEVELS, MATRIX, assert_contiguous, first_segments

from leantrain.fleet import MarkovTrace
from leantrain.seeding import numpy_rng


def test_markov_only_levels_and_changes_at_step_boundaries() -> None:
    trace = MarkovTrace(LEVELS, MATRIX, step_s=5.0, initial=0, seed=0, device_index=0)
    segments = first_segments(trace, 2.0, 200)
    assert_contiguous(segments, 2.0)
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
    assert first_segments(trace, 4.0, 3) == [(4.0, math.inf, 0.3)]


@pytest.mark.parametrize(
    ("levels", "matrix", "initial"),
    [([0.5, 1.0], [[1.0]], 0), ([0.5, 1.0], [[0.5, 0.4], [0.0, 1.0]], 0), ([0.5], [[1.0]], 1)],
)
def test_markov_rejects_bad_parameters(
    levels: list[float], matrix: list[list[float]], initial: int
) -> None:
    with pytest.raises(ValueError):
        MarkovTrace(levels, matrix, 1.0, initial, seed=0, device_index=0)
