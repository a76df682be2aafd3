"""Plans: a sequence of epochs (pruning level, data fraction per training node), their figures
recomputed from the problem with the formulas of docs/pact.md, 'The model', and the plan JSON
(docs/file-formats.md, 'The plan JSON').

:func:`evaluate` is the single place where a plan's reported time, energy and loss are computed;
every solver's plan is built through it, and tests recompute every figure of a written plan with
it. It applies the formulas of :mod:`leantrain.pact.formulas`, the one implementation the solvers
call too (vectorised). ``lower_bound_j`` is set by :func:`leantrain.pact.lagrange.certify`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from leantrain.errors import InputError
from leantrain.io import atomic_write_text
from leantrain.pact import formulas
from leantrain.pact.predictor import LossPredictor
from leantrain.pact.problem import NodeSection, Problem

__all__ = [
    "Decision",
    "EpochFigures",
    "Plan",
    "PlanStatus",
    "check_decision",
    "decisions_of",
    "effective_samples",
    "epoch_energy",
    "epoch_time",
    "evaluate",
    "node_energy",
    "node_samples",
    "node_time",
    "read_plan",
]

PlanStatus = Literal["optimal", "feasible", "infeasible"]


@dataclass(frozen=True)
class Decision:
    """One epoch's decision: the pruning level index and each training node's data fraction.

    Attributes:
        level: Index into the problem's pruning levels.
        fractions: Node name → fraction f > 0, training nodes only.
    """

    level: int
    fractions: Mapping[str, float]


def node_time(problem: Problem, node: NodeSection, level: int, fraction: float) -> float:
    """f·d_n·φ(ρ)/c_n + 2·8·S(ρ)/b_n: one node's time in an epoch."""
    model = problem.model
    return formulas.node_time(
        float(fraction),
        float(node.samples),
        model.flops_per_sample[level],
        node.flops,
        model.bytes[level],
        node.bandwidth_bps,
    )


def node_energy(problem: Problem, node: NodeSection, level: int, fraction: float) -> float:
    """P_n·f·d_n·φ(ρ)/c_n + P^tx_n·8·S(ρ)/b_n: one node's energy in an epoch."""
    model = problem.model
    return formulas.node_energy(
        float(fraction),
        float(node.samples),
        model.flops_per_sample[level],
        node.flops,
        model.bytes[level],
        node.bandwidth_bps,
        node.power_w,
        node.tx_power_w,
    )


def node_samples(problem: Problem, node: NodeSection, level: int, fraction: float) -> float:
    """q_n·f^p·d_n: the effective samples one node adds to an epoch at ``level`` (p from
    :meth:`~leantrain.pact.problem.Problem.fraction_power`)."""
    return formulas.node_samples(
        float(fraction), float(node.samples), node.quality, problem.fraction_power(level)
    )


def _nodes(problem: Problem) -> dict[str, NodeSection]:
    return {node.name: node for node in problem.node}


def epoch_time(problem: Problem, decision: Decision) -> float:
    """τ_k: the slowest training node's time."""
    nodes = _nodes(problem)
    return max(
        node_time(problem, nodes[name], decision.level, f) for name, f in decision.fractions.items()
    )


def epoch_energy(problem: Problem, decision: Decision) -> float:
    """E_k: the sum of the training nodes' energies."""
    nodes = _nodes(problem)
    return math.fsum(
        node_energy(problem, nodes[name], decision.level, f)
        for name, f in sorted(decision.fractions.items())
    )


def effective_samples(problem: Problem, decision: Decision) -> float:
    """D_k = Σ q_n·f_{n,k}^p·d_n (p = 1 under the fraction law "samples")."""
    nodes = _nodes(problem)
    return math.fsum(
        node_samples(problem, nodes[name], decision.level, f)
        for name, f in sorted(decision.fractions.items())
    )


def check_decision(problem: Problem, decision: Decision, previous_level: int) -> str:
    """Why ``decision`` is not allowed after an epoch at ``previous_level``, or ``""``."""
    if not 0 <= decision.level < len(problem.model.levels):
        return f"level index {decision.level} out of range"
    if decision.level < previous_level:
        return "pruning levels must not decrease"
    if not decision.fractions:
        return "at least one node must train"
    nodes = _nodes(problem)
    allowed = set(problem.fractions)
    memory = problem.model.memory_bytes[decision.level]
    for name, fraction in decision.fractions.items():
        if name not in nodes:
            return f"unknown node {name!r}"
        if fraction not in allowed:
            return f"fraction {fraction} of {name!r} is not an allowed data fraction"
        if memory > nodes[name].memory_bytes:
            return (
                f"node {name!r} lacks the memory for level {problem.model.levels[decision.level]}"
            )
    return ""


@dataclass(frozen=True)
class EpochFigures:
    """One epoch of a plan with its figures (an entry of the plan JSON's ``epochs``)."""

    index: int
    start_s: float
    end_s: float
    pruning: float
    fractions: dict[str, float]
    energy_j: float
    loss_after: float

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "index": self.index,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "pruning": self.pruning,
            "fractions": dict(sorted(self.fractions.items())),
            "energy_j": self.energy_j,
            "loss_after": self.loss_after,
        }


@dataclass(frozen=True)
class Plan:
    """A solver's plan with its figures (docs/file-formats.md, 'The plan JSON')."""

    status: PlanStatus
    solver: str
    epsilon: float | None
    energy_j: float
    duration_s: float
    final_loss: float
    solve_time_s: float
    epochs: tuple[EpochFigures, ...] = ()
    notes: dict[str, Any] = field(default_factory=dict)
    lower_bound_j: float | None = None

    @property
    def feasible(self) -> bool:
        """Whether the plan has epochs (is not infeasible)."""
        return self.status != "infeasible"

    def to_json(self) -> dict[str, Any]:
        """The plan JSON (docs/file-formats.md, 'The plan JSON'), ``notes`` included."""
        out: dict[str, Any] = {
            "status": self.status,
            "solver": self.solver,
            "epsilon": self.epsilon,
            "energy_j": self.energy_j,
            "duration_s": self.duration_s,
            "final_loss": self.final_loss,
            "solve_time_s": self.solve_time_s,
            "epochs": [epoch.to_json() for epoch in self.epochs],
        }
        if self.lower_bound_j is not None:
            out["lower_bound_j"] = self.lower_bound_j
        if self.notes:
            out["notes"] = self.notes
        return out

    def save(self, path: str | Path) -> Path:
        """Write the plan JSON atomically."""
        return atomic_write_text(Path(path), json.dumps(self.to_json(), indent=1) + "\n")


def decisions_of(problem: Problem, plan: Plan) -> list[Decision]:
    """The decisions of ``plan``'s epochs, with levels as indices into ``problem``'s levels."""
    return [
        Decision(problem.level_index(epoch.pruning), dict(epoch.fractions)) for epoch in plan.epochs
    ]


def evaluate(
    problem: Problem,
    decisions: Sequence[Decision],
    *,
    solver: str,
    epsilon: float | None = None,
    solve_time_s: float = 0.0,
    optimal: bool = False,
    notes: Mapping[str, Any] | None = None,
) -> Plan:
    """The plan of ``decisions`` with every figure computed by the formulas of docs/pact.md,
    'The model'.

    Raises:
        ValueError: A decision is not allowed (memory, fractions, decreasing levels, no node),
            or there are more epochs than ``max_epochs``.
    """
    if len(decisions) > problem.options.max_epochs:
        raise ValueError(f"{len(decisions)} epochs exceed max_epochs {problem.options.max_epochs}")
    predictor = LossPredictor.of(problem)
    loss, level, now = predictor.initial_loss, 0, 0.0
    epochs: list[EpochFigures] = []
    total = 0.0
    samples = 0.0
    floored = True  # every epoch trains at least its floor (docs/pact.md, 'Epoch floors')
    for index, decision in enumerate(decisions):
        problem_here = check_decision(problem, decision, level)
        if problem_here:
            raise ValueError(f"epoch {index}: {problem_here}")
        duration = epoch_time(problem, decision)
        energy = epoch_energy(problem, decision)
        samples = effective_samples(problem, decision)
        floored = floored and problem.epoch_floor_met(samples)
        loss = predictor.step(loss, level, decision.level, samples)
        level = decision.level
        epochs.append(
            EpochFigures(
                index=index,
                start_s=now,
                end_s=now + duration,
                pruning=problem.model.levels[level],
                fractions=dict(decision.fractions),
                energy_j=energy,
                loss_after=loss,
            )
        )
        now += duration
        total += energy
    # Every epoch, and the final one more so, trains at least its floor (docs/pact.md, 'Epoch
    # floors').
    meets = (
        bool(epochs)
        and loss <= problem.target.loss
        and now <= problem.target.deadline_s
        and floored
        and problem.final_floor_met(samples)
    )
    status: PlanStatus = ("optimal" if optimal else "feasible") if meets else "infeasible"
    return Plan(
        status=status,
        solver=solver,
        epsilon=epsilon,
        energy_j=math.fsum(e.energy_j for e in epochs) if epochs else 0.0,
        duration_s=now,
        final_loss=loss,
        solve_time_s=solve_time_s,
        epochs=tuple(epochs),
        notes=dict(notes or {}),
    )


def read_plan(path: str | Path) -> Plan:
    """Read a plan JSON.

    Raises:
        InputError: The file is unreadable or not a plan.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        epochs = tuple(
            EpochFigures(
                index=int(e["index"]),
                start_s=float(e["start_s"]),
                end_s=float(e["end_s"]),
                pruning=float(e["pruning"]),
                fractions={str(k): float(v) for k, v in e["fractions"].items()},
                energy_j=float(e["energy_j"]),
                loss_after=float(e["loss_after"]),
            )
            for e in raw["epochs"]
        )
        status = raw["status"]
        if status not in ("optimal", "feasible", "infeasible"):
            raise ValueError(f"unknown status {status!r}")
        return Plan(
            status=status,
            solver=str(raw["solver"]),
            epsilon=None if raw.get("epsilon") is None else float(raw["epsilon"]),
            energy_j=float(raw["energy_j"]),
            duration_s=float(raw["duration_s"]),
            final_loss=float(raw["final_loss"]),
            solve_time_s=float(raw["solve_time_s"]),
            epochs=epochs,
            notes=dict(raw.get("notes", {})),
            lower_bound_j=(
                None if raw.get("lower_bound_j") is None else float(raw["lower_bound_j"])
            ),
        )
    except OSError as error:
        raise InputError(path, "<file>", f"cannot read: {error.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputError(path, "<plan>", f"not a valid plan: {error}") from None
