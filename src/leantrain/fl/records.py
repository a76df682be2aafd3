"""Results of a federated run as dataclasses, and their on-disk form (SPEC 7.2).

``rounds.jsonl`` holds one :class:`RoundRecord` per line; ``summary.json`` maps each strategy name
to a :class:`RunSummary`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RoundRecord", "RunSummary", "read_rounds", "summarise"]


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

    def to_json(self, *, selections: bool = True) -> str:
        """The record as one JSON line; ``rounds.jsonl`` leaves out the selections."""
        data = asdict(self)
        if not selections:
            del data["selections"]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoundRecord:
        """Rebuild a record from its JSON form."""
        return cls(**data)

    @classmethod
    def from_json(cls, line: str) -> RoundRecord:
        """Rebuild a record from one line of ``rounds.jsonl``."""
        return cls.from_dict(json.loads(line))


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
    time_to_accuracy_s: dict[str, float | None]
    total_energy_j: float
    sim_time_s: float
    wall_time_s: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the summary."""
        return asdict(self)


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


def read_rounds(path: Path) -> list[RoundRecord]:
    """Read a ``rounds.jsonl`` file."""
    with path.open(encoding="utf-8") as lines:
        return [RoundRecord.from_dict(json.loads(line)) for line in lines if line.strip()]
