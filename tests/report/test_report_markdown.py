"""Tests of leantrain.report.markdown: the summary table and the markdown report."""

from __future__ import annotations

from pathlib import Path

import pytest

from leantrain.errors import InputError
from leantrain.report import collect_targets, load_run_dir, summary_table, write_report
from run_dir_cases import make_records, write_example_comparison, write_single

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def comparison(tmp_path: Path) -> Path:
    return write_example_comparison(tmp_path / "cmp")


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
