"""Run directories written by hand for the tests of their reader (fl/run_dir), their files
(fl/run_files) and the report: round records 10 simulated seconds apart, written with the
library's own writers."""

from __future__ import annotations

from pathlib import Path

from leantrain.fl.records import RoundRecord, RunSummary, summarise
from leantrain.fl.run import write_summary
from leantrain.fl.run_files import rounds_text

TARGETS = (0.8, 0.95)


def make_records(
    accuracies: list[float | None],
    energy_j: float = 100.0,
    dropped: list[dict[str, str]] | None = None,
) -> list[RoundRecord]:
    """Rounds 10 simulated seconds apart, spending ``energy_j`` each."""
    records: list[RoundRecord] = []
    for index, accuracy in enumerate(accuracies):
        reasons = dropped[index] if dropped else {}
        records.append(
            RoundRecord(
                round=index + 1,
                sim_time_s=10.0 * (index + 1),
                energy_j=energy_j,
                cumulative_energy_j=energy_j * (index + 1),
                accuracy=accuracy,
                loss=None if accuracy is None else 1.0 - accuracy,
                participants=["d0", "d1", "d2"],
                dropped=sorted(reasons),
                reasons=reasons,
                round_time_s=10.0,
                extra={"ratio": 0.5},
            )
        )
    return records


def write_single(directory: Path, strategy: str, records: list[RoundRecord]) -> RunSummary:
    """Write a ``leantrain train`` run directory; returns its summary."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.toml").write_text("seed = 0\n", encoding="utf-8")
    (directory / "checkpoints").mkdir(exist_ok=True)
    (directory / "rounds.jsonl").write_text(rounds_text(records), encoding="utf-8")
    summary = summarise(strategy, records, TARGETS, wall_time_s=1.5)
    write_summary(directory, [summary])
    return summary


def write_comparison(directory: Path, runs: dict[str, list[RoundRecord]]) -> dict[str, RunSummary]:
    """Write a ``leantrain compare`` directory; returns the summaries in ``runs`` order."""
    summaries = {name: write_single(directory / name, name, recs) for name, recs in runs.items()}
    (directory / "config.toml").write_text("seed = 0\n", encoding="utf-8")
    write_summary(directory, list(summaries.values()))
    return summaries


def write_example_comparison(directory: Path) -> Path:
    """A comparison where ``fedavg-drop`` (listed first) drops devices and reaches 80% only."""
    drops = [{"d3": "deadline"}, {"d3": "deadline", "d4": "exception: boom"}, {}, {}]
    write_comparison(
        directory,
        {
            "fedavg-drop": make_records([0.5, None, 0.85, 0.9], energy_j=50.0, dropped=drops),
            "fedavg": make_records([0.6, 0.9, 0.96], energy_j=1500.0),
        },
    )
    return directory
