"""The learning rate of each round (docs/world-model.md, 'Learning-rate schedule').

A schedule is stepped once per round, after the round's tasks are configured, as a server-side
PyTorch scheduler would be: round r trains with the rate after r − 1 steps. The rate travels in
each :class:`~leantrain.fl.task.ClientTask`, so every engine's clients train with the same one.
"""

from __future__ import annotations

import bisect
import math

from leantrain.config import TrainingConfig

__all__ = ["round_lr"]


def round_lr(training: TrainingConfig, round_index: int) -> float:
    """The learning rate round ``round_index`` (1-based) trains with.

    Without a schedule it is ``training.lr``. With ``multistep`` it is ``lr · gamma^m``, m the
    number of milestones at or below r − 1 (PyTorch's ``MultiStepLR`` after r − 1 steps). With
    ``cosine`` it is ``min_lr + (lr − min_lr)·(1 + cos(π·s/H))/2`` with s = min(r − 1, H) and H
    the horizon (the closed form of ``CosineAnnealingLR``, held at ``min_lr`` after H steps).

    Raises:
        ValueError: ``round_index`` is below 1.
    """
    if round_index < 1:
        raise ValueError(f"rounds are numbered from 1, got {round_index}")
    schedule = training.lr_schedule
    if schedule is None:
        return training.lr
    steps = round_index - 1
    if schedule.kind == "multistep":
        passed = bisect.bisect_right(schedule.milestones, steps)
        return training.lr * schedule.gamma**passed
    horizon = schedule.horizon if schedule.horizon is not None else training.rounds
    progress = min(steps, horizon) / horizon
    return (
        schedule.min_lr + (training.lr - schedule.min_lr) * (1 + math.cos(math.pi * progress)) / 2
    )
