"""Reading a run directory back into memory: the one reader ``fl`` and ``report`` share
(docs/world-model.md, 'The run directory').

Two layouts are recognised:

* a single run (``leantrain train``): ``DIR/rounds.jsonl`` and ``DIR/summary.json`` holding one
  strategy;
* a comparison (``leantrain compare``): ``DIR/summary.json`` holding several strategies, and
  ``DIR/<strategy>/`` holding each strategy's own single-run directory.

A directory with a ``rounds.jsonl`` but no ``summary.json`` (an interrupted run) is read as a single
run named after the directory, its summary recomputed from the rounds. Every file is read through
its model in :mod:`leantrain.fl.run_files`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leantrain.errors import InputError
from leantrain.fl.records import RoundRecord, RunSummary, summarise
from leantrain.fl.run_files import read_rounds, read_summary

__all__ = ["ROUNDS_FILE", "SUMMARY_FILE", "RunResult", "load_run_dir"]

ROUNDS_FILE = "rounds.jsonl"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class RunResult:
    """One strategy's run, as read back from disk.

    Attributes:
        strategy: The strategy's name (its key in ``summary.json``).
        records: The run's rounds, in file order.
        summary: The run's headline figures.
    """

    strategy: str
    records: tuple[RoundRecord, ...]
    summary: RunSummary


def load_run_dir(directory: Path) -> list[RunResult]:
    """Read a single-run or comparison directory.

    Args:
        directory: The run directory (where a ``train`` or ``compare`` run was written).

    Returns:
        One result per strategy, in the order of ``summary.json``.

    Raises:
        InputError: The directory is not a run directory, a file is malformed (naming the file,
            the line or strategy, and the field), or a strategy's rounds cannot be found.
    """
    directory = Path(directory)
    summary_path = directory / SUMMARY_FILE
    rounds_path = directory / ROUNDS_FILE
    if not summary_path.is_file():
        if not rounds_path.is_file():
            raise InputError(
                directory, "<dir>", "no rounds.jsonl or summary.json: not a run directory"
            )
        records = read_rounds(rounds_path)
        # Host wall time is not part of the round records; an interrupted run has no figure.
        summary = summarise(directory.name, records, (), 0.0)
        return [RunResult(directory.name, tuple(records), summary)]

    summaries = read_summary(summary_path)
    results: list[RunResult] = []
    for strategy, summary in summaries.items():
        nested = directory / strategy / ROUNDS_FILE
        if _is_safe_name(strategy) and nested.is_file():
            source = nested
        elif len(summaries) == 1 and rounds_path.is_file():
            source = rounds_path
        else:
            raise InputError(
                summary_path,
                strategy,
                f"no rounds for this strategy: neither {nested} nor (single run) {rounds_path}",
            )
        results.append(RunResult(strategy, tuple(read_rounds(source)), summary))
    return results


def _is_safe_name(name: str) -> bool:
    """Whether a strategy name can be used as a sub-directory name as-is."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name
