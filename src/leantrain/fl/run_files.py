"""The files of a run directory and how they are read (docs/world-model.md, 'The run
directory').

* ``rounds.jsonl``: one :class:`~leantrain.fl.records.RoundRecord` per round, without its
  selections;
* ``selections.jsonl``: one :class:`SelectionsLine` per round that logged sub-model choices;
* ``summary.json``: strategy name to :class:`~leantrain.fl.records.RunSummary`;
* ``checkpoints/round_NNNNN.pt``: a torch pickle of :class:`CheckpointFile`.

The records and summaries are their own file entries: pydantic validates the dataclasses
themselves (strict: unknown keys and values of the wrong type are rejected), so a bad file is one
:class:`~leantrain.errors.InputError` naming the file and the field. The text written is
``json.dumps`` of the dataclasses' fields, as ever, byte for byte.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter

from leantrain.files import read_json_lines, read_json_model
from leantrain.fl.records import RoundRecord, RunSummary

__all__ = [
    "CheckpointFile",
    "SelectionsLine",
    "read_rounds",
    "read_selections",
    "read_summary",
    "record_line",
    "rounds_text",
    "selections_text",
    "summary_text",
]


class _FileModel(BaseModel):
    """A model of something the project wrote: unknown keys are errors, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def record_line(record: RoundRecord, *, selections: bool = True) -> str:
    """``record`` as one JSON line, keys sorted; ``rounds.jsonl`` leaves out the selections."""
    data = asdict(record)
    if not selections:
        del data["selections"]
    return json.dumps(data, sort_keys=True)


class SelectionsLine(_FileModel):
    """A line of ``selections.jsonl``: per device, ``[simulated time, cost ratio R]`` of every
    mini-batch it trained in round ``round``."""

    round: int
    devices: dict[str, list[list[float]]]


def _not_empty(entries: dict[str, RunSummary]) -> dict[str, RunSummary]:
    if not entries:
        raise ValueError("must hold at least one strategy's summary")
    return entries


@functools.cache
def _summary_file() -> TypeAdapter[dict[str, RunSummary]]:
    """``summary.json``: strategy name to its summary, in run order (at least one)."""
    return TypeAdapter[dict[str, RunSummary]](
        Annotated[dict[str, RunSummary], AfterValidator(_not_empty)]
    )


class CheckpointFile(_FileModel):
    """What a checkpoint holds: everything needed to resume a run after ``round`` rounds.

    ``global_state`` maps parameter names to tensors and ``strategy_state`` is whatever the
    strategy keeps; both are checked by the store, which knows torch (this module does not).
    ``records`` are :func:`record_line` texts with their selections.
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
    return "".join(record_line(r, selections=False) + "\n" for r in records)


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
    payload = {s.strategy: asdict(s) for s in summaries}
    return json.dumps(payload, indent=2) + "\n"


def read_rounds(path: Path) -> list[RoundRecord]:
    """Read a ``rounds.jsonl`` file.

    Raises:
        InputError: The file cannot be read or a line (``line N``) is not a round record.
    """
    return read_json_lines(Path(path), RoundRecord)


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
    return read_json_model(Path(path), _summary_file())
