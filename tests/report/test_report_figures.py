"""Tests of leantrain.report.figures: PNG figures of run directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from leantrain.fl.records import summarise
from leantrain.report import RunResult, load_run_dir, plot_accuracy, write_figures
from run_dir_cases import write_example_comparison

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def comparison(tmp_path: Path) -> Path:
    return write_example_comparison(tmp_path / "cmp")


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
