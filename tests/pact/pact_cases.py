"""Problems for the PACT tests: a hand-computable one, a seeded random generator, an
independent recomputation of a plan's figures straight from the formulas of docs/pact.md,
'The model', and a plain enumeration of every plan of a tiny problem."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import numpy as np

from leantrain.pact import Decision, Plan, Problem, evaluate, parse_problem
from leantrain.pact.plan import check_decision, effective_samples, epoch_energy, epoch_time
from leantrain.pact.predictor import LossPredictor

#: Two nodes, two levels; see test_problem_and_plan.py for the hand computation.
HAND: dict[str, Any] = {
    "target": {"loss": 0.8, "deadline_s": 3.0},
    "model": {
        "levels": [0.0, 0.5],
        "flops_per_sample": [1.0e6, 5.0e5],
        "bytes": [1.0e5, 5.0e4],
        "memory_bytes": [1.0e6, 5.0e5],
    },
    "curve": {
        "a": [10.0, 10.0],
        "b": [0.5, 0.5],
        "c": [0.1, 0.2],
        "s0": [100.0, 100.0],
        "jump": [0.0, 1.0],
        "initial_loss": 1.1,
    },
    "options": {"data_fractions": [0.0, 0.5, 1.0], "max_epochs": 5},
    "node": [
        {
            "name": "A",
            "flops": 1.0e9,
            "power_w": 2.0,
            "memory_bytes": 2.0e6,
            "bandwidth_bps": 1.0e6,
            "tx_power_w": 1.0,
            "samples": 300,
        },
        {
            "name": "B",
            "flops": 2.0e9,
            "power_w": 5.0,
            "memory_bytes": 2.0e6,
            "bandwidth_bps": 4.0e6,
            "tx_power_w": 0.5,
            "samples": 500,
            "quality": 0.5,
        },
    ],
}


def hand_raw() -> dict[str, Any]:
    """A deep copy of :data:`HAND`."""
    return copy.deepcopy(HAND)


def random_raw(seed: int, nodes: int = 4) -> dict[str, Any]:
    """A random three-level problem: a mixed fleet (some nodes fit only pruned levels), a target
    and deadline that usually leave room for several plans."""
    rng = np.random.default_rng(seed)
    fleet = []
    for index in range(nodes):
        flops = float(10 ** rng.uniform(9.0, 10.7))
        fleet.append(
            {
                "name": f"n{index}",
                "flops": flops,
                "power_w": float(round(2.0 + flops / 2.5e8 * rng.uniform(0.5, 1.5), 3)),
                "memory_bytes": float(
                    rng.choice([3.0e6, 5.0e6, 1.0e7, 1.0e9], p=[0.15, 0.25, 0.3, 0.3])
                ),
                "bandwidth_bps": float(10 ** rng.uniform(7.0, 9.0)),
                "tx_power_w": float(round(rng.uniform(0.5, 3.0), 3)),
                "samples": int(rng.integers(100, 800)),
                "quality": float(round(rng.uniform(0.7, 1.0), 3)),
            }
        )
    return {
        "target": {
            "loss": float(round(rng.uniform(0.38, 0.5), 4)),
            "deadline_s": float(round(rng.uniform(15.0, 120.0), 2)),
        },
        "model": {
            "levels": [0.0, 0.3, 0.6],
            "flops_per_sample": [1.0e7, 6.0e6, 2.5e6],
            "bytes": [4.0e5, 2.4e5, 1.0e5],
            "memory_bytes": [6.0e6, 4.0e6, 2.0e6],
        },
        "curve": {
            "a": [9.0, 9.5, 10.0],
            "b": [0.35, 0.34, 0.33],
            "c": [0.05, 0.08, 0.12],
            "s0": [50.0, 50.0, 50.0],
            "jump": [0.0, 0.05, 0.15],
            "initial_loss": 2.3,
        },
        "options": {"data_fractions": [0.0, 0.5, 1.0], "max_epochs": 30},
        "node": fleet,
    }


def random_problem(seed: int, nodes: int = 4) -> Problem:
    """:func:`random_raw` validated."""
    return parse_problem(random_raw(seed, nodes))


def recompute(problem: Problem, plan: Plan) -> list[tuple[float, float, float, float]]:
    """(start, end, energy, loss after) of every epoch of ``plan``, written out from the
    formulas of docs/pact.md, 'The model', without any of leantrain's plan or predictor code."""
    model, curve = problem.model, problem.curve
    nodes = {node.name: node for node in problem.node}
    loss, previous, now = curve.initial_loss, 0, 0.0
    out = []
    for epoch in plan.epochs:
        level = list(model.levels).index(epoch.pruning)
        phi, size = model.flops_per_sample[level], model.bytes[level]
        # The participation model: an epoch of D samples advances s by N·(D/N)^γ, with the γ of
        # the epoch's level when there is one per level; under the fraction law "steps" a node
        # at fraction f counts q·f^(1/γ)·d samples.
        gamma, full = curve.participation, curve.full_samples
        if isinstance(gamma, list):
            gamma = gamma[level]
        if full is None:
            full = max(1.0, sum(n.quality * n.samples for n in problem.node))
        power = 1.0 / gamma if curve.fraction_law == "steps" else 1.0
        times, energies, samples = [], [], []
        for name, f in epoch.fractions.items():
            n = nodes[name]
            compute = f * n.samples * phi / n.flops
            times.append(compute + 2 * 8 * size / n.bandwidth_bps)
            energies.append(n.power_w * compute + n.tx_power_w * 8 * size / n.bandwidth_bps)
            samples.append(n.quality * f**power * n.samples)
        if curve.jump_slope is None:
            jumped = loss + curve.jump[level] - curve.jump[previous]
        else:  # through the level-0-equivalent loss: g(ℓ0) = ℓ0 + jump + β·(ℓ0 − initial)
            beta_prev, beta = curve.jump_slope[previous], curve.jump_slope[level]
            base = (loss - curve.jump[previous] + beta_prev * curve.initial_loss) / (1 + beta_prev)
            jumped = base + curve.jump[level] + beta * (base - curve.initial_loss)
        a, b, c, s0 = curve.a[level], curve.b[level], curve.c[level], curve.s0[level]
        progress = sum(samples) if gamma == 1.0 else full * (sum(samples) / full) ** gamma
        if jumped <= c:
            loss = jumped
        elif curve.family == "log-logistic":  # c + a/(1 + (s/s0)^b), linear above the start
            excess = jumped - c
            s_eq = s0 * (1 - excess / a) if excess >= a else s0 * (a / excess - 1) ** (1 / b)
            at = s_eq + progress
            loss = c + a * (1 - at / s0) if at < 0 else c + a / (1 + (at / s0) ** b)
        else:  # s_eq is negative above the curve's start: no clamp, no free drop
            s_eq = ((jumped - c) / a) ** (-1 / b) - s0
            loss = c + a * (s_eq + progress + s0) ** -b
        kappa, effective = curve.subset_floor, sum(samples)
        if isinstance(kappa, list):
            kappa = kappa[level]
        if kappa > 0.0 and effective > 0.0 and jumped > c:
            # The subset floor: few nodes cannot average the loss below c + κ·(N/D − 1), and an
            # epoch never raises it.
            loss = max(loss, min(c + kappa * (full / effective - 1.0), jumped))
        out.append((now, now + max(times), sum(energies), loss))
        now += max(times)
        previous = level
    return out


def assert_recomputes(problem: Problem, plan: Plan, tolerance: float = 1e-9) -> None:
    """Every figure of ``plan`` equals the independent recomputation to ``tolerance``
    (relative), and the plan meets the target by the deadline within max_epochs."""
    figures = recompute(problem, plan)
    assert len(figures) == len(plan.epochs) <= problem.options.max_epochs
    for epoch, (start, end, energy, loss) in zip(plan.epochs, figures, strict=True):
        assert math.isclose(epoch.start_s, start, rel_tol=tolerance, abs_tol=1e-12)
        assert math.isclose(epoch.end_s, end, rel_tol=tolerance)
        assert math.isclose(epoch.energy_j, energy, rel_tol=tolerance)
        assert math.isclose(epoch.loss_after, loss, rel_tol=tolerance)
    assert math.isclose(plan.energy_j, sum(f[2] for f in figures), rel_tol=tolerance)
    assert math.isclose(plan.duration_s, figures[-1][1], rel_tol=tolerance)
    assert math.isclose(plan.final_loss, figures[-1][3], rel_tol=tolerance)
    assert plan.final_loss <= problem.target.loss
    assert plan.duration_s <= problem.target.deadline_s


def enumerate_optimum(problem: Problem) -> tuple[float, list[Decision] | None]:
    """The least energy over *every* decision sequence (inf and None when none is feasible):
    a plain depth-first enumeration of all levels and all node/fraction sets, epoch by epoch."""
    names = [node.name for node in problem.node]
    options = []
    for level in range(len(problem.model.levels)):
        for combo in itertools.product([0.0, *problem.fractions], repeat=len(names)):
            fractions = {name: f for name, f in zip(names, combo, strict=True) if f > 0.0}
            decision = Decision(level, fractions)
            if fractions and not check_decision(problem, decision, level):
                options.append(
                    (
                        decision,
                        epoch_time(problem, decision),
                        epoch_energy(problem, decision),
                        effective_samples(problem, decision),
                    )
                )
    predictor = LossPredictor.of(problem)
    best: tuple[float, list[Decision] | None] = (math.inf, None)

    def visit(plan: list[Decision], level: int, loss: float, elapsed: float, spent: float) -> None:
        nonlocal best
        if plan and loss <= problem.target.loss and elapsed <= problem.target.deadline_s:
            figures = evaluate(problem, plan, solver="enumeration")
            if figures.feasible and figures.energy_j < best[0]:
                best = (figures.energy_j, list(plan))
        if len(plan) == problem.options.max_epochs:
            return
        for decision, took, cost, samples in options:
            if decision.level >= level:
                plan.append(decision)
                after = predictor.step(loss, level, decision.level, samples)
                visit(plan, decision.level, after, elapsed + took, spent + cost)
                plan.pop()

    visit([], 0, predictor.initial_loss, 0.0, 0.0)
    return best


def assert_exact_is_the_enumeration(problem: Problem, exact: Plan) -> None:
    """``exact``'s plan is optimal exactly when the plain enumeration finds a plan, at its
    energy (1e-9: float64 sums in another order), and recomputes."""
    optimum, _ = enumerate_optimum(problem)
    assert exact.feasible == math.isfinite(optimum)
    if exact.feasible:
        assert exact.status == "optimal"
        assert math.isclose(exact.energy_j, optimum, rel_tol=1e-9)
        assert_recomputes(problem, exact)


def assert_pact_near_exact(problem: Problem, exact: Plan, pact: Plan) -> None:
    """``pact`` is feasible exactly when ``exact`` is, recomputes, and lies within issue 11's
    per-instance goal of 2% above the optimum."""
    assert pact.feasible == exact.feasible
    if pact.feasible:
        assert_recomputes(problem, pact)
        assert exact.energy_j * (1.0 - 1e-9) <= pact.energy_j <= exact.energy_j * 1.02


def enumerable(seed: int, levels: int) -> Problem:
    """A random problem small enough to enumerate every plan: 2-3 nodes, ``levels`` levels,
    fractions {0.5, 1}, 3-4 epochs at most."""
    from leantrain.pact.instances import random_problem as generated

    nodes = 2 + seed % 2
    return generated(
        seed,
        nodes=nodes,
        levels=levels,
        fractions=2,
        epochs=(1, 3),
        max_epochs=4 if nodes == 2 else 3,
        slack=(0.6, 1.6),
    )


def with_kappa(problem: Problem, share: float = 0.5) -> Problem:
    """``problem`` with κ = ``share`` × (ℓ* − max c): a final epoch needs D ≥ N/(1 + 1/share)
    effective samples to clear its floor (a third of the fleet's at 0.5)."""
    kappa = share * (problem.target.loss - max(problem.curve.c))
    curve = problem.curve.model_copy(update={"subset_floor": kappa})
    return problem.model_copy(update={"curve": curve})


def with_floor(problem: Problem, share: float, field: str = "final_share") -> Problem:
    """``problem`` with the floor ``field`` (``final_share`` or ``min_share``) at ``share``."""
    options = problem.options.model_copy(update={field: share})
    return problem.model_copy(update={"options": options})


def along_plan(problem: Problem, plan: Plan) -> list[tuple[int, float, float, float, float, float]]:
    """At the start of each epoch of ``plan``: (level, loss, elapsed seconds, and the energy,
    time and effective samples the plan still spends from there)."""
    from leantrain.pact.plan import decisions_of

    decisions = decisions_of(problem, plan)
    states = []
    loss, level = problem.curve.initial_loss, 0
    for k, decision in enumerate(decisions):
        rest = decisions[k:]
        spent = sum(epoch_energy(problem, d) for d in rest)
        took = sum(epoch_time(problem, d) for d in rest)
        samples = sum(effective_samples(problem, d) for d in rest)
        states.append((level, loss, plan.epochs[k].start_s, spent, took, samples))
        loss, level = plan.epochs[k].loss_after, decision.level
    return states
