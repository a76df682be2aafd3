"""``leantrain execute``: carry out a PACT plan with real training (SPEC 5).

A plan (``leantrain plan``) is run on the fleet of a run config, against the problem it was made
from (``leantrain profile``):

* **Nodes are devices, by name.** Every node a plan trains must be a device of the config's fleet
  (``<class>-<i>``; profile names the nodes so) and a node of the problem, holding as many samples
  as the device's partition; anything else is an :class:`~leantrain.errors.InputError`.
* **Pruning.** The global model starts from the run's deterministic initial weights (the model
  ``profile`` started from). When an epoch's level is above the current one, the global model is
  pruned to it with Torch-Pruning before the epoch (:func:`~leantrain.pact.profile.prune_model`:
  structured, channels physically removed; the same per-layer widths as the profiled level).
* **One FedAvg round per epoch** (:func:`~leantrain.pact.profile.fedavg_round`), its local epochs
  run by a :class:`~leantrain.pact.nodes.NodeTrainer` (in-process, or Flower ClientApps with
  ``--engine flower``): each training node trains one local epoch on ``fraction`` of its
  partition (the prefix of a permutation drawn per (epoch, device) from the config's seed) with
  the config's SGD settings; the updates are averaged weighted by samples (non-finite ones, and
  nodes that failed, are rejected).
* **Realised loss**: cross-entropy of the global model on the held-out set, the config's test
  split, the same set profile measured its curves on.
* **Realised time and energy** are the SPEC formulas (:func:`~leantrain.pact.plan.epoch_time`,
  :func:`~leantrain.pact.plan.epoch_energy`) applied to the epoch's decision. They are
  deterministic given the decision, so they equal the predicted figures: no node fails in this
  runtime (a rejected update still spent its time and energy), and availability traces are not
  part of PACT's model.
* **Re-planning** (``replan=True``, receding horizon): after every epoch, unless the observed loss
  already meets the target (then execution stops), the remaining problem is built
  (:func:`remaining_problem`: deadline T − elapsed, ``max_epochs`` minus the epochs run,
  ``initial_loss`` = the observed loss, the levels restricted to ≥ the current one) and solved
  with the ``pact`` solver; execution continues with the new plan's first epoch. When it finds no
  feasible plan, the rest of the previous plan is kept (and noted).

Per epoch the result gives the predicted loss (of the plan in force when the epoch ran), the
one-step prediction (the problem's predictor applied to the observed loss before the epoch), the
realised loss, time and energy; :func:`write_execution` writes ``execution.json`` and
``execution.png``.
"""

from __future__ import annotations

import importlib
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leantrain.errors import InputError
from leantrain.fl.setup import FederatedSetup
from leantrain.io import atomic_write_bytes, atomic_write_text
from leantrain.nn import model_cost
from leantrain.pact.nodes import NodeTrainer
from leantrain.pact.plan import (
    Decision,
    Plan,
    check_decision,
    decisions_of,
    effective_samples,
    epoch_energy,
    epoch_time,
    evaluate,
)
from leantrain.pact.predictor import LossPredictor
from leantrain.pact.problem import Problem, parse_problem
from leantrain.pact.profile import fedavg_round, held_out, prunable_widths, prune_model
from leantrain.pact.solver import DEFAULT_EPSILON, SOLVERS, make_solver

__all__ = [
    "ExecutedEpoch",
    "ExecutionResult",
    "check_plan",
    "execute_plan",
    "plot_execution",
    "remaining_problem",
    "write_execution",
]

#: Relative tolerance when checking that a problem and a config describe the same model and data.
_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ExecutedEpoch:
    """One epoch as executed.

    Attributes:
        index: 0-based epoch index.
        pruning: The level ρ trained at.
        nodes: Node name → data fraction of the nodes that trained.
        samples: Node name → samples it actually trained on (⌊f·d + ½⌋).
        effective_samples: D_k = Σ q·f·d of the decision.
        predicted_loss: The loss the plan in force predicted after this epoch.
        one_step_loss: The problem's predictor applied to the observed loss before the epoch.
        loss_after_pruning: Held-out loss right after pruning (None when the level stayed).
        realised_loss: Held-out cross-entropy after the epoch.
        realised_accuracy: Held-out accuracy after the epoch.
        predicted_time_s: The plan's epoch time. time_s: the realised one (SPEC formula).
        predicted_energy_j: The plan's epoch energy. energy_j: the realised one (SPEC formula).
        flops_per_sample: Training FLOPs per sample of the model actually trained.
        parameters: Its parameter count.
        replanned: Whether a re-solved plan chose this epoch.
        planned_after: The epoch after which the plan in force was made (−1: the given plan);
            ``index − 1`` means the prediction was made from the loss observed just before.
        rejected: Nodes whose update was non-finite and left out of the average.
    """

    index: int
    pruning: float
    nodes: dict[str, float]
    samples: dict[str, int]
    effective_samples: float
    predicted_loss: float
    one_step_loss: float
    loss_after_pruning: float | None
    realised_loss: float
    realised_accuracy: float
    predicted_time_s: float
    time_s: float
    predicted_energy_j: float
    energy_j: float
    flops_per_sample: float
    parameters: int
    replanned: bool = False
    planned_after: int = -1
    rejected: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON form (an entry of ``execution.json``'s ``epochs``)."""
        return {
            "index": self.index,
            "pruning": self.pruning,
            "nodes": dict(sorted(self.nodes.items())),
            "samples": dict(sorted(self.samples.items())),
            "effective_samples": self.effective_samples,
            "predicted_loss": self.predicted_loss,
            "one_step_loss": self.one_step_loss,
            "loss_after_pruning": self.loss_after_pruning,
            "realised_loss": self.realised_loss,
            "realised_accuracy": self.realised_accuracy,
            "predicted_time_s": self.predicted_time_s,
            "time_s": self.time_s,
            "predicted_energy_j": self.predicted_energy_j,
            "energy_j": self.energy_j,
            "flops_per_sample": self.flops_per_sample,
            "parameters": self.parameters,
            "replanned": self.replanned,
            "planned_after": self.planned_after,
            "rejected": list(self.rejected),
        }


def _errors(predicted: Sequence[float], realised: Sequence[float]) -> dict[str, float]:
    if not realised:
        return {
            "mean_abs": math.nan,
            "max_abs": math.nan,
            "mean_rel": math.nan,
            "max_rel": math.nan,
        }
    absolute = [abs(p - r) for p, r in zip(predicted, realised, strict=True)]
    relative = [a / abs(r) for a, r in zip(absolute, realised, strict=True)]
    return {
        "mean_abs": math.fsum(absolute) / len(absolute),
        "max_abs": max(absolute),
        "mean_rel": math.fsum(relative) / len(relative),
        "max_rel": max(relative),
    }


@dataclass(frozen=True)
class ExecutionResult:
    """A plan as executed.

    Attributes:
        plan: The plan given.
        epochs: The epochs run.
        initial_loss: The observed held-out loss of the initial model.
        predicted_initial_loss: The problem's ``initial_loss``.
        target_loss: ℓ*. deadline_s: T.
        replan: Whether it re-planned after every epoch.
        notes: What happened besides the plan (re-planning fallbacks, an early stop...).
    """

    plan: Plan
    epochs: tuple[ExecutedEpoch, ...]
    initial_loss: float
    predicted_initial_loss: float
    target_loss: float
    deadline_s: float
    replan: bool
    notes: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def final_loss(self) -> float:
        """The realised loss after the last epoch (the initial one without epochs)."""
        return self.epochs[-1].realised_loss if self.epochs else self.initial_loss

    @property
    def time_s(self) -> float:
        """Total realised time."""
        return math.fsum(e.time_s for e in self.epochs)

    @property
    def energy_j(self) -> float:
        """Total realised energy."""
        return math.fsum(e.energy_j for e in self.epochs)

    @property
    def target_met(self) -> bool:
        """Whether the realised final loss meets the target."""
        return self.final_loss <= self.target_loss

    @property
    def deadline_met(self) -> bool:
        """Whether the realised time stays within the deadline."""
        return self.time_s <= self.deadline_s * (1.0 + 1e-12)

    def loss_errors(self, one_step: bool = False) -> dict[str, float]:
        """Mean and max absolute and relative error of the predicted (or one-step) losses."""
        predicted = [e.one_step_loss if one_step else e.predicted_loss for e in self.epochs]
        return _errors(predicted, [e.realised_loss for e in self.epochs])

    def to_json(self) -> dict[str, Any]:
        """The content of ``execution.json``."""
        return {
            **self.sources,
            "replan": self.replan,
            "solver": self.plan.solver,
            "target_loss": self.target_loss,
            "deadline_s": self.deadline_s,
            "initial_loss": self.initial_loss,
            "predicted_initial_loss": self.predicted_initial_loss,
            "epochs": [epoch.to_json() for epoch in self.epochs],
            "totals": {
                "epochs": len(self.epochs),
                "time_s": self.time_s,
                "energy_j": self.energy_j,
                "predicted_time_s": math.fsum(e.predicted_time_s for e in self.epochs),
                "predicted_energy_j": math.fsum(e.predicted_energy_j for e in self.epochs),
                "plan_time_s": self.plan.duration_s,
                "plan_energy_j": self.plan.energy_j,
                "plan_final_loss": self.plan.final_loss,
                "final_loss": self.final_loss,
                "target_met": self.target_met,
                "deadline_met": self.deadline_met,
                "loss_error": self.loss_errors(),
                "one_step_loss_error": self.loss_errors(one_step=True),
            },
            "notes": list(self.notes),
        }


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _TOLERANCE * max(1.0, abs(a), abs(b))


def check_plan(
    plan: Plan,
    problem: Problem,
    setup: FederatedSetup,
    *,
    plan_source: str | Path = "<plan>",
    problem_source: str | Path = "<problem>",
) -> list[Decision]:
    """The plan's decisions, after checking that plan, problem and config fit together.

    Raises:
        InputError: The plan has no epochs; an epoch's level is not a level of the problem; a
            node is not a device of the config's fleet or not a node of the problem; a decision
            breaks a rule of the problem (memory, fractions, decreasing levels); the problem's
            node holds another number of samples than the device's partition; or the problem's
            unpruned model is not the config's.
    """
    if not plan.epochs:
        raise InputError(plan_source, "epochs", f"the plan is {plan.status}: nothing to execute")
    devices = {device.name: device for device in setup.fleet.devices}
    nodes = {node.name: node for node in problem.node}
    decisions: list[Decision] = []
    level = 0
    for epoch in plan.epochs:
        where = f"epochs[{epoch.index}]"
        if epoch.pruning not in problem.model.levels:
            raise InputError(
                plan_source,
                f"{where}.pruning",
                f"level {epoch.pruning:g} is not one of the profile's levels "
                f"{[float(x) for x in problem.model.levels]} ({problem_source})",
            )
        for name in epoch.fractions:
            if name not in devices:
                shown = ", ".join(list(devices)[:6]) + (", ..." if len(devices) > 6 else "")
                raise InputError(
                    plan_source,
                    f"{where}.fractions",
                    f"node {name!r} is not a device of the config's fleet ({shown})",
                )
            if name not in nodes:
                raise InputError(
                    plan_source,
                    f"{where}.fractions",
                    f"node {name!r} is not a node of the problem ({problem_source})",
                )
            expected = len(setup.partitions[devices[name].index])
            if nodes[name].samples != expected:
                raise InputError(
                    problem_source,
                    f"node[{name}].samples",
                    f"{nodes[name].samples}, but the config gives device {name!r} "
                    f"{expected} samples (profile the problem from this config)",
                )
        decision = Decision(problem.level_index(epoch.pruning), dict(epoch.fractions))
        reason = check_decision(problem, decision, level)
        if reason:
            raise InputError(plan_source, where, reason)
        decisions.append(decision)
        level = decision.level
    if len(decisions) > problem.options.max_epochs:
        raise InputError(
            plan_source,
            "epochs",
            f"{len(decisions)} epochs exceed max_epochs {problem.options.max_epochs}",
        )
    flops = model_cost(setup.build_model(), setup.data.train.input_shape).train_flops_per_sample
    if not _close(flops, problem.model.flops_per_sample[0]):
        raise InputError(
            problem_source,
            "model.flops_per_sample",
            f"{problem.model.flops_per_sample[0]:.6g} at level 0, but the config's model "
            f"{setup.config.model.name!r} needs {flops:.6g}: profile the problem from this config",
        )
    return decisions


def remaining_problem(
    problem: Problem, level: int, loss: float, elapsed_s: float, epochs_done: int
) -> Problem | str:
    """The problem left after ``epochs_done`` epochs, at ``level``, with ``loss`` observed.

    * deadline T − ``elapsed_s``; ``max_epochs`` minus ``epochs_done``; ``initial_loss`` =
      ``loss``; the same nodes, fractions and target;
    * the levels ≥ ``level`` only, renumbered from 0: level ``level + j`` of ``problem`` is level
      j of the result, with pruning ratio 1 − (1 − ρ_{level+j})/(1 − ρ_level) (the share of the
      *current* model's channels it removes, so the first is 0) and the same φ, S and m;
    * the curves of those levels unchanged, and the jumps relative to the current level
      (jump[level + j] − jump[level]).

    The current level's curve is re-anchored at the observed loss by the predictor's
    equivalent-position rule: training continues from the position s_eq where that curve equals
    ``loss`` — not from the samples trained so far — so the next prediction starts from what was
    observed, with the fitted shape (a, b, c, s0) of the curve.

    Returns:
        The remaining problem, or why there is none (deadline or epochs exhausted).
    """
    deadline = problem.target.deadline_s - elapsed_s
    if not deadline > 0.0:
        return f"no time is left before the deadline ({elapsed_s:.6g} s elapsed)"
    epochs_left = problem.options.max_epochs - epochs_done
    if epochs_left < 1:
        return "max_epochs is reached"
    model, curve = problem.model, problem.curve
    base = model.levels[level]
    keep = slice(level, None)
    raw = problem.model_dump()
    raw["target"]["deadline_s"] = deadline
    raw["model"] = {
        "levels": [1.0 - (1.0 - rho) / (1.0 - base) for rho in model.levels[keep]],
        "flops_per_sample": list(model.flops_per_sample[keep]),
        "bytes": list(model.bytes[keep]),
        "memory_bytes": list(model.memory_bytes[keep]),
    }
    raw["curve"] = {
        "a": list(curve.a[keep]),
        "b": list(curve.b[keep]),
        "c": list(curve.c[keep]),
        "s0": list(curve.s0[keep]),
        "jump": [j - curve.jump[level] for j in curve.jump[keep]],
        "initial_loss": max(loss, 1e-12),
    }
    raw["options"]["max_epochs"] = epochs_left
    return parse_problem(raw, "<remaining problem>")


def _load_pact() -> None:
    try:
        importlib.import_module("leantrain.pact.dp")
    except ModuleNotFoundError as error:
        if error.name != "leantrain.pact.dp":
            raise


def execute_plan(
    plan: Plan,
    problem: Problem,
    setup: FederatedSetup,
    *,
    replan: bool = False,
    solver: str = "pact",
    epsilon: float = DEFAULT_EPSILON,
    plan_source: str | Path = "<plan>",
    problem_source: str | Path = "<problem>",
    on_epoch: Callable[[ExecutedEpoch, int], None] | None = None,
    trainer: NodeTrainer | None = None,
) -> ExecutionResult:
    """Run ``plan`` with real training (see the module docstring).

    Args:
        plan: The plan (its epochs; the figures are recomputed from ``problem``).
        problem: The problem the plan was made for.
        setup: The run config's data, fleet, partition and model.
        replan: Re-solve the remaining problem after every epoch (receding horizon).
        solver: The solver used to re-plan.
        epsilon: Its granularity.
        plan_source: The plan file, for messages.
        problem_source: The problem file, for messages.
        on_epoch: Called after each epoch with the epoch and the number of epochs planned so far.
        trainer: Where the nodes' local epochs run (in this process when None).

    Returns:
        Every epoch's predicted and realised figures.

    Raises:
        InputError: See :func:`check_plan`; or ``replan`` without the solver installed.
    """
    decisions = check_plan(
        plan, problem, setup, plan_source=plan_source, problem_source=problem_source
    )
    if replan:
        _load_pact()
        if solver not in SOLVERS:
            raise InputError(
                "command line",
                "--replan",
                f"re-planning needs the {solver!r} solver, which is not installed",
            )
    notes: list[str] = []
    predicted_plan = evaluate(problem, decisions, solver=plan.solver, epsilon=plan.epsilon)
    for mine, theirs in zip(predicted_plan.epochs, plan.epochs, strict=True):
        if not (_close(mine.loss_after, theirs.loss_after) and _close(mine.end_s, theirs.end_s)):
            notes.append(
                f"the plan's figures differ from the problem's from epoch {mine.index} on "
                "(another problem, or edited): the problem's are used"
            )
            break
    predictor = LossPredictor.of(problem)
    names = {device.name: device.index for device in setup.fleet.devices}
    shape = setup.data.train.input_shape
    model = setup.build_model()
    full_widths = prunable_widths(model)
    _, initial_loss = held_out(model, setup.data.test)
    if not _close(initial_loss, problem.curve.initial_loss):
        notes.append(
            f"the initial model's held-out loss is {initial_loss:.6g}, the problem's "
            f"initial_loss {problem.curve.initial_loss:.6g}"
        )

    queue = list(decisions)
    queued_predictions = [e.loss_after for e in predicted_plan.epochs]
    planned_after = -1
    epochs: list[ExecutedEpoch] = []
    level, loss, elapsed = 0, initial_loss, 0.0
    while queue and len(epochs) < problem.options.max_epochs:
        decision = queue.pop(0)
        predicted = queued_predictions.pop(0)
        index = len(epochs)
        after_pruning: float | None = None
        if decision.level > level:
            prune_model(model, problem.model.levels[decision.level], full_widths, shape)
            _, after_pruning = held_out(model, setup.data.test)
        samples = effective_samples(problem, decision)
        one_step = predictor.step(loss, level, decision.level, samples)
        outcome = fedavg_round(
            model,
            setup,
            {names[name]: f for name, f in decision.fractions.items()},
            purpose="pact-execute",
            epoch=index,
            level=problem.model.levels[decision.level],
            trainer=trainer,
        )
        accuracy, realised = held_out(model, setup.data.test)
        cost = model_cost(model, shape)
        epoch = ExecutedEpoch(
            index=index,
            pruning=problem.model.levels[decision.level],
            nodes=dict(decision.fractions),
            samples=outcome.samples,
            effective_samples=samples,
            predicted_loss=predicted,
            one_step_loss=one_step,
            loss_after_pruning=after_pruning,
            realised_loss=realised,
            realised_accuracy=accuracy,
            predicted_time_s=epoch_time(problem, decision),
            time_s=epoch_time(problem, decision),
            predicted_energy_j=epoch_energy(problem, decision),
            energy_j=epoch_energy(problem, decision),
            flops_per_sample=cost.train_flops_per_sample,
            parameters=sum(p.numel() for p in model.parameters()),
            replanned=planned_after >= 0,
            planned_after=planned_after,
            rejected=outcome.rejected,
        )
        if not _close(cost.train_flops_per_sample, problem.model.flops_per_sample[decision.level]):
            notes.append(
                f"epoch {index}: the pruned model needs {cost.train_flops_per_sample:.6g} FLOPs "
                f"per sample, the problem says {problem.model.flops_per_sample[decision.level]:.6g}"
            )
        epochs.append(epoch)
        level, loss, elapsed = decision.level, realised, elapsed + epoch.time_s
        if on_epoch is not None:
            on_epoch(epoch, len(epochs) + len(queue))
        if not replan:
            continue
        if loss <= problem.target.loss:
            if queue:
                notes.append(
                    f"epoch {index}: the target is met; the {len(queue)} planned epochs left are "
                    "not run"
                )
            break
        remaining = remaining_problem(problem, level, loss, elapsed, len(epochs))
        if isinstance(remaining, str):
            notes.append(f"epoch {index}: no re-planning: {remaining}")
            break
        new_plan = make_solver(solver, epsilon).solve(remaining)
        if not new_plan.feasible:
            notes.append(
                f"epoch {index}: re-planning found no feasible plan from loss {loss:.6g}; "
                + ("the previous plan goes on" if queue else "stopping")
            )
            continue
        # The remaining problem numbers the levels from the current one: shift them back.
        queue = [
            Decision(level + d.level, dict(d.fractions)) for d in decisions_of(remaining, new_plan)
        ]
        queued_predictions = [e.loss_after for e in new_plan.epochs]
        planned_after = index
    return ExecutionResult(
        plan=plan,
        epochs=tuple(epochs),
        initial_loss=initial_loss,
        predicted_initial_loss=problem.curve.initial_loss,
        target_loss=problem.target.loss,
        deadline_s=problem.target.deadline_s,
        replan=replan,
        notes=tuple(notes),
        sources={"plan": str(plan_source), "problem": str(problem_source)},
    )


def plot_execution(result: ExecutionResult, path: str | Path) -> Path:
    """A PNG of the predicted and realised held-out loss per epoch (with the one-step
    predictions, the target and the pruning level), written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 4.2), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    x = list(range(len(result.epochs) + 1))
    realised = [result.initial_loss] + [e.realised_loss for e in result.epochs]
    predicted = [result.predicted_initial_loss] + [e.predicted_loss for e in result.epochs]
    axes.plot(x, predicted, "s--", color="C0", ms=4, label="predicted (plan in force)")
    axes.plot(
        x[1:],
        [e.one_step_loss for e in result.epochs],
        "x",
        color="C2",
        label="one-step prediction",
    )
    axes.plot(x, realised, "o-", color="C1", ms=4, label="realised")
    axes.axhline(result.target_loss, color="k", ls=":", lw=1, label="target")
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("held-out cross-entropy")
    title = "re-planned every epoch" if result.replan else "plan as given"
    axes.set_title(
        f"execution ({title}): {result.energy_j:.4g} J, {result.time_s:.4g} s, "
        f"final loss {result.final_loss:.4g}"
    )
    levels = axes.twinx()
    levels.step(x[1:], [e.pruning for e in result.epochs], where="mid", color="0.6", lw=1)
    levels.set_ylabel("pruning level", color="0.4")
    levels.set_ylim(-0.05, 1.0)
    axes.legend(fontsize=8, loc="upper right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return atomic_write_bytes(Path(path), buffer.getvalue())


def write_execution(result: ExecutionResult, directory: str | Path) -> tuple[Path, Path]:
    """Write ``execution.json`` and ``execution.png`` into ``directory`` atomically."""
    directory = Path(directory)
    text = json.dumps(result.to_json(), indent=1, allow_nan=True) + "\n"
    written = atomic_write_text(directory / "execution.json", text)
    return written, plot_execution(result, directory / "execution.png")
