"""The pact_predictor benchmark's bound on the mean error from the seeds' spread."""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import pytest
from benchmarks.pact_predictor import config, parse_seeds, seed_floor, subset_seed


def _run(seed: int, realised: list[float], predicted: list[float]) -> dict[str, Any]:
    rows = [[0.0, 1, p, x, 1.0] for p, x in zip(predicted, realised, strict=True)]
    errors = [abs(p - x) / x for p, x in zip(predicted, realised, strict=True)]
    return {
        "fleet": "tiered",
        "target_epochs": 4,
        "seed": seed,
        "mode": "as planned",
        "per_epoch": rows,
        "mean_rel": statistics.fmean(errors),
    }


def test_seed_floor_is_the_least_mean_error_over_both_seeds() -> None:
    x0, x1 = [1.0, 0.5, 0.25], [0.8, 0.5, 0.5]
    # |x0 - x1| / (2 max): 0.2/2, 0, 0.25/1 -> mean 0.35/3.
    floor = seed_floor([_run(0, x0, x0), _run(1, x1, x0)])
    assert floor is not None
    assert floor[1] == 1
    assert floor[0] == pytest.approx(0.35 / 3, rel=1e-12)  # float64 sums in another order
    # No prediction does better on average over the two seeds (1e-15: rounding of the means)...
    for predicted in ([1.0, 0.5, 0.5], [0.9, 0.5, 0.3], [0.8, 0.4, 0.25]):
        runs = [_run(0, x0, predicted), _run(1, x1, predicted)]
        assert statistics.fmean(r["mean_rel"] for r in runs) >= floor[0] - 1e-15
    # ... and predicting the smaller loss of each epoch reaches the bound.
    best = [min(a, b) for a, b in zip(x0, x1, strict=True)]
    runs = [_run(0, x0, best), _run(1, x1, best)]
    assert statistics.fmean(r["mean_rel"] for r in runs) == pytest.approx(floor[0], rel=1e-12)


def test_seed_floor_with_three_seeds_is_least_at_one_of_their_losses() -> None:
    xs = [[1.0], [0.5], [0.25]]
    floor = seed_floor([_run(seed, x, x) for seed, x in enumerate(xs)])
    assert floor is not None
    # At p = 1: (0 + 1 + 3) / 3; at 0.5: (0.5 + 0 + 1) / 3 = 0.5; at 0.25: (0.75 + 0.5 + 0) / 3
    # = 0.417, the least.
    assert floor[0] == pytest.approx((0.75 + 0.5) / 3, rel=1e-12)
    grid = [0.2 + 0.01 * i for i in range(90)]
    errors = [sum(abs(p - x[0]) / x[0] for x in xs) / 3 for p in grid]
    assert min(errors) >= floor[0] - 1e-15


def test_seed_floor_needs_a_plan_run_at_two_seeds() -> None:
    assert seed_floor([_run(0, [1.0], [1.0])]) is None
    replanned = {**_run(1, [0.9], [1.0]), "mode": "re-planned"}
    assert seed_floor([_run(0, [1.0], [1.0]), replanned]) is None


def test_seeds_option_reads_distinct_non_negative_seeds() -> None:
    assert parse_seeds("2,3") == (2, 3)
    for bad in ("2,x", "2,2", "-1", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_seeds(bad)


def test_same_data_variants_fix_the_subsets_of_every_seed() -> None:
    assert subset_seed("") is None
    assert subset_seed("same-data") == 0
    a, b = config("tiered", 0, True, subset_seed("same-data")), config("tiered", 1, True, 0)
    assert a.data.subset_seed == b.data.subset_seed == 0 and a.seed != b.seed
