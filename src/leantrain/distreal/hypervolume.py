"""The hypervolume of a front: one number for how good a set of (R, Q) trade-offs is."""

from __future__ import annotations

import math
from collections.abc import Iterable

from leantrain.distreal.front import Front, FrontPoint, non_dominated

__all__ = ["hypervolume"]


def hypervolume(
    points: Front | Iterable[FrontPoint], reference: tuple[float, float] = (1.0, 0.0)
) -> float:
    """The area dominated by ``points`` in the (R minimised, Q maximised) plane.

    Exact 2-D sweep over the non-dominated points that beat the reference point in both
    objectives; the area is bounded by R ≤ ``reference[0]`` and Q ≥ ``reference[1]``.

    Args:
        points: A front (its :attr:`Front.points`) or any points.
        reference: The reference (R, Q); the default (1, 0) is the full model's cost and chance
            level zero.
    """
    cost_ref, quality_ref = reference
    candidates = points.points if isinstance(points, Front) else tuple(points)
    inside = [
        p
        for p in candidates
        if p.cost < cost_ref and p.quality > quality_ref and not math.isnan(p.quality)
    ]
    front = non_dominated(inside)
    area = 0.0
    for index, point in enumerate(front):
        right = front[index + 1].cost if index + 1 < len(front) else cost_ref
        area += (right - point.cost) * (point.quality - quality_ref)
    return area
