"""The certified lower bound of :mod:`leantrain.pact.lagrange` and the clone instances.

* the per-level rates never exceed the least (E + λτ + μ)/D, τ/D and 1/D of any node/fraction set
  (brute force over every set), and equal the brute force when every cap is its own group;
* the bound never exceeds the optimum (``exact``) and is not trivially low;
* k copies of an instance: the original plan run on every copy costs k times as much with the same
  losses, so k·OPT bounds the clone's optimum and its lower bound from above;
* the plan JSON carries ``lower_bound_j`` and the certified gap follows from it.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest

from leantrain.pact import Decision, Plan, Problem, decisions_of, evaluate, lagrange, read_plan
from leantrain.pact.exact import ExactSolver, level_sets
from leantrain.pact.instances import cloned, random_problem
from leantrain.pact.knapsack import level_items
from leantrain.pact.lagrange import certificate, certified_gap, certify, level_rates, lower_bound

#: Relative slack for comparing a bound with the figure it bounds: both are sums of the same
#: float64 terms in different orders, which differ in the last bits only.
REL = 1e-9


@functools.cache
def small(seed: int) -> Problem:
    """3-4 nodes, 2-3 levels, fractions {0.5, 1}: exact solves these in well under a second."""
    return random_problem(seed, nodes=3 + seed % 2, levels=2 + seed % 2, fractions=2, epochs=(2, 4))


@functools.cache
def optimum(seed: int) -> Plan:
    return ExactSolver().solve(small(seed))


MULTIPLIERS = [(0.0, 0.0), (0.3, 0.0), (0.0, 2.0), (5.0, 0.7), (100.0, 50.0)]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("spread", [lagrange.CAP_SPREAD, 0.0])
def test_level_rates_bound_every_set_and_are_exact_per_cap(
    seed: int, spread: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lagrange, "CAP_SPREAD", spread)
    problem = small(seed)
    lambdas = np.array([m[0] for m in MULTIPLIERS])
    mus = np.array([m[1] for m in MULTIPLIERS])
    deadline = problem.target.deadline_s
    for level in range(len(problem.levels)):
        sets = level_sets(problem, level)  # the undominated sets: the minima are among them
        fits = sets.time <= deadline
        if not fits.any():
            continue
        t, d, e = sets.time[fits], sets.samples[fits], sets.energy[fits]
        brute = ((e[None, :] + lambdas[:, None] * t[None, :] + mus[:, None]) / d[None, :]).min(1)
        rates = level_rates(level_items(problem, level), deadline, lambdas, mus)
        assert (rates.cost <= brute * (1.0 + REL)).all()
        assert rates.pace <= float((t / d).min()) * (1.0 + REL)
        assert rates.count <= float((1.0 / d).min()) * (1.0 + REL)
        if spread == 0.0:  # one cap per group: the prefix argument gives the exact minimum
            np.testing.assert_allclose(rates.cost, brute, rtol=REL)


@pytest.mark.parametrize("seed", range(6))
def test_the_bound_never_exceeds_the_optimum(seed: int) -> None:
    plan = optimum(seed)
    bound = lower_bound(small(seed))
    if not plan.feasible:
        assert bound >= 0.0  # nothing to bound; inf is allowed (the relaxation is infeasible)
        return
    assert bound <= plan.energy_j * (1.0 + REL)
    # Not trivially low: on these six instances bound / optimum is 0.75-0.97; over the quality
    # benchmark's families it averages 0.87-0.95 and falls to 0.36 at worst (few epochs and a
    # tight deadline, where the relaxation's fractional epochs are far from whole ones), so half
    # the optimum here means a broken bound, not a loose one.
    assert bound >= 0.5 * plan.energy_j


def test_some_small_instances_are_feasible() -> None:
    assert sum(optimum(seed).feasible for seed in range(6)) >= 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clones_are_bounded_by_copies_of_the_optimum(seed: int) -> None:
    problem, plan = small(seed), optimum(seed)
    if not plan.feasible:
        pytest.skip("infeasible instance: nothing to clone")  # seeds 0-2 are feasible (above)
    copies = 7
    clone = cloned(problem, copies)
    assert len(clone.node) == copies * len(problem.node)
    replicated = [
        Decision(d.level, {f"{n}-{k}": f for n, f in d.fractions.items() for k in range(copies)})
        for d in decisions_of(problem, plan)
    ]
    again = evaluate(clone, replicated, solver="clone")
    assert again.feasible
    # Same times and losses, k times the energy, up to summation order.
    assert again.energy_j == pytest.approx(copies * plan.energy_j, rel=REL)
    assert again.final_loss == pytest.approx(plan.final_loss, rel=REL)
    assert again.duration_s == pytest.approx(plan.duration_s, rel=REL)
    assert lower_bound(clone) <= copies * plan.energy_j * (1.0 + REL)


def test_cloned_rejects_no_copies() -> None:
    with pytest.raises(ValueError, match="copies"):
        cloned(small(0), 0)


def test_plans_carry_their_bound_and_the_certified_gap(tmp_path: Path) -> None:
    problem, plan = small(1), optimum(1)
    assert plan.feasible and plan.lower_bound_j is None and certified_gap(plan) is None
    certified = certify(problem, plan)
    assert certified.lower_bound_j == lower_bound(problem)
    gap = certified_gap(certified)
    assert gap is not None and 0.0 <= gap < 1.0
    assert gap == pytest.approx(certified.energy_j / certified.lower_bound_j - 1.0, rel=REL)
    path = certified.save(tmp_path / "plan.json")
    again = read_plan(path)
    assert again.lower_bound_j == certified.lower_bound_j
    assert "lower_bound_j" not in plan.to_json()  # plans without a bound stay as they were
    infeasible = evaluate(problem, [], solver="none")
    assert certify(problem, infeasible) is infeasible
    assert math.isinf(lower_bound(problem.with_target(deadline_s=1e-9)))


def test_leantrain_plan_writes_the_bound_and_states_the_gap(tmp_path: Path) -> None:
    from leantrain import workflows

    root = Path(__file__).resolve().parents[2]
    outcome = workflows.plan(root / "examples/pact/small.toml", out=tmp_path / "plan.json")
    written = read_plan(outcome.path)
    assert written.lower_bound_j is not None
    assert 0.0 < written.lower_bound_j <= written.energy_j
    line = certificate(written)
    gap = certified_gap(written)
    assert gap is not None and f"at most {gap:.2%} above the optimum" in line
