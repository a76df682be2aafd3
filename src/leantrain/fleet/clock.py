"""The exact simulated clock: FLOPs integrated against a device's speed s(t) = flops · a(t).

Work that spans a change of availability is split exactly: the clock walks the trace's segments,
takes each whole segment's work, and solves for the finish time inside the last one, so the result
is exact up to float rounding, however many changes the work spans
(docs/world-model.md, 'The simulated clock').
"""

from __future__ import annotations

import math

from leantrain.fleet.trace import AvailabilityTrace

__all__ = ["compute_time", "finish_time", "work_between"]


def _check(flops: float, start: float) -> None:
    if not (math.isfinite(flops) and flops > 0.0):
        raise ValueError(f"flops must be positive and finite, got {flops}")
    if not (math.isfinite(start) and start >= 0.0):
        raise ValueError(f"start must be finite and >= 0, got {start}")


def finish_time(trace: AvailabilityTrace, flops: float, start: float, work: float) -> float:
    """The earliest t >= ``start`` with ∫_start^t flops·a(u) du = ``work``.

    Args:
        trace: The device's availability a(t).
        flops: The device's FLOP/s at a(t) = 1.
        start: When the work starts, in simulated seconds.
        work: FLOPs to do, >= 0.

    Raises:
        ValueError: ``flops`` is not positive, ``start`` is negative, or ``work`` is negative or
            not finite.
    """
    _check(flops, start)
    if not (math.isfinite(work) and work >= 0.0):
        raise ValueError(f"work must be finite and >= 0, got {work}")
    if work == 0.0:
        return start
    remaining = work
    # Terminates: a(t) > 0 everywhere, so every segment takes a positive bite out of the work.
    for begin, end, availability in trace.segments(start):
        rate = flops * availability
        if end == math.inf:
            return begin + remaining / rate
        piece = rate * (end - begin)
        if remaining <= piece:
            # Rounding must not push the finish past the segment that holds it.
            return min(begin + remaining / rate, end)
        remaining -= piece
    raise AssertionError("availability traces cover [start, inf)")  # pragma: no cover


def work_between(trace: AvailabilityTrace, flops: float, start: float, end: float) -> float:
    """The FLOPs ∫_start^end flops·a(u) du a device does between two times.

    Args:
        trace: The device's availability a(t).
        flops: The device's FLOP/s at a(t) = 1.
        start: Begin of the interval, in simulated seconds.
        end: End of the interval, >= ``start``; ``math.inf`` gives ``math.inf``.

    Raises:
        ValueError: ``flops`` is not positive, ``start`` is negative, or ``end < start``.
    """
    _check(flops, start)
    if not end >= start:
        raise ValueError(f"end ({end}) must not precede start ({start})")
    if end == start:
        return 0.0
    if end == math.inf:
        return math.inf  # a(t) is bounded away from 0 on every trace, so the integral diverges
    pieces: list[float] = []
    for begin, segment_end, availability in trace.segments(start):
        pieces.append(flops * availability * (min(segment_end, end) - begin))
        if segment_end >= end:
            break
    return math.fsum(pieces)


def compute_time(trace: AvailabilityTrace, flops: float, start: float, work: float) -> float:
    """Simulated seconds ``work`` FLOPs started at ``start`` take: ``finish_time - start``."""
    return finish_time(trace, flops, start, work) - start
