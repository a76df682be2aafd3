"""Tests of leantrain.distreal.hypervolume: the area a front dominates."""

from __future__ import annotations

import math

from leantrain.distreal.front import Front, FrontPoint, ModelIdentity
from leantrain.distreal.hypervolume import hypervolume


def test_dominated_and_outside_points_add_nothing() -> None:
    staircase = [FrontPoint(0.25, 0.5, (0.75,)), FrontPoint(0.5, 0.75, (0.5,))]
    extra = [
        FrontPoint(0.5, 0.5, (0.5,)),  # dominated
        FrontPoint(1.0, 0.9, (0.0,)),  # on the reference cost: outside
        FrontPoint(0.1, math.nan, (0.9,)),  # not measured
        FrontPoint(0.2, -0.1, (0.8,)),  # below the reference quality
    ]
    # (0.5 - 0.25) * 0.5 + (1 - 0.5) * 0.75; binary fractions, so the sum is exact.
    assert hypervolume(staircase + extra) == hypervolume(staircase) == 0.5


def test_a_front_counts_its_points_only() -> None:
    identity = ModelIdentity("m", (1, 2, 2), 2, ("g",), (4,))
    front = Front(
        identity,
        (FrontPoint(0.5, 0.5, (0.5,)), FrontPoint(1.0, 0.75, (0.0,))),
        evaluated=(FrontPoint(0.25, 0.75, (0.75,)),),
    )
    assert hypervolume(front) == 0.25
    assert hypervolume(front, reference=(1.0, 0.25)) == 0.125  # 0.5 * 0.25, exact in binary
