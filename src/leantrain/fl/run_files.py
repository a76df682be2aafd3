"""The files of a run directory and their pydantic models (docs/world-model.md, 'The run
directory').

* ``rounds.jsonl``: one :class:`RoundLine` per round (a :class:`RoundRecord` without its
  selections);
* ``selections.jsonl``: one :class:`SelectionsLine` per round that logged sub-model choices;
* ``summary.json``: :class:`SummaryFile`, strategy name to :class:`SummaryEntry`;
* ``checkpoints/round_NNNNN.pt``: a torch pickle of :class:`CheckpointFile`.

Each file is written from its model and read back through it (strict: unknown keys and values of
the wrong type are rejected), so a bad file is one :class:`~leantrain.errors.InputError` naming
the file and the field. The text written is what ``json.dumps`` made of the same values before
the models existed, byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, RootModel, field_validator

from leantrain.files import read_json_lines, read_json_model
from leantrain.fl.records import RoundRecord, RunSummary

__all__ = [
    "CheckpointFile",
    "RoundLine",
    "SelectionsLine",
    "SummaryEntry",
    "SummaryFile",
    "read_rounds",
    "read_selections",
    "read_summary",
    "rounds_text",
    "selections_text",
    "summary_text",
]


class _FileModel(BaseModel):
    """A model of something the project wrote: unknown keys are errors, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RoundLine(_FileModel):
    """One round as stored: a line of ``rounds.jsonl`` (without ``selections``) or an entry of a
    checkpoint's ``records`` (with them). Fields as in :class:`RoundRecord`."""

    round: int
    sim_time_s: float
    energy_j: float
    cumulative_energy_j: float
    accuracy: float | None
    loss: float | None
    participants: list[str]
    dropped: list[str]
    reasons: dict[str, str] = {}
    round_time_s: float = 0.0
    extra: dict[str, float] = {}
    selections: dict[str, list[list[float]]] = {}

    @classmethod
    def of(cls, record: RoundRecord) -> Self:
        """The stored form of ``record``."""
        return cls.model_validate(asdict(record))

    def record(self) -> RoundRecord:
        """The :class:`RoundRecord` this line holds."""
        return RoundRecord(**self.model_dump())

    def line(self, *, selections: bool = True) -> str:
        """One JSON line, keys sorted; ``rounds.jsonl`` leaves out the selections."""
        return json.dumps(
            self.model_dump(exclude=None if selections else {"selections"}), sort_keys=True
        )


class SelectionsLine(_FileModel):
    """A line of ``selections.jsonl``: per device, ``[simulated time, cost ratio R]`` of every
    mini-batch it trained in round ``round``."""

    round: int
    devices: dict[str, list[list[float]]]


class SummaryEntry(_FileModel):
    """One strategy's entry of ``summary.json``. Fields as in :class:`RunSummary`."""

    strategy: str
    rounds: int
    final_accuracy: float | None
    best_accuracy: float | None
    time_to_accuracy_s: dict[str, float | None]
    total_energy_j: float
    sim_time_s: float
    wall_time_s: float

    @field_validator("time_to_accuracy_s")
    @classmethod
    def _targets_are_numbers(cls, reached: dict[str, float | None]) -> dict[str, float | None]:
        for target in reached:
            try:
                float(target)
            except ValueError:
                raise ValueError(f"target {target!r} is not a number") from None
        return reached

    @classmethod
    def of(cls, summary: RunSummary) -> Self:
        """The stored form of ``summary``."""
        return cls.model_validate(asdict(summary))

    def summary(self) -> RunSummary:
        """The :class:`RunSummary` this entry holds."""
        return RunSummary(**self.model_dump())


class SummaryFile(RootModel[dict[str, SummaryEntry]]):
    """``summary.json``: strategy name to its summary, in run order (at least one)."""

    model_config = ConfigDict(frozen=True)

    @field_validator("root")
    @classmethod
    def _not_empty(cls, entries: dict[str, SummaryEntry]) -> dict[str, SummaryEntry]:
        if not entries:
            raise ValueError("must hold at least one strategy's summary")
        return entries


class CheckpointFile(_FileModel):
    """What a checkpoint holds: everything needed to resume a run after ``round`` rounds.

    ``global_state`` maps parameter names to tensors and ``strategy_state`` is whatever the
    strategy keeps; both are checked by the store, which knows torch (this module does not).
    ``records`` are :meth:`RoundLine.line` texts with their selections.
    """

    round: int
    sim_time_s: float
    cumulative_energy_j: float
    global_state: dict[str, Any]
    records: list[str]
    strategy_state: dict[str, Any]
    wall_time_s: float


def rounds_text(records: Sequence[RoundRecord]) -> str:
    """The text of ``rounds.jsonl`` for ``records``."""
    return "".join(RoundLine.of(r).line(selections=False) + "\n" for r in records)


def selections_text(records: Sequence[RoundRecord]) -> str:
    """The text of ``selections.jsonl``: one line per record that logged selections."""
    lines = (
        SelectionsLine(round=r.round, devices=r.selections).model_dump()
        for r in records
        if r.selections
    )
    return "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)


def summary_text(summaries: Sequence[RunSummary]) -> str:
    """The text of ``summary.json``: strategy name to its summary, in the given order."""
    payload = {s.strategy: SummaryEntry.of(s).model_dump() for s in summaries}
    return json.dumps(payload, indent=2) + "\n"


def read_rounds(path: Path) -> list[RoundRecord]:
    """Read a ``rounds.jsonl`` file.

    Raises:
        InputError: The file cannot be read or a line (``line N``) is not a round record.
    """
    return [line.record() for line in read_json_lines(Path(path), RoundLine)]


def read_selections(path: Path) -> list[SelectionsLine]:
    """Read a ``selections.jsonl`` file.

    Raises:
        InputError: The file cannot be read or a line (``line N``) is malformed.
    """
    return read_json_lines(Path(path), SelectionsLine)


def read_summary(path: Path) -> dict[str, RunSummary]:
    """Read ``summary.json``: strategy name to summary, in file order.

    Raises:
        InputError: The file cannot be read or is not a summary (naming the strategy and field).
    """
    entries = read_json_model(Path(path), SummaryFile).root
    return {strategy: entry.summary() for strategy, entry in entries.items()}
