"""Results of a federated run as dataclasses: per round and per run (docs/world-model.md,
'The run directory').

They are also the entries of their files (``rounds.jsonl``, ``summary.json``): pydantic validates
them as they are, strictly and refusing unknown keys (:mod:`leantrain.fl.run_files`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, with_config

__all__ = ["RoundRecord", "RunSummary", "summarise"]

#: How the files that hold these records are read: no key the dataclass does not have.
_FILE_ENTRY = ConfigDict(extra="forbid")


def _targets_are_numbers(reached: dict[str, float | None]) -> dict[str, float | None]:
    """Refuse a target accuracy key that is not a number (a file's ``time_to_accuracy_s``)."""
    for target in reached:
        try:
            float(target)
        except ValueError:
            raise ValueError(f"target {target!r} is not a number") from None
    return reached


@with_config(_FILE_ENTRY)
@dataclass(frozen=True)
class RoundRecord:
    """What happened in one synchronous round.

    Only simulated quantities are recorded, so the same config and seed give the same
    ``rounds.jsonl``; host wall time is kept in the summary.

    Attributes:
        round: 1-based round index.
        sim_time_s: Simulated wall-clock time at the end of the round, since the run started.
        energy_j: Energy the fleet spent in this round (not cumulative).
        cumulative_energy_j: Energy spent since the run started, this round included.
        accuracy: Test accuracy of the global model after the round; None when not evaluated.
        loss: Test loss of the global model after the round; None when not evaluated.
        participants: Names of the devices whose update was aggregated.
        dropped: Names of selected devices whose update was not aggregated.
        reasons: Why each dropped device was dropped (``deadline``, ``exception: ...``,
            ``non-finite update``, ``timeout``...).
        round_time_s: Simulated duration of the round.
        extra: Strategy-specific figures (e.g. the mean chosen cost ratio).
        selections: Per device, ``[simulated time, cost ratio R]`` of every mini-batch it trained
            (the per-device log of chosen sub-models); kept out of ``rounds.jsonl`` and written
            to ``selections.jsonl``.
    """

    round: int
    sim_time_s: float
    energy_j: float
    cumulative_energy_j: float
    accuracy: float | None
    loss: float | None
    participants: list[str]
    dropped: list[str]
    reasons: dict[str, str] = field(default_factory=dict)
    round_time_s: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)
    selections: dict[str, list[list[float]]] = field(default_factory=dict)


@with_config(_FILE_ENTRY)
@dataclass(frozen=True)
class RunSummary:
    """The headline figures of one strategy's run (an entry of ``summary.json``).

    Attributes:
        time_to_accuracy_s: Target accuracy (as a string such as ``"0.97"``) to the simulated
            time at which the global model first reached it, or None if it never did.
    """

    strategy: str
    rounds: int
    final_accuracy: float | None
    best_accuracy: float | None
    time_to_accuracy_s: Annotated[dict[str, float | None], AfterValidator(_targets_are_numbers)]
    total_energy_j: float
    sim_time_s: float
    wall_time_s: float


def summarise(
    strategy: str, records: Sequence[RoundRecord], targets: Iterable[float], wall_time_s: float
) -> RunSummary:
    """Compute a run's summary from its round records."""
    evaluated = [r for r in records if r.accuracy is not None]
    reached: dict[str, float | None] = {}
    for target in targets:
        hit = next((r.sim_time_s for r in evaluated if (r.accuracy or 0.0) >= target), None)
        reached[f"{target:g}"] = hit
    accuracies = [r.accuracy for r in evaluated if r.accuracy is not None]
    return RunSummary(
        strategy=strategy,
        rounds=len(records),
        final_accuracy=accuracies[-1] if accuracies else None,
        best_accuracy=max(accuracies) if accuracies else None,
        time_to_accuracy_s=reached,
        total_energy_j=math.fsum(r.energy_j for r in records),
        sim_time_s=records[-1].sim_time_s if records else 0.0,
        wall_time_s=wall_time_s,
    )
