"""Loading a run directory (SPEC 7.2) back into memory.

Two layouts are recognised:

* a single run (``leantrain train``): ``DIR/rounds.jsonl`` and ``DIR/summary.json`` holding one
  strategy;
* a comparison (``leantrain compare``): ``DIR/summary.json`` holding several strategies, and
  ``DIR/<strategy>/`` holding each strategy's own single-run directory.

A directory with a ``rounds.jsonl`` but no ``summary.json`` (an interrupted run) is read as a single
run named after the directory, its summary recomputed from the rounds.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from leantrain.errors import InputError
from leantrain.fl.records import RoundRecord, RunSummary, summarise

__all__ = ["RunResult", "load_run_dir"]

ROUNDS_FILE = "rounds.jsonl"
SUMMARY_FILE = "summary.json"

_RECORD_FIELDS = frozenset(f.name for f in fields(RoundRecord))
_REQUIRED_RECORD_FIELDS = frozenset(
    f.name for f in fields(RoundRecord) if f.default is MISSING and f.default_factory is MISSING
)
_SUMMARY_FIELDS = frozenset(f.name for f in fields(RunSummary))


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
        directory: The run directory (``--out`` of ``leantrain train`` or ``leantrain compare``).

    Returns:
        One result per strategy, in the order of ``summary.json``.

    Raises:
        InputError: The directory is not a run directory, a file holds malformed JSON (naming
            the file and line), or a strategy's rounds cannot be found.
    """
    directory = Path(directory)
    summary_path = directory / SUMMARY_FILE
    rounds_path = directory / ROUNDS_FILE
    if not summary_path.is_file():
        if not rounds_path.is_file():
            raise InputError(
                directory, "<dir>", "no rounds.jsonl or summary.json: not a run directory"
            )
        records = _read_records(rounds_path)
        # Host wall time is not part of the round records; an interrupted run has no figure.
        summary = summarise(directory.name, records, (), 0.0)
        return [RunResult(directory.name, tuple(records), summary)]

    summaries = _read_summaries(summary_path)
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
        results.append(RunResult(strategy, tuple(_read_records(source)), summary))
    return results


def _is_safe_name(name: str) -> bool:
    """Whether a strategy name can be used as a sub-directory name as-is."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def _parse_json(text: str, path: Path, line: int | None = None) -> Any:
    """Parse JSON text, turning a syntax error into an :class:`InputError` with its line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        number = line if line is not None else error.lineno
        raise InputError(path, f"line {number}", f"invalid JSON: {error.msg}") from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(path, "<file>", f"cannot read: {error}") from None


def _read_records(path: Path) -> list[RoundRecord]:
    """Read ``rounds.jsonl``, validating each line enough for the report to rely on it."""
    records: list[RoundRecord] = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        data = _parse_json(line, path, number)
        where = f"line {number}"
        if not isinstance(data, dict):
            raise InputError(path, where, "a round record must be a JSON object")
        unknown = sorted(set(data) - _RECORD_FIELDS)
        if unknown:
            raise InputError(path, f"{where}.{unknown[0]}", "unknown key")
        missing = sorted(_REQUIRED_RECORD_FIELDS - set(data))
        if missing:
            raise InputError(path, f"{where}.{missing[0]}", "missing key")
        _check_record(data, path, where)
        records.append(RoundRecord.from_dict(data))
    return records


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_record(data: dict[str, Any], path: Path, where: str) -> None:
    """Type-check the fields of one round record."""
    if not isinstance(data["round"], int) or isinstance(data["round"], bool):
        raise InputError(path, f"{where}.round", "must be an integer")
    numbers = ["sim_time_s", "energy_j", "cumulative_energy_j", "round_time_s"]
    for name in numbers:
        if name in data and not _is_number(data[name]):
            raise InputError(path, f"{where}.{name}", "must be a number")
    for name in ("accuracy", "loss"):
        if data[name] is not None and not _is_number(data[name]):
            raise InputError(path, f"{where}.{name}", "must be a number or null")
    for name in ("participants", "dropped"):
        value = data[name]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(path, f"{where}.{name}", "must be a list of device names")
    reasons = data.get("reasons", {})
    if not isinstance(reasons, dict) or not all(isinstance(v, str) for v in reasons.values()):
        raise InputError(path, f"{where}.reasons", "must map device names to strings")
    extra = data.get("extra", {})
    if not isinstance(extra, dict) or not all(_is_number(v) for v in extra.values()):
        raise InputError(path, f"{where}.extra", "must map names to numbers")


def _read_summaries(path: Path) -> dict[str, RunSummary]:
    """Read ``summary.json``: strategy name to summary, in file order."""
    data = _parse_json(_read_text(path), path)
    if not isinstance(data, dict) or not data:
        raise InputError(path, "<root>", "must be a non-empty object: strategy to summary")
    summaries: dict[str, RunSummary] = {}
    for strategy, entry in data.items():
        if not isinstance(entry, dict):
            raise InputError(path, strategy, "a strategy's summary must be a JSON object")
        unknown = sorted(set(entry) - _SUMMARY_FIELDS)
        if unknown:
            raise InputError(path, f"{strategy}.{unknown[0]}", "unknown key")
        missing = sorted(_SUMMARY_FIELDS - set(entry))
        if missing:
            raise InputError(path, f"{strategy}.{missing[0]}", "missing key")
        _check_summary(entry, path, strategy)
        summaries[strategy] = RunSummary(**entry)
    return summaries


def _check_summary(entry: dict[str, Any], path: Path, strategy: str) -> None:
    """Type-check the fields of one strategy's summary."""
    if not isinstance(entry["strategy"], str):
        raise InputError(path, f"{strategy}.strategy", "must be a string")
    if not isinstance(entry["rounds"], int) or isinstance(entry["rounds"], bool):
        raise InputError(path, f"{strategy}.rounds", "must be an integer")
    for name in ("final_accuracy", "best_accuracy"):
        if entry[name] is not None and not _is_number(entry[name]):
            raise InputError(path, f"{strategy}.{name}", "must be a number or null")
    for name in ("total_energy_j", "sim_time_s", "wall_time_s"):
        if not _is_number(entry[name]):
            raise InputError(path, f"{strategy}.{name}", "must be a number")
    reached = entry["time_to_accuracy_s"]
    field = f"{strategy}.time_to_accuracy_s"
    if not isinstance(reached, dict):
        raise InputError(path, field, "must map targets to times")
    for key, value in reached.items():
        try:
            float(key)
        except ValueError:
            raise InputError(path, f"{field}.{key}", "target must be a number") from None
        if value is not None and not _is_number(value):
            raise InputError(path, f"{field}.{key}", "must be a number or null")
