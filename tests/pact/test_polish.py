"""Pair exchanges over the knapsack tables (leantrain.pact.polish)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from leantrain.pact.graph import epoch_options, shortest_plan
from leantrain.pact.instances import random_problem
from leantrain.pact.plan import evaluate
from leantrain.pact.polish import Menu, polish


def _menu(seed: int) -> Menu:
    problem = random_problem(seed, nodes=6, levels=2, fractions=3)
    return Menu.of(problem, 0, epoch_options(problem, 0, 0.2).covers)


def _brute_pair(menu: Menu, budget: float, progress: float) -> float:
    """The cheapest pair by enumeration, the second entry counting its cap as its time."""
    best = np.inf
    cells = [(c, m) for c, m in zip(*np.nonzero(np.isfinite(menu.energy)), strict=True)]
    for (ca, ma), (cb, mb) in itertools.product(cells, cells):
        fits = menu.time[ca, ma] + menu.caps[cb] <= budget * (1.0 + 1e-12)
        makes = menu.progress[ca, ma] + menu.progress[cb, mb] >= progress
        if fits and makes:
            best = min(best, menu.energy[ca, ma] + menu.energy[cb, mb])
    return float(best)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_pair_is_the_cheapest_pair(seed: int) -> None:
    menu = _menu(seed)
    rng = np.random.default_rng(seed)
    finite = np.isfinite(menu.energy)
    span_t = float(menu.caps.max())
    span_p = float(menu.progress[finite].max())
    checked = 0
    for _ in range(25):
        budget = float(rng.uniform(0.2, 2.0) * span_t)
        progress = float(rng.uniform(0.1, 2.0) * span_p)
        expected = _brute_pair(menu, budget, progress)
        found = menu.best_pair(budget, progress, np.inf)
        if not np.isfinite(expected):
            assert found is None
            continue
        assert found is not None
        (ca, ma), (cb, mb) = found
        assert menu.time[ca, ma] + menu.caps[cb] <= budget * (1.0 + 1e-12)
        assert menu.progress[ca, ma] + menu.progress[cb, mb] >= progress
        # Sums of the same float64 table entries: equal up to the order of one addition.
        assert menu.energy[ca, ma] + menu.energy[cb, mb] == pytest.approx(expected, rel=1e-12)
        checked += 1
    assert checked >= 10


def test_best_pair_refuses_what_saves_nothing() -> None:
    menu = _menu(0)
    budget, progress = float(2 * menu.caps.max()), float(np.nanmin(menu.progress))
    cheapest = _brute_pair(menu, budget, progress)
    assert menu.best_pair(budget, progress, cheapest) is None
    assert menu.best_pair(budget, progress, cheapest * 1.01) is not None


def test_polish_keeps_time_and_progress_and_saves_energy() -> None:
    menu = _menu(1)
    finite = np.argwhere(np.isfinite(menu.energy))
    # A run of four epochs on the dearest entries per unit of progress: room to save.
    ratio = menu.energy[np.isfinite(menu.energy)] / menu.progress[np.isfinite(menu.energy)]
    worst = [tuple(int(v) for v in finite[k]) for k in np.argsort(ratio)[-4:]]
    slack = 2.0  # seconds: room for a longer, more efficient cap
    before = [(c, m) for c, m in worst]
    after = polish([0, 0, 0, 0], before, [menu], slack)

    def total(cells: list[tuple[int, int]], table: np.ndarray) -> float:
        return float(sum(table[c, m] for c, m in cells))

    assert total(after, menu.energy) < total(before, menu.energy)
    assert total(after, menu.progress) >= total(before, menu.progress)
    assert total(after, menu.time) <= total(before, menu.time) + slack + 1e-9


def test_polish_leaves_runs_of_one_and_other_levels_alone() -> None:
    menu = _menu(1)
    cells = [(0, 0), (1, 1), (0, 0)]
    # Levels 0, 1, 0: no two consecutive epochs share a level, so nothing may change.
    assert polish([0, 1, 0], cells, [menu, menu], 10.0) == cells


def test_polished_search_is_never_worse_and_sometimes_better() -> None:
    gains = 0
    for seed in range(6):
        problem = random_problem(seed, nodes=40, levels=3, fractions=3, slack=(0.4, 0.9))
        plain = shortest_plan(problem, 0.02, polish=False)
        polished = shortest_plan(problem, 0.02, polish=True)
        if plain.decisions is None:
            assert polished.decisions is None
            continue
        assert polished.decisions is not None
        plan = evaluate(problem, polished.decisions, solver="pact")
        assert plan.feasible
        assert plan.energy_j == polished.energy
        assert polished.energy <= plain.energy
        gains += polished.energy < plain.energy * (1.0 - 1e-6)
    assert gains >= 1
