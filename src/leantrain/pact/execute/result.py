"""A plan as executed: per epoch the predicted and realised figures (docs/pact-profile-execute.md,
'Execute').

An :class:`ExecutedEpoch` is also an entry of ``execution.json``'s ``epochs``: the file model
(:mod:`leantrain.pact.execute.file`) validates the dataclass itself, refusing unknown keys.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ConfigDict, with_config

from leantrain.pact.plan import Plan

__all__ = ["ExecutedEpoch", "ExecutionResult"]


@with_config(ConfigDict(extra="forbid"))
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
        one_step_loss: The problem's predictor applied to the observed loss before the epoch
            (with the online refit's λ in force when re-planning).
        loss_after_pruning: Held-out loss right after pruning (None when the level stayed).
        realised_loss: Held-out cross-entropy after the epoch.
        realised_accuracy: Held-out accuracy after the epoch.
        predicted_time_s: The plan's epoch time. time_s: the realised one (plan formula).
        predicted_energy_j: The plan's epoch energy. energy_j: the realised one (plan formula).
        flops_per_sample: Training FLOPs per sample of the model actually trained.
        parameters: Its parameter count.
        replanned: Whether a re-solved plan chose this epoch.
        planned_after: The epoch after which the plan in force was made (−1: the given plan);
            ``index − 1`` means the prediction was made from the loss observed just before.
        rejected: Nodes whose update was non-finite and left out of the average.
        progress_ratio: The epoch's realised progress over its predicted P(D) on its level's
            curve, from the loss observed before it (after pruning) to the realised one; None
            where a position is undefined (a loss at or below the curve's asymptote).
        progress_scale: λ of the online refit after this epoch (what ``--replan`` re-plans
            with; 1 without re-planning).
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
    progress_ratio: float | None = None
    progress_scale: float = 1.0


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
        stop_at_target: Whether it stopped once the target was met (always with ``replan``).
        notes: What happened besides the plan (re-planning fallbacks, an early stop...).
        plan_source: The plan file it ran. problem_source: The problem file.
    """

    plan: Plan
    epochs: tuple[ExecutedEpoch, ...]
    initial_loss: float
    predicted_initial_loss: float
    target_loss: float
    deadline_s: float
    replan: bool
    stop_at_target: bool = False
    notes: tuple[str, ...] = ()
    plan_source: str = "<plan>"
    problem_source: str = "<problem>"

    @property
    def mode(self) -> str:
        """How it ran, in words (the figure's title and the command's table)."""
        if self.replan:
            return "re-planned every epoch"
        return "as planned" + (", stopped at the target" if self.stop_at_target else "")

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

    @property
    def predicted_time_s(self) -> float:
        """Total time the plans in force predicted for the epochs run."""
        return math.fsum(e.predicted_time_s for e in self.epochs)

    @property
    def predicted_energy_j(self) -> float:
        """Total energy the plans in force predicted for the epochs run."""
        return math.fsum(e.predicted_energy_j for e in self.epochs)
