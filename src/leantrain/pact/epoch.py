"""One epoch of a PACT plan on the federated runtime, and the held-out loss it is judged by.

An epoch (docs/runtime.md, 'PACT epochs on the same runtime') is one synchronous FedAvg round of
:mod:`leantrain.fl`'s client runtime: one :class:`~leantrain.fl.task.ClientTask` per training
node, with a :class:`~leantrain.fl.task.SampleSelection` (its share of the partition) and the
model's pruning level, run by any :class:`~leantrain.fl.executor.ClientExecutor`; the finite
states are averaged weighted by their samples with :func:`~leantrain.fl.aggregate.masked_average`.
``profile`` (FedAvg dynamics) and ``execute`` both train this way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from torch import nn

from leantrain.data import ArrayDataset
from leantrain.fl.aggregate import WeightedUpdate, is_finite_state, masked_average
from leantrain.fl.evaluate import Evaluator
from leantrain.fl.executor import ClientExecutor
from leantrain.fl.task import NO_DATA, ClientTask, SampleSelection
from leantrain.nn.state import clone_state

__all__ = ["EpochOutcome", "epoch_tasks", "held_out", "run_epoch"]


@dataclass(frozen=True)
class EpochOutcome:
    """What one epoch's round did.

    Attributes:
        samples: Per device name, the samples it trained on.
        rejected: Devices whose update held NaN/inf, or that failed or never answered, left out
            of the average.
    """

    samples: dict[str, int]
    rejected: tuple[str, ...]


def held_out(model: nn.Module, data: ArrayDataset) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` on ``data``, in evaluation mode (the model is
    left in evaluation mode)."""
    return Evaluator(model, data)(model.state_dict())


def epoch_tasks(
    fractions: Mapping[int, float], *, purpose: str, epoch: int, level: float
) -> list[ClientTask]:
    """The round's tasks, in fleet order: device ``i`` trains ``fractions[i]`` of its partition
    (the sample stream ``purpose``, ``epoch``) on the model pruned to ``level``, with no
    deadline."""
    return [
        ClientTask(
            round=epoch + 1,
            device_index=index,
            round_start_s=0.0,
            deadline_s=None,
            wait_limit_s=math.inf,
            policy="full",
            samples=SampleSelection(fractions[index], purpose, epoch),
            model_level=level,
        )
        for index in sorted(fractions)
    ]


def run_epoch(
    model: nn.Module,
    executor: ClientExecutor,
    fractions: Mapping[int, float],
    *,
    purpose: str,
    epoch: int,
    level: float = 0.0,
) -> EpochOutcome:
    """One synchronous FedAvg round on ``model`` (updated in place).

    Each device ``i`` in ``fractions`` trains one pass from the global weights over
    ``fractions[i]`` of its partition (:func:`epoch_tasks`), on ``executor``; the accepted
    (finite) states are averaged weighted by their samples
    (:func:`~leantrain.fl.aggregate.masked_average`, full updates), in fleet order. A device left
    with no sample sends nothing; one that failed, never answered or sent NaN/inf is left out and
    listed as rejected.

    Args:
        model: The global model, at pruning ratio ``level``.
        executor: Where the clients run.
        fractions: Per device index, the fraction of its partition it trains on.
        purpose: The random stream of the sample choice.
        epoch: The epoch index.
        level: The model's pruning ratio (the clients build the architecture from it).
    """
    global_state = clone_state(model.state_dict())
    tasks = epoch_tasks(fractions, purpose=purpose, epoch=epoch, level=level)
    updates: list[WeightedUpdate] = []
    samples: dict[str, int] = {}
    rejected: list[str] = []
    for update in executor.run(tasks, global_state):
        samples[update.device] = update.num_samples
        if update.status == "ok" and update.state is not None and is_finite_state(update.state):
            updates.append(WeightedUpdate(update.state, float(update.num_samples)))
        elif not (update.status == "dropped" and update.reason == NO_DATA):
            rejected.append(update.device)
    if updates:
        model.load_state_dict(masked_average(global_state, updates))
    return EpochOutcome(samples, tuple(rejected))
