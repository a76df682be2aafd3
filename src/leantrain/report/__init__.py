"""Reports of run directories: loading them, figures and a markdown summary (SPEC 7.2)."""

from __future__ import annotations

from leantrain.report.figures import plot_accuracy, plot_energy, write_figures
from leantrain.report.markdown import collect_targets, summary_table, write_report
from leantrain.report.runs import RunResult, load_run_dir

__all__ = [
    "RunResult",
    "collect_targets",
    "load_run_dir",
    "plot_accuracy",
    "plot_energy",
    "summary_table",
    "write_figures",
    "write_report",
]
