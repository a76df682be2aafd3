"""The constant availability trace (docs/world-model.md, 'Availability traces')."""

from __future__ import annotations

import math
from collections.abc import Iterator

from leantrain.fleet.trace import AvailabilityTrace, Segment, check_fraction, check_time

__all__ = ["ConstantTrace"]


class ConstantTrace(AvailabilityTrace):
    """a(t) = ``availability`` at all times.

    Args:
        availability: The constant value, in (0, 1].
    """

    def __init__(self, availability: float = 1.0) -> None:
        check_fraction("availability", availability)
        self.availability = float(availability)

    def segments(self, start: float) -> Iterator[Segment]:
        check_time(start)
        return iter([(start, math.inf, self.availability)])

    def __repr__(self) -> str:
        return f"ConstantTrace({self.availability})"
