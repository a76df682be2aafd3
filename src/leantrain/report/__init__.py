"""Reports of run directories: loading them, figures and a markdown summary (docs/cli.md);
every name is imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leantrain.lazy import lazy_exports

if TYPE_CHECKING:
    from leantrain.fl.run_dir import RunResult, load_run_dir
    from leantrain.report.figures import plot_accuracy, plot_energy, write_figures
    from leantrain.report.markdown import collect_targets, summary_table, write_report

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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "leantrain.fl.run_dir": ["RunResult", "load_run_dir"],
        "figures": ["plot_accuracy", "plot_energy", "write_figures"],
        "markdown": ["collect_targets", "summary_table", "write_report"],
    },
)
