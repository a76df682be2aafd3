"""The periodic availability trace: a value redrawn every period (docs/world-model.md,
'Availability traces').

Random traces are keyed by (seed, device index, period), so a trace never depends on the order
in which it is queried or on what else ran.
"""

from __future__ import annotations

import math

from leantrain.fleet.trace import SteppedTrace, check_fraction
from leantrain.seeding import numpy_rng

__all__ = ["PeriodicTrace"]


class PeriodicTrace(SteppedTrace):
    """a(t) redrawn uniformly from [``low``, ``high``] every ``period_s`` simulated seconds.

    The value on period k, ``[k*period_s, (k+1)*period_s)``, comes from its own stream
    ``numpy_rng(seed, "trace", device_index, k)``, so any period can be read in any order.

    Args:
        period_s: Length of one period in simulated seconds.
        low: Smallest value, in (0, 1].
        high: Largest value, in [low, 1].
        seed: The config's seed.
        device_index: The device's index in the fleet.
    """

    def __init__(
        self, period_s: float, low: float, high: float, seed: int, device_index: int
    ) -> None:
        if not (math.isfinite(period_s) and period_s > 0.0):
            raise ValueError(f"period_s must be positive and finite, got {period_s}")
        check_fraction("low", low)
        check_fraction("high", high)
        if low > high:
            raise ValueError(f"low ({low}) must not exceed high ({high})")
        self.period_s = float(period_s)
        self.low = float(low)
        self.high = float(high)
        self.seed = seed
        self.device_index = device_index
        self._values: dict[int, float] = {}

    def value(self, period: int) -> float:
        """The availability during period ``period`` (0-based)."""
        cached = self._values.get(period)
        if cached is None:
            rng = numpy_rng(self.seed, "trace", self.device_index, period)
            # uniform() is half-open; the clamp only guards rounding when low is close to high.
            cached = min(self.high, max(self.low, float(rng.uniform(self.low, self.high))))
            self._values[period] = cached
        return cached

    @property
    def step_width_s(self) -> float:
        return self.period_s

    def step_value(self, step: int) -> float:
        return self.value(step)

    def __repr__(self) -> str:
        return (
            f"PeriodicTrace(period_s={self.period_s}, low={self.low}, high={self.high}, "
            f"seed={self.seed}, device_index={self.device_index})"
        )
