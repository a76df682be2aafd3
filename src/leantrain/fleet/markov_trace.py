"""The Markov availability trace: a chain over levels (docs/world-model.md, 'Availability
traces').

The state sequence comes from one seeded stream per device, so a trace never depends on the order
in which it is queried or on what else ran.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from leantrain.fleet.trace import Segment, SteppedTrace, check_fraction, check_time
from leantrain.seeding import numpy_rng

__all__ = ["MarkovTrace"]

# States of a Markov trace are drawn this many at a time; a fixed chunk keeps the stream identical
# however far ahead a query reaches.
_MARKOV_CHUNK = 1024


class MarkovTrace(SteppedTrace):
    """a(t) follows a Markov chain over ``levels``, one transition every ``step_s`` seconds.

    Step k covers ``[k*step_s, (k+1)*step_s)``. The state sequence is drawn sequentially from
    ``numpy_rng(seed, "trace", device_index)``: first the initial state when ``initial`` is None
    (uniform over the levels), then one uniform number per transition. It is extended lazily, in
    fixed-size chunks, and cached, so it does not depend on the order of queries.

    Args:
        levels: The availability of each state, each in (0, 1].
        transition: Row-stochastic matrix; row i gives the next-state probabilities from state i.
        step_s: Simulated seconds between transitions.
        initial: Index of the state at t = 0; None draws it.
        seed: The config's seed.
        device_index: The device's index in the fleet.
    """

    def __init__(
        self,
        levels: Sequence[float],
        transition: Sequence[Sequence[float]],
        step_s: float,
        initial: int | None,
        seed: int,
        device_index: int,
    ) -> None:
        n = len(levels)
        if n == 0:
            raise ValueError("levels must not be empty")
        for level in levels:
            check_fraction("every level", level)
        matrix = np.asarray(transition, dtype=np.float64)
        if matrix.shape != (n, n):
            raise ValueError(f"transition must be a {n}x{n} matrix")
        if (matrix < 0).any() or not np.allclose(matrix.sum(axis=1), 1.0, rtol=0.0, atol=1e-9):
            raise ValueError("transition rows must be non-negative and sum to 1")
        if not (math.isfinite(step_s) and step_s > 0.0):
            raise ValueError(f"step_s must be positive and finite, got {step_s}")
        if initial is not None and not 0 <= initial < n:
            raise ValueError(f"initial must be in [0, {n}), got {initial}")
        self.levels = tuple(float(level) for level in levels)
        self.transition = tuple(tuple(float(p) for p in row) for row in matrix)
        self.step_s = float(step_s)
        self.initial = initial
        self.seed = seed
        self.device_index = device_index
        cumulative = np.cumsum(matrix, axis=1)
        cumulative[:, -1] = 1.0  # rows sum to 1 up to rounding; u < 1 must always land in a state
        self._cumulative = cumulative
        self._rng = numpy_rng(seed, "trace", device_index)
        first = int(self._rng.integers(n)) if initial is None else initial
        self._states: list[int] = [first]

    def state(self, step: int) -> int:
        """The state index during step ``step`` (0-based)."""
        last = len(self.levels) - 1
        while step >= len(self._states):
            uniforms = self._rng.random(_MARKOV_CHUNK)
            # next_state[i][j]: the state after state i given the j-th uniform, for all i at once;
            # only the walk through it is sequential.
            next_state = [
                np.minimum(np.searchsorted(row, uniforms, side="right"), last).tolist()
                for row in self._cumulative
            ]
            current = self._states[-1]
            for j in range(_MARKOV_CHUNK):
                current = next_state[current][j]
                self._states.append(current)
        return self._states[step]

    @property
    def step_width_s(self) -> float:
        return self.step_s

    def step_value(self, step: int) -> float:
        return self.levels[self.state(step)]

    def segments(self, start: float) -> Iterator[Segment]:
        if len(self.levels) == 1:  # one state: one endless segment
            check_time(start)
            return iter([(start, math.inf, self.levels[0])])
        return super().segments(start)

    def __repr__(self) -> str:
        return (
            f"MarkovTrace(levels={list(self.levels)}, step_s={self.step_s}, "
            f"initial={self.initial}, seed={self.seed}, device_index={self.device_index})"
        )
