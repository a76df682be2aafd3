"""Tests of leantrain.report: loading run directories, figures and the markdown report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leantrain.errors import InputError
from leantrain.fl.records import RoundRecord, RunSummary, summarise
from leantrain.report import (
    RunResult,
    collect_targets,
    load_run_dir,
    plot_accuracy,
    summary_table,
    write_figures,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
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
    (directory / "rounds.jsonl").write_text(
        "".join(r.to_json() + "\n" for r in records), encoding="utf-8"
    )
    summary = summarise(strategy, records, TARGETS, wall_time_s=1.5)
    (directory / "summary.json").write_text(
        json.dumps({strategy: summary.to_dict()}, indent=2), encoding="utf-8"
    )
    return summary


def write_comparison(directory: Path, runs: dict[str, list[RoundRecord]]) -> dict[str, RunSummary]:
    """Write a ``leantrain compare`` directory; returns the summaries in ``runs`` order."""
    summaries = {name: write_single(directory / name, name, recs) for name, recs in runs.items()}
    (directory / "config.toml").write_text("seed = 0\n", encoding="utf-8")
    (directory / "summary.json").write_text(
        json.dumps({name: s.to_dict() for name, s in summaries.items()}, indent=2),
        encoding="utf-8",
    )
    return summaries


@pytest.fixture
def comparison(tmp_path: Path) -> Path:
    """A comparison where ``fedavg-drop`` (listed first) drops devices and reaches 80% only."""
    directory = tmp_path / "cmp"
    drops = [{"d3": "deadline"}, {"d3": "deadline", "d4": "exception: boom"}, {}, {}]
    write_comparison(
        directory,
        {
            "fedavg-drop": make_records([0.5, None, 0.85, 0.9], energy_j=50.0, dropped=drops),
            "fedavg": make_records([0.6, 0.9, 0.96], energy_j=1500.0),
        },
    )
    return directory


def test_load_single_run_round_trips(tmp_path: Path) -> None:
    records = make_records([0.5, 0.8, 0.9])
    summary = write_single(tmp_path, "fedavg", records)

    runs = load_run_dir(tmp_path)

    assert runs == [RunResult("fedavg", tuple(records), summary)]
    assert summary.time_to_accuracy_s == {"0.8": 20.0, "0.95": None}


def test_load_comparison_keeps_summary_order(comparison: Path) -> None:
    runs = load_run_dir(comparison)

    assert [r.strategy for r in runs] == ["fedavg-drop", "fedavg"]
    assert runs[0].records[1].accuracy is None
    assert runs[0].records[1].reasons == {"d3": "deadline", "d4": "exception: boom"}
    assert runs[1].summary.total_energy_j == pytest.approx(4500.0)
    assert runs[1].records == tuple(make_records([0.6, 0.9, 0.96], energy_j=1500.0))


def test_rounds_without_summary_are_read_as_a_single_run(tmp_path: Path) -> None:
    directory = tmp_path / "interrupted"
    directory.mkdir()
    records = make_records([0.4, 0.7])
    (directory / "rounds.jsonl").write_text("\n".join(r.to_json() for r in records))

    (run,) = load_run_dir(directory)

    assert run.strategy == "interrupted"
    assert run.records == tuple(records)
    assert run.summary.rounds == 2
    assert run.summary.wall_time_s == 0.0


def test_non_run_directory_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")

    with pytest.raises(InputError) as caught:
        load_run_dir(tmp_path)

    assert caught.value.file == str(tmp_path)
    assert caught.value.field == "<dir>"
    assert caught.value.message == "no rounds.jsonl or summary.json: not a run directory"


def test_corrupted_rounds_line_names_file_and_line(tmp_path: Path) -> None:
    write_single(tmp_path, "fedavg", make_records([0.5, 0.8, 0.9]))
    rounds = tmp_path / "rounds.jsonl"
    lines = rounds.read_text().splitlines()
    lines[1] = lines[1][: len(lines[1]) // 2]
    rounds.write_text("\n".join(lines) + "\n")

    with pytest.raises(InputError) as caught:
        load_run_dir(tmp_path)

    assert caught.value.file == str(rounds)
    assert caught.value.field == "line 2"
    assert "invalid JSON" in caught.value.message


def test_round_record_with_wrong_type_is_an_input_error(tmp_path: Path) -> None:
    write_single(tmp_path, "fedavg", make_records([0.5]))
    rounds = tmp_path / "rounds.jsonl"
    data = json.loads(rounds.read_text())
    data["accuracy"] = "high"
    rounds.write_text(json.dumps(data) + "\n")

    with pytest.raises(InputError, match=r"line 1\.accuracy: must be a number or null"):
        load_run_dir(tmp_path)


def test_corrupted_summary_names_file_and_line(tmp_path: Path) -> None:
    write_single(tmp_path, "fedavg", make_records([0.5]))
    summary = tmp_path / "summary.json"
    text = summary.read_text().replace('"rounds": 1', '"rounds": ')
    summary.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if '"rounds"' in s)

    with pytest.raises(InputError) as caught:
        load_run_dir(tmp_path)

    assert caught.value.file == str(summary)
    assert caught.value.field == f"line {line}"


def test_summary_strategy_without_rounds_is_an_input_error(comparison: Path) -> None:
    (comparison / "fedavg" / "rounds.jsonl").unlink()

    with pytest.raises(InputError) as caught:
        load_run_dir(comparison)

    assert caught.value.field == "fedavg"
    assert "no rounds" in caught.value.message


def test_figures_are_png_files_written_atomically(comparison: Path) -> None:
    runs = load_run_dir(comparison)

    paths = write_figures(comparison, runs, targets=[0.8, 0.95])

    assert paths == [comparison / "accuracy.png", comparison / "energy.png"]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 1000
    assert not [p for p in comparison.iterdir() if p.name.endswith(".tmp")]


def test_figure_of_a_run_without_evaluations_is_still_written(tmp_path: Path) -> None:
    run = RunResult("idle", (), summarise("idle", [], (), 0.0))

    path = plot_accuracy([run], tmp_path / "sub" / "acc.png", targets=[0.9])

    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_summary_table_formats_and_marks_unreached_targets(comparison: Path) -> None:
    runs = load_run_dir(comparison)

    header, rows = summary_table(runs, collect_targets(runs))

    assert header == [
        "Strategy",
        "Final acc (%)",
        "Best acc (%)",
        "Time to 80% (s)",
        "Time to 95% (s)",
        "Energy",
        "Sim time (s)",
        "Wall time (s)",
    ]
    assert rows == [
        ["fedavg-drop", "90.00", "90.00", "30.0", "—", "200.0 J", "40.0", "1.5"],
        ["fedavg", "96.00", "96.00", "20.0", "30.0", "4.50 kJ", "30.0", "1.5"],
    ]


def test_summary_table_computes_targets_missing_from_the_summary(comparison: Path) -> None:
    runs = load_run_dir(comparison)

    _, rows = summary_table(runs, [0.5, 0.99])

    assert [row[3:5] for row in rows] == [["10.0", "—"], ["10.0", "—"]]


def test_write_report(comparison: Path) -> None:
    path = write_report(comparison)

    assert path == comparison / "report.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# leantrain report: cmp\n")
    assert "| fedavg-drop | 90.00 | 90.00 | 30.0 | — | 200.0 J | 40.0 | 1.5 |" in text
    assert "| fedavg | 96.00 | 96.00 | 20.0 | 30.0 | 4.50 kJ | 30.0 | 1.5 |" in text
    assert "](accuracy.png)" in text
    assert "](energy.png)" in text
    # Rounds: strategy, rounds, evaluated, participants, dropped, drop rate.
    assert "| fedavg-drop | 4 | 3 | 12 | 3 | 20.0 |" in text
    assert "| fedavg | 3 | 3 | 9 | 0 | 0.0 |" in text
    assert "| fedavg-drop | deadline | 2 |" in text
    assert "| fedavg-drop | exception: boom | 1 |" in text
    for name in ("accuracy.png", "energy.png"):
        assert (comparison / name).read_bytes().startswith(PNG_SIGNATURE)
    assert not [p for p in comparison.iterdir() if p.name.endswith(".tmp")]


def test_write_report_single_run_without_drops(tmp_path: Path) -> None:
    write_single(tmp_path / "run", "fedavg", make_records([0.5, 0.8, 0.9]))

    text = write_report(tmp_path / "run").read_text(encoding="utf-8")

    assert "| fedavg | 90.00 | 90.00 | 20.0 | — | 300.0 J | 30.0 | 1.5 |" in text
    assert "No device was dropped." in text
    assert (tmp_path / "run" / "accuracy.png").is_file()


def test_write_report_rejects_a_non_run_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a run directory"):
        write_report(tmp_path)
    assert not (tmp_path / "report.md").exists()
