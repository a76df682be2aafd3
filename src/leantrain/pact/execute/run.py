"""``execute``: carry out a PACT plan with real training (docs/pact-profile-execute.md,
'Execute').

A plan (``leantrain plan``) is run on the fleet of a run config, against the problem it was made
from (``leantrain profile``):

* **Nodes are devices, by name** (:func:`~leantrain.pact.execute.check.check_plan`).
* **Pruning.** The global model starts from the run's deterministic initial weights (the model
  ``profile`` started from). When an epoch's level is above the current one, the global model is
  pruned to it with Torch-Pruning before the epoch (:func:`~leantrain.nn.pruning.prune_model`:
  structured, channels physically removed; the same per-layer widths as the profiled level).
* **One FedAvg round per epoch** on the client runtime (:func:`~leantrain.pact.epoch.run_epoch`),
  its clients run by a :class:`~leantrain.fl.executor.ClientExecutor` (in-process, or Flower
  ClientApps): each training node trains one pass over ``fraction`` of its partition (the prefix
  of a permutation drawn per (epoch, device) from the config's seed) with the config's SGD
  settings; the updates are averaged weighted by samples (non-finite ones, and nodes that failed,
  are rejected).
* **Realised loss**: cross-entropy of the global model on the held-out set, the config's test
  split, the same set profile measured its curves on.
* **Realised time and energy** are the plan formulas (:func:`~leantrain.pact.plan.epoch_time`,
  :func:`~leantrain.pact.plan.epoch_energy`) applied to the epoch's decision. They are
  deterministic given the decision, so they equal the predicted figures: availability traces are
  not part of PACT's model, and a rejected update still spent its time and energy.
* **Re-planning** (``replan=True``, receding horizon): after every epoch, unless the observed loss
  already meets the target (then execution stops), the remaining problem is built
  (:func:`~leantrain.pact.execute.replan.remaining_problem`) and solved; execution continues with
  the new plan's first epoch. When it finds no feasible plan, the rest of the previous plan is
  kept (and noted).
* **Stop at the target** (``stop_at_target=True``, implied by re-planning): the plan as given, but
  once the observed loss meets the target the epochs left are not run (and noted). The plan's
  planning margin is then spent only by executions that train slower than predicted.
* **Online refit** (with re-planning): every epoch's realised progress on its level's curve
  (from the loss observed before it, after pruning, to the realised loss) over its predicted
  P(D) gives a ratio; the remaining problem is re-planned with λ = their geometric mean shrunk
  towards the profile's 1 (:func:`~leantrain.pact.execute.replan.progress_scale`), so each
  realised epoch updates the curves' rate, not only the starting point.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from leantrain.errors import InputError
from leantrain.fl.executor import ClientExecutor
from leantrain.fl.inprocess import LocalExecutor
from leantrain.fl.setup import FederatedSetup
from leantrain.nn import model_cost
from leantrain.nn.pruning import prunable_widths, prune_model
from leantrain.pact.epoch import held_out, run_epoch
from leantrain.pact.execute.check import check_plan, close
from leantrain.pact.execute.replan import progress_scale, remaining_problem
from leantrain.pact.execute.result import ExecutedEpoch, ExecutionResult
from leantrain.pact.plan import (
    Decision,
    Plan,
    decisions_of,
    effective_samples,
    epoch_energy,
    epoch_time,
    evaluate,
)
from leantrain.pact.predictor import LossPredictor
from leantrain.pact.problem import Problem
from leantrain.pact.rotation import take_turns
from leantrain.pact.solver import DEFAULT_EPSILON, Solver, make_solver

__all__ = ["execute_plan"]


def _replanner(solver: str, epsilon: float) -> Solver:
    try:
        return make_solver(solver, epsilon)
    except KeyError:
        raise InputError(
            "execute options",
            "solver",
            f"re-planning needs the {solver!r} solver, which is not installed",
        ) from None


def _figure_notes(given: Plan, recomputed: Plan) -> list[str]:
    """A note when the plan's figures are not those its problem gives its decisions."""
    for mine, theirs in zip(recomputed.epochs, given.epochs, strict=True):
        if not (close(mine.loss_after, theirs.loss_after) and close(mine.end_s, theirs.end_s)):
            return [
                f"the plan's figures differ from the problem's from epoch {mine.index} on "
                "(another problem, or edited): the problem's are used"
            ]
    return []


class _Execution:
    """The global model and what is known after each epoch of one execution.

    Args:
        problem: The problem the plan was made for.
        setup: The run's setup.
        executor: Where the nodes' passes run.
        notes: Where to note what happens besides the plan.
        refit: Whether the online refit's λ is recorded (re-planning uses it).
    """

    def __init__(
        self,
        problem: Problem,
        setup: FederatedSetup,
        executor: ClientExecutor,
        notes: list[str],
        refit: bool = False,
    ) -> None:
        self.problem = problem
        self.refit = refit
        self.setup = setup
        self.executor = executor
        self.predictor = LossPredictor.of(problem)
        self.device_of = {device.name: device.index for device in setup.fleet.devices}
        self.model = setup.build_model()
        self.full_widths = prunable_widths(self.model)
        _, self.initial_loss = held_out(self.model, setup.data.test)
        self.level, self.loss, self.elapsed = 0, self.initial_loss, 0.0
        self.ratios: list[float] = []  # realised / predicted progress of every epoch so far
        self.notes = notes
        if not close(self.initial_loss, problem.curve.initial_loss):
            self.notes.append(
                f"the initial model's held-out loss is {self.initial_loss:.6g}, the problem's "
                f"initial_loss {problem.curve.initial_loss:.6g}"
            )

    def epoch(
        self, index: int, decision: Decision, predicted: float, planned_after: int
    ) -> ExecutedEpoch:
        """Prune if the decision asks for it, train one round, measure it; the state moves on."""
        problem, setup = self.problem, self.setup
        pruning = problem.model.levels[decision.level]
        after_pruning: float | None = None
        if decision.level > self.level:
            shape = setup.data.train.input_shape
            prune_model(self.model, pruning, self.full_widths, shape)
            _, after_pruning = held_out(self.model, setup.data.test)
        samples = effective_samples(problem, decision)
        scale = self.scale if self.refit else 1.0  # the rate the plan in force was made with
        one_step = self.predictor.step(self.loss, self.level, decision.level, samples, scale)
        outcome = run_epoch(
            self.model,
            self.executor,
            {self.device_of[name]: f for name, f in decision.fractions.items()},
            purpose="pact-execute",
            epoch=index,
            level=pruning,
        )
        accuracy, realised = held_out(self.model, setup.data.test)
        ratio = self._progress_ratio(decision.level, after_pruning, realised, samples)
        if ratio is not None:
            self.ratios.append(ratio)
        cost = model_cost(self.model, setup.data.train.input_shape)
        epoch = ExecutedEpoch(
            index=index,
            pruning=pruning,
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
            parameters=sum(p.numel() for p in self.model.parameters()),
            replanned=planned_after >= 0,
            planned_after=planned_after,
            rejected=outcome.rejected,
            progress_ratio=ratio,
            progress_scale=self.scale if self.refit else 1.0,
        )
        expected = problem.model.flops_per_sample[decision.level]
        if not close(cost.train_flops_per_sample, expected):
            self.notes.append(
                f"epoch {index}: the pruned model needs {cost.train_flops_per_sample:.6g} FLOPs "
                f"per sample, the problem says {expected:.6g}"
            )
        self.level, self.loss = decision.level, realised
        self.elapsed += epoch.time_s
        return epoch

    @property
    def scale(self) -> float:
        """λ of the online refit from the epochs so far."""
        return progress_scale(self.ratios)

    def _progress_ratio(
        self, level: int, after_pruning: float | None, realised: float, samples: float
    ) -> float | None:
        """Realised over predicted progress of an epoch on ``level``'s curve, from the loss
        observed before it (right after pruning when it pruned); None where undefined."""
        curve = self.predictor.curves[level]
        before = after_pruning if after_pruning is not None else self.loss
        predicted = self.predictor.progress(samples, level)
        moved = curve.position(realised) - curve.position(before)
        if not (math.isfinite(moved) and predicted > 0.0):
            return None
        return max(moved, 0.0) / predicted


def execute_plan(
    plan: Plan,
    problem: Problem,
    setup: FederatedSetup,
    *,
    replan: bool = False,
    stop_at_target: bool = False,
    solver: str = "pact",
    epsilon: float = DEFAULT_EPSILON,
    plan_source: str | Path = "<plan>",
    problem_source: str | Path = "<problem>",
    on_epoch: Callable[[ExecutedEpoch, int], None] | None = None,
    executor: ClientExecutor | None = None,
) -> ExecutionResult:
    """Run ``plan`` with real training (see the module docstring).

    Args:
        plan: The plan (its epochs; the figures are recomputed from ``problem``).
        problem: The problem the plan was made for.
        setup: The run config's data, fleet, partition and model.
        replan: Re-solve the remaining problem after every epoch (receding horizon); it stops
            once the target is met.
        stop_at_target: Without ``replan``, stop once the observed loss meets the target rather
            than run the plan's remaining epochs.
        solver: The solver used to re-plan.
        epsilon: Its granularity.
        plan_source: The plan file, for messages.
        problem_source: The problem file, for messages.
        on_epoch: Called after each epoch with the epoch and the number of epochs planned so far.
        executor: Where the nodes' passes run (in this process when None; the caller closes what
            it passes).

    Returns:
        Every epoch's predicted and realised figures.

    Raises:
        InputError: See :func:`~leantrain.pact.execute.check.check_plan`; or ``replan`` with a
            solver that is not installed.
    """
    decisions = check_plan(
        plan, problem, setup, plan_source=plan_source, problem_source=problem_source
    )
    replanner = _replanner(solver, epsilon) if replan else None
    predicted_plan = evaluate(problem, decisions, solver=plan.solver, epsilon=plan.epsilon)
    notes = _figure_notes(plan, predicted_plan)
    run = _Execution(problem, setup, executor or LocalExecutor(setup), notes, refit=replan)

    queue = list(decisions)
    queued_predictions = [e.loss_after for e in predicted_plan.epochs]
    planned_after = -1
    epochs: list[ExecutedEpoch] = []
    while queue and len(epochs) < problem.options.max_epochs:
        index = len(epochs)
        epoch = run.epoch(index, queue.pop(0), queued_predictions.pop(0), planned_after)
        epochs.append(epoch)
        if on_epoch is not None:
            on_epoch(epoch, len(epochs) + len(queue))
        if (replan or stop_at_target) and run.loss <= problem.target.loss:
            if queue:
                notes.append(
                    f"epoch {index}: the target is met; the {len(queue)} planned epochs left are "
                    "not run"
                )
            break
        if replanner is None:
            continue
        remaining = remaining_problem(
            problem, run.level, run.loss, run.elapsed, len(epochs), progress_scale=run.scale
        )
        if isinstance(remaining, str):
            notes.append(f"epoch {index}: no re-planning: {remaining}")
            break
        # The whole margin or nothing: a plan that only a smaller margin allows sits at the edge
        # of what is feasible, dearer than going on with the previous one (docs/pact.md,
        # 'Planning margin').
        new_plan = replanner.solve(remaining, shrink=False)
        if not new_plan.feasible:
            notes.append(
                f"epoch {index}: re-planning found no feasible plan from loss {run.loss:.6g}; "
                + ("the previous plan goes on" if queue else "stopping")
            )
            continue
        # The remaining problem numbers the levels from the current one: shift them back. The
        # new plan's turns start from what the nodes have trained so far.
        trained: dict[str, float] = defaultdict(float)
        for done in epochs:
            for name, fraction in done.nodes.items():
                trained[name] += fraction
        shifted = [
            Decision(run.level + d.level, dict(d.fractions))
            for d in decisions_of(remaining, new_plan)
        ]
        queue = take_turns(problem, shifted, used=trained)
        queued_predictions = [e.loss_after for e in new_plan.epochs]
        planned_after = index
    return ExecutionResult(
        plan=plan,
        epochs=tuple(epochs),
        initial_loss=run.initial_loss,
        predicted_initial_loss=problem.curve.initial_loss,
        target_loss=problem.target.loss,
        deadline_s=problem.target.deadline_s,
        replan=replan,
        stop_at_target=stop_at_target or replan,
        notes=tuple(notes),
        plan_source=str(plan_source),
        problem_source=str(problem_source),
    )
