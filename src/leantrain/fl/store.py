"""The run directory: per-round checkpoints and ``rounds.jsonl``, written atomically
(docs/world-model.md, 'The run directory').

A checkpoint holds everything needed to resume: the global state, the clock, the energy spent,
the strategy's own state and every round record so far. ``rounds.jsonl`` is rewritten from the
same records after each checkpoint, so the two never disagree after a resume.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from leantrain.errors import InputError
from leantrain.files import adapter, input_error
from leantrain.fl.records import RoundRecord
from leantrain.fl.run_files import CheckpointFile, record_line, rounds_text, selections_text
from leantrain.io import atomic_torch_save, atomic_write_text

__all__ = ["RunState", "RunStore"]

_CHECKPOINT = re.compile(r"^round_(\d{5})\.pt$")


@dataclass
class RunState:
    """The state of a run after ``round`` rounds.

    Attributes:
        round: Rounds completed.
        sim_time_s: Simulated time elapsed.
        cumulative_energy_j: Energy spent so far.
        global_state: The global model state.
        records: One record per completed round.
        strategy_state: Whatever the strategy keeps across rounds.
        wall_time_s: Host seconds spent so far.
    """

    round: int
    sim_time_s: float
    cumulative_energy_j: float
    global_state: dict[str, torch.Tensor]
    records: list[RoundRecord] = field(default_factory=list)
    strategy_state: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0


class RunStore:
    """Reads and writes one strategy's run directory.

    Args:
        directory: The run directory (created if needed).
        keep_checkpoints: How many of the newest checkpoints to keep.
    """

    def __init__(self, directory: Path, keep_checkpoints: int = 2) -> None:
        self.directory = Path(directory)
        self.keep_checkpoints = keep_checkpoints

    @property
    def checkpoint_dir(self) -> Path:
        """Where checkpoints go."""
        return self.directory / "checkpoints"

    @property
    def rounds_path(self) -> Path:
        """The ``rounds.jsonl`` file."""
        return self.directory / "rounds.jsonl"

    @property
    def selections_path(self) -> Path:
        """``selections.jsonl``: per round and device, the chosen cost ratio R over time."""
        return self.directory / "selections.jsonl"

    def save(self, state: RunState) -> None:
        """Checkpoint ``state`` and rewrite ``rounds.jsonl`` to match it."""
        checkpoint = CheckpointFile(
            round=state.round,
            sim_time_s=state.sim_time_s,
            cumulative_energy_j=state.cumulative_energy_j,
            global_state=state.global_state,
            records=[record_line(record) for record in state.records],
            strategy_state=state.strategy_state,
            wall_time_s=state.wall_time_s,
        )
        # dict(model) keeps the tensors themselves (model_dump would try to serialise them).
        atomic_torch_save(self.checkpoint_dir / f"round_{state.round:05d}.pt", dict(checkpoint))
        atomic_write_text(self.rounds_path, rounds_text(state.records))
        if any(r.selections for r in state.records):
            atomic_write_text(self.selections_path, selections_text(state.records))
        for old in self._checkpoints()[: -self.keep_checkpoints]:
            old.unlink(missing_ok=True)

    def latest(self) -> RunState | None:
        """The newest checkpoint's state, or None when the directory holds none.

        Raises:
            InputError: The newest checkpoint cannot be read or does not hold a run's state.
        """
        checkpoints = self._checkpoints()
        if not checkpoints:
            return None
        path = checkpoints[-1]
        try:
            payload = torch.load(path, weights_only=False)
        except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as error:
            raise InputError(path, "<checkpoint>", f"cannot resume from it: {error}") from None
        try:
            checkpoint = CheckpointFile.model_validate(payload, strict=True)
        except ValidationError as error:
            raise input_error(error, path) from None
        for name, value in checkpoint.global_state.items():
            if not isinstance(value, torch.Tensor):
                raise InputError(path, f"global_state.{name}", "must be a tensor")
        records: list[RoundRecord] = []
        for index, line in enumerate(checkpoint.records):
            try:
                records.append(adapter(RoundRecord).validate_json(line, strict=True))
            except ValidationError as error:
                raise input_error(error, path, f"records[{index}]") from None
        return RunState(
            round=checkpoint.round,
            sim_time_s=checkpoint.sim_time_s,
            cumulative_energy_j=checkpoint.cumulative_energy_j,
            global_state=dict(checkpoint.global_state),
            records=records,
            strategy_state=dict(checkpoint.strategy_state),
            wall_time_s=checkpoint.wall_time_s,
        )

    def _checkpoints(self) -> list[Path]:
        if not self.checkpoint_dir.is_dir():
            return []
        return sorted(p for p in self.checkpoint_dir.iterdir() if _CHECKPOINT.match(p.name))
