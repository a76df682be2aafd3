"""Tests of leantrain.fl.records: a run's summary computed from its round records."""

from __future__ import annotations

from leantrain.fl.records import summarise
from run_dir_cases import make_records


def test_summary_figures_by_hand() -> None:
    records = make_records([0.5, None, 0.85, 0.8], energy_j=25.0)

    summary = summarise("x", records, (0.8, 0.9), wall_time_s=3.5)

    assert (summary.strategy, summary.rounds) == ("x", 4)
    assert summary.final_accuracy == 0.8  # the last evaluated round, not the best
    assert summary.best_accuracy == 0.85
    assert summary.time_to_accuracy_s == {"0.8": 30.0, "0.9": None}
    assert summary.total_energy_j == 100.0
    assert summary.sim_time_s == 40.0
    assert summary.wall_time_s == 3.5


def test_a_run_without_rounds_or_evaluations() -> None:
    empty = summarise("x", [], (0.5,), 0.0)
    assert (empty.rounds, empty.final_accuracy, empty.best_accuracy) == (0, None, None)
    assert (empty.sim_time_s, empty.total_energy_j, empty.time_to_accuracy_s) == (
        0.0,
        0.0,
        {"0.5": None},
    )
    unevaluated = summarise("x", make_records([None, None]), (0.5,), 0.0)
    assert unevaluated.final_accuracy is None and unevaluated.rounds == 2
