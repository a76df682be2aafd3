"""A recorded availability trace replayed as a step function (docs/world-model.md, 'Availability
traces').

Row ``i`` holds its value on ``[time_i, time_{i+1})``; before the first row the first value holds.
After the last row the last value holds forever, or, with ``loop``, the block of rows repeats with
period ``times[-1] - times[0] + median step``: the last row lasts as long as a typical step between
rows (for a regularly sampled trace, exactly one step). The rows come from a CSV file
(:mod:`leantrain.fleet.trace_file`).
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Iterator, Sequence

from leantrain.fleet.trace import (
    AvailabilityTrace,
    Segment,
    cell_index,
    chain_segments,
    check_fraction,
    check_time,
)

__all__ = ["CsvTrace"]


class CsvTrace(AvailabilityTrace):
    """A step function replayed from (time, availability) rows.

    ``values[i]`` holds on ``[times[i], times[i+1])`` and the first value also before
    ``times[0]``. After the last row the last value holds forever; with ``loop`` the rows repeat
    instead, with period ``times[-1] - times[0] + median(step)`` where the steps are the gaps
    between consecutive times (so the last row lasts one median step). A single row is constant.

    Args:
        times: Strictly increasing, finite, non-negative times in seconds.
        values: Availability from each time on, each in (0, 1].
        loop: Repeat the rows instead of holding the last value.
    """

    def __init__(self, times: Sequence[float], values: Sequence[float], loop: bool = False) -> None:
        if len(times) == 0 or len(times) != len(values):
            raise ValueError("times and values must be non-empty and of equal length")
        for t in times:
            check_time(t)
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError("times must be strictly increasing")
        for value in values:
            check_fraction("every availability", value)
        self.times = tuple(float(t) for t in times)
        self.values = tuple(float(v) for v in values)
        self.loop = loop
        steps = [b - a for a, b in itertools.pairwise(self.times)]
        # Offsets of each row from the first, closed by the period, for one cycle of the loop.
        self.period_s = self.times[-1] - self.times[0] + statistics.median(steps) if steps else 0.0
        self._offsets = (*(t - self.times[0] for t in self.times), self.period_s)

    def segments(self, start: float) -> Iterator[Segment]:
        check_time(start)
        return chain_segments(start, self._pieces(start))

    def _pieces(self, start: float) -> Iterator[tuple[float, float]]:
        times, values = self.times, self.values
        if len(times) == 1:
            yield math.inf, values[0]
            return
        # Before the first row the first value holds, so such a start is read as row 0.
        start = max(start, times[0])
        if not self.loop:
            i = bisect.bisect_right(times, start) - 1
            for j in range(i, len(times) - 1):
                yield times[j + 1], values[j]
            yield math.inf, values[-1]
            return
        origin, offsets, n = times[0], self._offsets, len(times)
        cycle = cell_index(start, origin, self.period_s)
        base = origin + cycle * self.period_s
        # Start one row early: rounding in start - base may overshoot by a row, never undershoot
        # by two, and chain_segments drops a row that ends before start.
        i = min(max(bisect.bisect_right(offsets, start - base) - 2, 0), n - 1)
        while True:
            for j in range(i, n):
                yield base + offsets[j + 1], values[j]
            cycle += 1
            base = origin + cycle * self.period_s
            i = 0

    def __repr__(self) -> str:
        return f"CsvTrace({len(self.times)} rows, loop={self.loop})"
