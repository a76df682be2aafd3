"""Why a PACT problem is infeasible, and the smallest relaxation that makes it feasible (exit
code 3; docs/pact.md, 'Exit codes and relaxations').

:func:`diagnose` checks, in this order:

1. **data / memory**: no node holds data, or no node holding data can hold even the level with the
   least training memory. Nothing else can help; the relaxation is the memory a node would need.
2. **deadline**: the problem is feasible once the deadline stops mattering, i.e. at
   ``max_epochs`` × the slowest possible epoch (no plan within ``max_epochs`` can take longer).
   The shortest feasible deadline is then found by **binary search on** ``deadline_s`` **with the
   solver** (``pact`` by default), and, as the alternative relaxation, the lowest loss reachable
   by the original deadline by binary search on the target.
3. **target**: even with the deadline out of the way the target is not met: it lies at or below
   the floor c of every level some node can train, or ``max_epochs`` is too few. The relaxations
   are the lowest loss reachable at all and by the deadline (binary searches on the target), and,
   where the floor allows, a ``max_epochs`` that suffices: the epochs of the solver's plan once
   the cap is raised (from an estimate: the fastest-progress epoch repeated at its best level,
   doubled up to four times).

**The margin.** The solvers plan to ℓ* − k·σ, but where that is out of reach and ℓ* is not they
keep part of the margin (docs/pact.md, 'Planning margin'), so a problem is infeasible only when ℓ*
itself is out of reach. The target diagnosed is therefore ℓ* with no margin: its relaxation is the
smallest that makes the solver return a plan, and the line says that plans there keep little of
the margin.

Every reported bound comes from a plan that the solver returned and :func:`evaluate` confirmed,
rounded *up* to five significant figures, so the stated relaxation is always sufficient. The
searches assume feasibility is monotone in the deadline and the target; for the approximate
solvers this holds only up to their rounding, so the bound found may exceed the true smallest
relaxation by about ε as well as the search tolerance.

**Which ε.** Whether a plan exists (the problem itself, and the problem with the deadline out of
the way, which decides between *deadline* and *target*) is always decided by the solver at the
requested ε: a coarser solver may fail where the requested one succeeds, and a deadline-bound
problem would then be reported as bound by the target. The binary searches, which only make a
sufficient bound tighter, run at their own ε_s (below).

**Cost.** Each binary search runs at most ``max_solves`` solves. The simulating baselines
(:data:`~leantrain.pact.baselines.SIMULATED`) take microseconds, so they search at ε to a relative
width of 1e-3. Any other solver (``pact``, ``no-prune``) searches at ε_s = max(ε, 0.05)
(:data:`SEARCH_EPSILON`) to a width of ε_s/2: resolving a bound finer than the solver's own
granularity only costs solves. A bound found at ε_s also holds at the requested finer ε, because
``pact`` at a finer ε never returns a worse plan (it runs every coarser rung of its ladder first,
see :mod:`leantrain.pact.dp`). When no plan is found at ε_s for the relaxed problem, the bound
comes from the plan at ε that decided the binding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from leantrain.errors import InfeasibleError
from leantrain.pact.baselines import SIMULATED, eligible_nodes
from leantrain.pact.plan import Decision, Plan, evaluate, node_samples, node_time
from leantrain.pact.predictor import LossPredictor
from leantrain.pact.problem import Problem
from leantrain.pact.solver import DEFAULT_EPSILON, make_solver

__all__ = [
    "SEARCH_EPSILON",
    "Relaxation",
    "ceil_figures",
    "diagnose",
    "horizon",
]

#: The significant figures of reported bounds (always rounded up).
_DIGITS = 5

#: The coarsest ε at which the searches run a solver that is not a simulating baseline.
SEARCH_EPSILON = 0.05


@dataclass(frozen=True)
class Relaxation:
    """The diagnosis of an infeasible problem.

    Attributes:
        binding: The binding constraint: ``"memory"``, ``"data"``, ``"deadline"`` or ``"target"``.
        message: One line: the relaxation in words.
        deadline_s: The shortest deadline found that makes the target reachable, if any.
        loss_by_deadline: The lowest loss found reachable by the original deadline, if any.
        loss_any_time: The lowest loss found reachable within ``max_epochs`` at any deadline.
        max_epochs: A ``max_epochs`` that suffices (with a long enough deadline), if found.
        memory_bytes: The memory a node would need (``memory`` binding).
        solver: The solver the diagnosis is for.
        epsilon: Its ε, at which feasibility and the binding were decided.
        search_epsilon: The ε of the binary searches (see the module doc).
        pact_meets: Whether the ``pact`` solver meets the original problem, when asked for
            (``check_pact``) and ``solver`` is another one; else None.
    """

    binding: str
    message: str
    deadline_s: float | None = None
    loss_by_deadline: float | None = None
    loss_any_time: float | None = None
    max_epochs: int | None = None
    memory_bytes: float | None = None
    solver: str = ""
    epsilon: float | None = None
    search_epsilon: float | None = None
    pact_meets: bool | None = None

    def error(self) -> InfeasibleError:
        """The :class:`InfeasibleError` to raise (exit code 3)."""
        return InfeasibleError(self.binding, self.message)

    def notes(self) -> dict[str, object]:
        """The diagnosis for a plan JSON's ``notes``."""
        out: dict[str, object] = {"binding": self.binding, "relaxation": self.message}
        for name in ("deadline_s", "loss_by_deadline", "loss_any_time", "max_epochs"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.memory_bytes is not None:
            out["memory_bytes"] = self.memory_bytes
        return out


def ceil_figures(value: float, digits: int = _DIGITS) -> float:
    """``value`` rounded up to ``digits`` significant figures."""
    if value == 0.0 or not math.isfinite(value):
        return value
    scale = 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)
    rounded = math.ceil(value / scale) * scale
    text = f"{rounded:.{digits}g}"
    return float(text) if float(text) >= value else rounded


def _show(value: float) -> str:
    return f"{ceil_figures(value):.{_DIGITS}g}"


def horizon(problem: Problem) -> float:
    """An upper bound on the duration of any plan: ``max_epochs`` × the slowest possible epoch
    (the slowest node at the largest fraction at any level it fits)."""
    largest = max(problem.fractions)
    slowest = max(
        (
            node_time(problem, node, level, largest)
            for level in range(len(problem.levels))
            for node in eligible_nodes(problem, level)
        ),
        default=0.0,
    )
    return problem.options.max_epochs * slowest


class _Search:
    """Solves variants of one problem with one solver, keeping only confirmed plans: at the
    requested ε (``exact=True``) or at the searches' ε."""

    def __init__(
        self, problem: Problem, solver: str, epsilon: float, coarse: float, max_solves: int
    ) -> None:
        self.problem = problem
        self.solver = make_solver(solver, coarse)
        self.requested = make_solver(solver, epsilon)
        self.max_solves = max_solves

    def plan(self, *, loss: float, deadline_s: float, exact: bool = False) -> Plan | None:
        variant = self.problem.with_target(loss=loss, deadline_s=deadline_s)
        solver = self.requested if exact else self.solver
        decisions = solver.search(variant)
        if not decisions:
            return None
        plan = evaluate(variant, decisions, solver=solver.name)
        return plan if plan.feasible else None

    def shortest_deadline(self, upper: Plan, lower: float, tolerance: float) -> float:
        """The shortest duration found of a plan meeting the target, between ``lower``
        (infeasible) and ``upper``'s duration (feasible)."""
        low, high = lower, upper.duration_s
        for _ in range(self.max_solves):
            if high - low <= tolerance * high:
                break
            middle = 0.5 * (low + high)
            found = self.plan(loss=self.problem.target.loss, deadline_s=middle)
            if found is None:
                low = middle
            else:
                high = min(middle, found.duration_s)
        return high

    def enough_epochs(self, estimate: int | None) -> int | None:
        """The epochs of the solver's plan with ``max_epochs`` raised to ``estimate``, doubled up
        to four times until it meets the target, with a deadline that no longer binds; None when
        it never does."""
        if estimate is None:
            return None
        start = max(estimate, self.problem.options.max_epochs + 1)
        for count in (start * 2**k for k in range(5)):
            options = self.problem.options.model_copy(update={"max_epochs": count})
            variant = self.problem.model_copy(update={"options": options})
            decisions = self.solver.search(variant.with_target(deadline_s=horizon(variant)))
            if decisions:
                check = evaluate(variant.with_target(deadline_s=math.inf), decisions, solver="")
                if check.feasible:
                    return len(decisions)
        return None

    def lowest_loss(self, deadline_s: float, tolerance: float) -> float | None:
        """The lowest final loss found reachable by ``deadline_s``; None when no plan of any loss
        fits."""
        # No plan's loss exceeds this, so some plan of any length meets it.
        ceiling = LossPredictor.of(self.problem).highest_loss()
        first = self.plan(loss=ceiling, deadline_s=deadline_s)
        if first is None:
            return None
        low, high = self.problem.target.loss, first.final_loss
        for _ in range(self.max_solves):
            if high <= low or high - low <= tolerance * high:
                break
            middle = 0.5 * (low + high)
            found = self.plan(loss=middle, deadline_s=deadline_s)
            if found is None:
                low = middle
            else:
                high = min(middle, found.final_loss)
        return high


def _epochs_estimate(problem: Problem) -> int | None:
    """The epochs a plan repeating the all-nodes, largest-fraction epoch needs at its best level
    (with no deadline); None when no level gets there."""
    predictor = LossPredictor.of(problem)
    largest = max(problem.fractions)
    best: int | None = None
    for level in range(len(problem.levels)):
        nodes = eligible_nodes(problem, level)
        if not nodes:
            continue
        decision = Decision(level, {n.name: largest for n in nodes})
        per_epoch = math.fsum(node_samples(problem, n, level, largest) for n in nodes)
        need = predictor.progress_needed(predictor.initial_loss, 0, level, problem.target.loss)
        if not math.isfinite(need):
            continue
        epochs = max(1, math.ceil(need / predictor.progress(per_epoch, level)))
        for count in (epochs, epochs + 1, epochs + 2):  # absorb rounding in the inverse
            relaxed = problem.model_copy(
                update={
                    "options": problem.options.model_copy(update={"max_epochs": count}),
                    "target": problem.target.model_copy(update={"deadline_s": math.inf}),
                }
            )
            if evaluate(relaxed, [decision] * count, solver="relax").final_loss <= (
                problem.target.loss
            ):
                best = count if best is None else min(best, count)
                break
    return best


def diagnose(
    problem: Problem,
    solver: str = "pact",
    epsilon: float = DEFAULT_EPSILON,
    *,
    tolerance: float | None = None,
    max_solves: int = 14,
    check_pact: bool = False,
) -> Relaxation:
    """Which constraint makes ``problem`` infeasible for ``solver``, and the smallest relaxation
    found (see the module docstring for the method).

    Args:
        problem: A problem for which ``solver`` found no plan.
        solver: The registered solver used for the searches.
        epsilon: Its granularity.
        tolerance: The relative width at which a binary search stops; default 1e-3 for the
            simulating baselines, ε_s/2 for other solvers (see the module docstring).
        max_solves: The most solves per binary search.
        check_pact: Also say whether the ``pact`` solver meets the original problem (when
            ``solver`` is another one): one more solve, at ``epsilon``.

    Returns:
        The diagnosis; ``.error()`` is the exception to raise. If the problem turns out feasible
        for ``solver`` after all, the binding is ``"none"``.
    """
    holders = [n for n in problem.node if n.samples > 0]
    if not holders:
        return Relaxation("data", "no node holds any samples (every node has samples = 0)")
    least = min(problem.model.memory_bytes)
    largest = max(n.memory_bytes for n in holders)
    if largest < least:
        return Relaxation(
            "memory",
            f"no node can hold even the most pruned level: a node with data needs "
            f"memory_bytes >= {least:.{_DIGITS}g} (the largest has {largest:.{_DIGITS}g})",
            memory_bytes=least,
        )
    simulated = solver in SIMULATED
    coarse = epsilon if simulated else max(epsilon, SEARCH_EPSILON)
    if tolerance is None:
        tolerance = 1e-3 if simulated else coarse / 2.0
    # The solvers plan to ℓ* − k·σ but keep part of a margin that does not fit (docs/pact.md,
    # 'Planning margin'): a plan exists as soon as one reaches ℓ* itself, so ℓ* is what is
    # diagnosed, and its relaxation is the smallest.
    bare = problem.for_planning(problem.target.loss, 1.0)
    search = _Search(bare, solver, epsilon, coarse, max_solves)
    found = _diagnose(bare, search, tolerance)
    if bare is not problem and found.binding in ("deadline", "target"):
        found = replace(
            found,
            message=f"{found.message}; plans at that edge keep little of the planning margin "
            f"({_margin_text(problem)})",
        )
    meets = None
    if check_pact and solver not in ("pact", "exact"):
        meets = make_solver("pact", epsilon).solve(problem).feasible
    message = found.message + ("; the pact solver meets the original problem" if meets else "")
    return replace(
        found,
        message=message,
        solver=solver,
        epsilon=epsilon,
        search_epsilon=coarse,
        pact_meets=meets,
    )


def _margin_text(problem: Problem) -> str:
    """The planning margin in words: k x sigma, k x sigma_p, or both."""
    k = problem.options.margin
    parts = [
        f"{k:g} x {name} {value:g}"
        for name, value in (
            ("sigma", problem.curve.sigma),
            ("sigma_p", problem.curve.progress_sigma),
        )
        if value > 0.0
    ]
    return " and ".join(parts)


def _diagnose(problem: Problem, search: _Search, tolerance: float) -> Relaxation:
    """The deadline and target steps of :func:`diagnose`."""
    target, deadline = problem.target.loss, problem.target.deadline_s
    solver = search.requested.name
    if search.plan(loss=target, deadline_s=deadline, exact=True) is not None:
        return Relaxation("none", f"the {solver} solver finds a plan; nothing needs relaxing")
    by_deadline = search.lowest_loss(deadline, tolerance)
    alternative = (
        f"loss >= {_show(by_deadline)} by {deadline:g} s"
        if by_deadline is not None
        else f"no epoch fits in {deadline:g} s"
    )
    long = horizon(problem)
    upper = search.plan(loss=target, deadline_s=long, exact=True) if long > deadline else None
    if upper is not None:
        coarse = search.plan(loss=target, deadline_s=long)
        if coarse is not None and coarse.duration_s < upper.duration_s:
            upper = coarse
        shortest = search.shortest_deadline(upper, deadline, tolerance)
        return Relaxation(
            "deadline",
            f"the target is reachable with deadline_s >= {_show(shortest)} (or {alternative})",
            deadline_s=ceil_figures(shortest),
            loss_by_deadline=None if by_deadline is None else ceil_figures(by_deadline),
        )
    anytime = search.lowest_loss(max(long, deadline), tolerance)
    reachable = [
        level
        for level in range(len(problem.levels))
        if eligible_nodes(problem, level) and target > problem.curve.c[level]
    ]
    if not reachable:
        floor = min(
            problem.curve.c[level]
            for level in range(len(problem.levels))
            if eligible_nodes(problem, level)
        )
        why = (
            f"loss {target:g} is at or below the floor c of every trainable level "
            f"(lowest {floor:g})"
        )
        epochs = None
    else:
        why = f"loss {target:g} is not reachable within max_epochs = {problem.options.max_epochs}"
        epochs = search.enough_epochs(_epochs_estimate(problem))
    reach = f"loss >= {_show(anytime)}" if anytime is not None else "nothing"
    when = f"loss >= {_show(by_deadline)}" if by_deadline is not None else "no epoch fits"
    message = f"{why}: the lowest reachable is {reach} (by {deadline:g} s: {when})"
    if epochs is not None:
        message += f"; or max_epochs >= {epochs} with a long enough deadline"
    return Relaxation(
        "target",
        message,
        loss_by_deadline=None if by_deadline is None else ceil_figures(by_deadline),
        loss_any_time=None if anytime is None else ceil_figures(anytime),
        max_epochs=epochs,
    )
