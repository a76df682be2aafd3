"""Availability traces a(t): the fraction of a device's compute it can give to training.

Every trace is piecewise constant in simulated time t >= 0 with values in (0, 1], and exposes its
pieces through :meth:`AvailabilityTrace.segments`, which the exact clock in
:mod:`leantrain.fleet.clock` walks (docs/world-model.md, 'Availability traces'). The kinds live
in their own modules: :mod:`~leantrain.fleet.constant_trace`,
:mod:`~leantrain.fleet.periodic_trace` and :mod:`~leantrain.fleet.markov_trace` (both
:class:`SteppedTrace`: one value per fixed-width step) and
:mod:`~leantrain.fleet.replay_trace` (rows replayed from a CSV file,
:mod:`~leantrain.fleet.trace_file`); :mod:`~leantrain.fleet.trace_builder` builds one from config.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

__all__ = [
    "AvailabilityTrace",
    "Segment",
    "SteppedTrace",
    "cell_index",
    "chain_segments",
    "check_fraction",
    "check_time",
]

Segment = tuple[float, float, float]
"""One piece of a trace: ``(begin, end, availability)``; ``end`` may be ``math.inf``."""


def check_time(t: float) -> None:
    """Raise ValueError unless ``t`` is a finite simulated time >= 0."""
    if not (math.isfinite(t) and t >= 0.0):
        raise ValueError(f"simulated time must be finite and >= 0, got {t}")


def check_fraction(name: str, value: float) -> None:
    """Raise ValueError unless ``value`` (called ``name``) is in (0, 1]."""
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value}")


def cell_index(t: float, origin: float, width: float) -> int:
    """The k >= 0 with ``origin + k*width <= t < origin + (k+1)*width`` in float arithmetic.

    The division alone can be off by one near a boundary; the fix-ups make every caller agree with
    the boundaries it later computes as ``origin + k*width``.
    """
    k = max(0, math.floor((t - origin) / width))
    while k > 0 and origin + k * width > t:
        k -= 1
    while origin + (k + 1) * width <= t:
        k += 1
    return k


def chain_segments(start: float, pieces: Iterable[tuple[float, float]]) -> Iterator[Segment]:
    """Turn ``(end, value)`` pieces into contiguous segments that begin at ``start``.

    Each segment begins where the previous one ended, so rounding in how a trace computes its
    boundaries can never open a gap or an overlap; pieces that rounding made empty are skipped.
    """
    begin = start
    for end, value in pieces:
        if end > begin:
            yield begin, end, value
            begin = end


class AvailabilityTrace(ABC):
    """a(t) in (0, 1], piecewise constant in simulated time t >= 0."""

    @abstractmethod
    def segments(self, start: float) -> Iterator[Segment]:
        """Yield consecutive ``(begin, end, availability)`` pieces covering ``[start, inf)``.

        The first piece begins at ``start``, each next one where the previous ended, and every
        piece is non-empty; ``end`` may be ``math.inf`` (then it is the last piece).

        Raises:
            ValueError: ``start`` is negative or not finite.
        """

    def at(self, t: float) -> float:
        """The availability a(t) at simulated time ``t``."""
        return next(iter(self.segments(t)))[2]


class SteppedTrace(AvailabilityTrace):
    """a(t) constant on every step ``[k*width, (k+1)*width)``, k = 0, 1, ...: a value per step."""

    @property
    @abstractmethod
    def step_width_s(self) -> float:
        """The steps' width in simulated seconds."""

    @abstractmethod
    def step_value(self, step: int) -> float:
        """The availability during step ``step`` (0-based)."""

    def segments(self, start: float) -> Iterator[Segment]:
        check_time(start)
        width = self.step_width_s
        first = cell_index(start, 0.0, width)
        pieces = (((step + 1) * width, self.step_value(step)) for step in itertools.count(first))
        return chain_segments(start, pieces)
