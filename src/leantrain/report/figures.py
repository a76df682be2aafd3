"""PNG figures of one or several runs: accuracy and energy against simulated time.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas directly, so
no pyplot global state is touched and no display is needed. Each strategy keeps the same colour
in every figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from leantrain.fl.run_dir import RunResult
from leantrain.io import save_png

__all__ = [
    "ACCURACY_PNG",
    "COST_PNG",
    "ENERGY_PNG",
    "plot_accuracy",
    "plot_cost_ratio",
    "plot_energy",
    "write_figures",
]

ACCURACY_PNG = "accuracy.png"
ENERGY_PNG = "energy.png"
COST_PNG = "cost.png"

_DPI = 120


def _colour(index: int) -> str:
    """The colour of the ``index``-th strategy (matplotlib's default cycle)."""
    return f"C{index % 10}"


def _accuracy_points(run: RunResult) -> tuple[list[float], list[float], list[float]]:
    """Simulated time, cumulative energy and accuracy (%) of the evaluated rounds."""
    times: list[float] = []
    energies: list[float] = []
    accuracies: list[float] = []
    for record in run.records:
        if record.accuracy is not None:
            times.append(record.sim_time_s)
            energies.append(record.cumulative_energy_j)
            accuracies.append(100.0 * record.accuracy)
    return times, energies, accuracies


def _finish(axes: Axes) -> None:
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="best", fontsize="small")


def plot_accuracy(runs: Sequence[RunResult], path: Path, targets: Sequence[float] = ()) -> Path:
    """Plot test accuracy against simulated time, one line per strategy.

    Args:
        runs: The strategies' runs.
        path: Where to write the PNG (replaced atomically).
        targets: Accuracy targets (fractions) drawn as dashed horizontal lines.

    Returns:
        ``path``.
    """
    figure = Figure(figsize=(7.0, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for index, run in enumerate(runs):
        times, _, accuracies = _accuracy_points(run)
        axes.plot(times, accuracies, marker=".", color=_colour(index), label=run.strategy)
    for target in targets:
        axes.axhline(100.0 * target, color="grey", linestyle="--", linewidth=1.0)
        axes.annotate(
            f"{100.0 * target:g}%",
            xy=(1.0, 100.0 * target),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize="small",
            color="grey",
        )
    axes.set_xlabel("Simulated time (s)")
    axes.set_ylabel("Test accuracy (%)")
    axes.set_title("Test accuracy vs simulated time")
    _finish(axes)
    return save_png(figure, path, _DPI)


def plot_energy(runs: Sequence[RunResult], path: Path) -> Path:
    """Plot cumulative energy against simulated time, and accuracy against cumulative energy.

    Args:
        runs: The strategies' runs.
        path: Where to write the PNG (replaced atomically).

    Returns:
        ``path``.
    """
    figure = Figure(figsize=(11.0, 4.5), layout="constrained")
    energy_axes, accuracy_axes = figure.subplots(1, 2)
    for index, run in enumerate(runs):
        colour = _colour(index)
        energy_axes.plot(
            [r.sim_time_s for r in run.records],
            [r.cumulative_energy_j for r in run.records],
            marker=".",
            color=colour,
            label=run.strategy,
        )
        _, energies, accuracies = _accuracy_points(run)
        accuracy_axes.plot(energies, accuracies, marker=".", color=colour, label=run.strategy)
    energy_axes.set_xlabel("Simulated time (s)")
    energy_axes.set_ylabel("Cumulative energy (J)")
    energy_axes.set_title("Energy spent vs simulated time")
    accuracy_axes.set_xlabel("Cumulative energy (J)")
    accuracy_axes.set_ylabel("Test accuracy (%)")
    accuracy_axes.set_title("Test accuracy vs energy spent")
    _finish(energy_axes)
    _finish(accuracy_axes)
    return save_png(figure, path, _DPI)


def _uses_sub_models(run: RunResult) -> bool:
    return any(r.extra.get("mean_cost_ratio", 1.0) < 1.0 for r in run.records)


def plot_cost_ratio(runs: Sequence[RunResult], path: Path) -> Path:
    """The mean chosen cost ratio R of each round's participants against simulated time, for the
    strategies that train sub-models (DISTREAL and the sub-model baselines)."""
    figure = Figure(figsize=(7.0, 4.0))
    axes = figure.add_subplot()
    for index, run in enumerate(runs):
        if not _uses_sub_models(run):
            continue
        points = [
            (r.sim_time_s, r.extra["mean_cost_ratio"])
            for r in run.records
            if "mean_cost_ratio" in r.extra
        ]
        axes.plot(
            [t for t, _ in points],
            [c for _, c in points],
            marker=".",
            color=_colour(index),
            label=run.strategy,
        )
    axes.set_xlabel("simulated time (s)")
    axes.set_ylabel("mean chosen cost ratio R")
    axes.set_ylim(0.0, 1.05)
    axes.set_title("Sub-model size chosen by the devices")
    _finish(axes)
    return save_png(figure, path, _DPI)


def write_figures(
    directory: Path, runs: Sequence[RunResult], targets: Sequence[float] = ()
) -> list[Path]:
    """Write ``accuracy.png`` and ``energy.png`` into a run directory, and ``cost.png`` when a
    strategy trained sub-models.

    Args:
        directory: The run directory.
        runs: The strategies' runs.
        targets: Accuracy targets (fractions) marked on the accuracy figure.

    Returns:
        The paths written, accuracy figure first.
    """
    directory = Path(directory)
    written = [
        plot_accuracy(runs, directory / ACCURACY_PNG, targets),
        plot_energy(runs, directory / ENERGY_PNG),
    ]
    if any(_uses_sub_models(run) for run in runs):
        written.append(plot_cost_ratio(runs, directory / COST_PNG))
    return written
