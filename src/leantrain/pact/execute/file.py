"""``execution.json``: written and read through one pydantic model (docs/file-formats.md,
'The execution JSON').

The writer serialises :class:`ExecutionFile` with the standard library's JSON encoder (one space
of indentation, NaN for an undefined error), so the text stays that of earlier versions; the
reader validates the same model strictly (:func:`~leantrain.files.read_json_model`). Its
``epochs`` are :class:`~leantrain.pact.execute.result.ExecutedEpoch` dataclasses themselves, nodes
and samples sorted by name.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from leantrain.files import read_json_model
from leantrain.io import atomic_write_text
from leantrain.pact.execute.plot import plot_execution
from leantrain.pact.execute.result import ExecutedEpoch, ExecutionResult

__all__ = [
    "ExecutionFile",
    "ExecutionTotals",
    "LossErrors",
    "read_execution",
    "write_execution",
]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class LossErrors(_Strict):
    """Mean and max absolute and relative error of predicted against realised losses."""

    mean_abs: float
    max_abs: float
    mean_rel: float
    max_rel: float


class ExecutionTotals(_Strict):
    """``totals``: the run's sums, the plan's own figures and the prediction errors."""

    epochs: int
    time_s: float
    energy_j: float
    predicted_time_s: float
    predicted_energy_j: float
    plan_time_s: float
    plan_energy_j: float
    plan_final_loss: float
    final_loss: float
    target_met: bool
    deadline_met: bool
    loss_error: LossErrors
    one_step_loss_error: LossErrors


class ExecutionFile(_Strict):
    """The whole of ``execution.json``."""

    plan: str
    problem: str
    replan: bool
    #: Absent from files written before the option existed (they ran every planned epoch).
    stop_at_target: bool = False
    solver: str
    target_loss: float
    deadline_s: float
    initial_loss: float
    predicted_initial_loss: float
    epochs: list[ExecutedEpoch]
    totals: ExecutionTotals
    notes: list[str]

    @classmethod
    def of(cls, result: ExecutionResult) -> ExecutionFile:
        """The file of ``result``."""
        return cls(
            plan=result.plan_source,
            problem=result.problem_source,
            replan=result.replan,
            stop_at_target=result.stop_at_target,
            solver=result.plan.solver,
            target_loss=result.target_loss,
            deadline_s=result.deadline_s,
            initial_loss=result.initial_loss,
            predicted_initial_loss=result.predicted_initial_loss,
            epochs=[_sorted(epoch) for epoch in result.epochs],
            totals=ExecutionTotals(
                epochs=len(result.epochs),
                time_s=result.time_s,
                energy_j=result.energy_j,
                predicted_time_s=result.predicted_time_s,
                predicted_energy_j=result.predicted_energy_j,
                plan_time_s=result.plan.duration_s,
                plan_energy_j=result.plan.energy_j,
                plan_final_loss=result.plan.final_loss,
                final_loss=result.final_loss,
                target_met=result.target_met,
                deadline_met=result.deadline_met,
                loss_error=LossErrors(**result.loss_errors()),
                one_step_loss_error=LossErrors(**result.loss_errors(one_step=True)),
            ),
            notes=list(result.notes),
        )

    def text(self) -> str:
        """The file's text."""
        return json.dumps(self.model_dump(), indent=1, allow_nan=True) + "\n"


def _sorted(epoch: ExecutedEpoch) -> ExecutedEpoch:
    """``epoch`` as the file holds it: nodes and samples sorted by name."""
    return replace(
        epoch, nodes=dict(sorted(epoch.nodes.items())), samples=dict(sorted(epoch.samples.items()))
    )


def write_execution(result: ExecutionResult, directory: str | Path) -> tuple[Path, Path]:
    """Write ``execution.json`` and ``execution.png`` into ``directory`` atomically."""
    directory = Path(directory)
    written = atomic_write_text(directory / "execution.json", ExecutionFile.of(result).text())
    return written, plot_execution(result, directory / "execution.png")


def read_execution(path: str | Path) -> ExecutionFile:
    """Read and validate an ``execution.json``.

    Raises:
        InputError: The file cannot be read, is not JSON, or does not fit :class:`ExecutionFile`.
    """
    return read_json_model(Path(path), ExecutionFile)
