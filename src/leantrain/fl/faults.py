"""Injected device faults, drawn per (round, device) from the run's seed."""

from __future__ import annotations

from leantrain.config import FaultConfig
from leantrain.seeding import numpy_rng

__all__ = ["draw_fault"]


def draw_fault(config: FaultConfig, seed: int, round_index: int, device_index: int) -> str | None:
    """The fault injected into this device's update this round, or None.

    The draw depends only on (seed, round, device), so the same updates are faulty whatever the
    order in which clients run or which strategy runs.
    """
    if config.rate <= 0.0:
        return None
    rng = numpy_rng(seed, "fault", round_index, device_index)
    if rng.random() >= config.rate:
        return None
    return config.kinds[int(rng.integers(len(config.kinds)))]
