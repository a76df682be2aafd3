"""PNG figures of PACT plans.

* :func:`plot_plan`: one plan in three panels: the predicted loss over time against the target
  and the deadline, with the pruning level on a twin axis; which nodes train in each epoch (a
  raster of epochs × nodes coloured by data fraction); the energy each node spends.
* :func:`plot_comparison`: several solvers' plans of one problem: their loss over time and their
  total energy.

Figures are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas directly (no pyplot
state, no display), rendered to bytes and written atomically. Every plotted figure is recomputed
from the problem and the plan's epochs (node energies with
:func:`~leantrain.pact.plan.node_energy`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from leantrain.io import save_png
from leantrain.pact.plan import Plan, node_energy
from leantrain.pact.problem import Problem

__all__ = ["node_energies", "plot_comparison", "plot_plan"]

_DPI = 120
#: Up to this many nodes every node is named on the axes; beyond it, a few evenly spaced ones.
_NAMED_NODES = 40


def node_energies(problem: Problem, plan: Plan) -> list[float]:
    """The energy each node of ``problem`` spends over ``plan``, in the problem's node order."""
    totals = dict.fromkeys((node.name for node in problem.node), 0.0)
    nodes = {node.name: node for node in problem.node}
    for epoch in plan.epochs:
        level = problem.level_index(epoch.pruning)
        for name, fraction in epoch.fractions.items():
            totals[name] += node_energy(problem, nodes[name], level, fraction)
    return [totals[node.name] for node in problem.node]


def _loss_steps(problem: Problem, plan: Plan) -> tuple[list[float], list[float]]:
    """Time and loss points of a post-step line: the loss changes at each epoch's end."""
    times = [0.0] + [epoch.end_s for epoch in plan.epochs]
    losses = [problem.curve.initial_loss] + [epoch.loss_after for epoch in plan.epochs]
    return times, losses


def _node_ticks(axes: Axes, problem: Problem, axis: str) -> None:
    """Name every node when there are few; otherwise a handful of evenly spaced ones."""
    count = len(problem.node)
    if count <= _NAMED_NODES:
        positions = list(range(count))
    else:
        positions = sorted({round(float(p)) for p in np.linspace(0, count - 1, 12)})
    labels = [problem.node[p].name for p in positions]
    size = "x-small" if count > 16 else "small"
    if axis == "y":
        axes.set_yticks(positions, labels, fontsize=size)
    else:
        axes.set_xticks(positions, labels, fontsize=size, rotation=90)


def _targets(axes: Axes, problem: Problem, duration: float) -> None:
    """The target line, and the deadline line, or (when the deadline lies far beyond the plans,
    which would squash them against the y axis) a note at the right edge."""
    axes.axhline(problem.target.loss, color="C3", linestyle="--", linewidth=1, label="target loss")
    deadline = problem.target.deadline_s
    if duration <= 0.0 or deadline <= 1.5 * duration:
        axes.axvline(deadline, color="0.3", linestyle=":", linewidth=1, label="deadline")
    else:
        axes.set_xlim(0.0, 1.05 * duration)
        axes.text(
            0.99,
            0.5,
            f"deadline {deadline:g} s →",
            transform=axes.transAxes,
            ha="right",
            va="center",
            fontsize="small",
            color="0.3",
        )


def plot_plan(problem: Problem, plan: Plan, path: str | Path) -> Path:
    """Plot ``plan`` of ``problem`` as a PNG at ``path`` (three panels, see the module docstring).

    The node raster puts epochs on the x axis and nodes (in the problem's order) on the y axis; a
    blank cell means the node does not train in that epoch. With more than 40 nodes only a dozen
    evenly spaced node names are shown, and the cells stay one pixel row or more each, so fleets
    of hundreds of nodes remain readable as a pattern.

    Args:
        problem: The problem the plan solves.
        plan: The plan (an infeasible plan without epochs gives a figure saying so).
        path: Where to write the PNG.

    Returns:
        ``path``.
    """
    count = len(problem.node)
    raster_height = 2.6 if count <= 20 else min(6.0, 0.15 * count)
    figure = Figure(figsize=(8.0, 4.0 + raster_height + 2.6))
    FigureCanvasAgg(figure)
    top, middle, bottom = figure.subplots(
        3, 1, gridspec_kw={"height_ratios": [4.0, raster_height, 2.6]}
    )
    title = (
        f"{plan.solver}: {plan.status}, {plan.energy_j:.4g} J, {plan.duration_s:.4g} s, "
        f"final loss {plan.final_loss:.4g}"
        if plan.epochs
        else f"{plan.solver}: no plan ({plan.status})"
    )
    figure.suptitle(title, fontsize="medium")

    times, losses = _loss_steps(problem, plan)
    top.step(times, losses, where="post", color="C0", marker="o", markersize=3, label="loss")
    _targets(top, problem, plan.duration_s)
    top.set_xlabel("time (s)")
    top.set_ylabel("predicted loss")
    top.grid(True, alpha=0.3)
    if plan.epochs:
        levels = top.twinx()
        starts = [epoch.start_s for epoch in plan.epochs] + [plan.epochs[-1].end_s]
        pruning = [epoch.pruning for epoch in plan.epochs] + [plan.epochs[-1].pruning]
        levels.step(starts, pruning, where="post", color="C2", linewidth=1.2, label="pruning ρ")
        levels.set_ylabel("pruning ratio ρ", color="C2")
        levels.set_ylim(-0.02, max(max(problem.levels), 0.05) * 1.1)
        handles = top.get_legend_handles_labels()
        extra = levels.get_legend_handles_labels()
        top.legend(
            handles[0] + extra[0], handles[1] + extra[1], loc="upper right", fontsize="small"
        )
    else:
        top.legend(loc="upper right", fontsize="small")

    index = {node.name: i for i, node in enumerate(problem.node)}
    grid = np.full((count, max(1, len(plan.epochs))), np.nan)
    for column, epoch in enumerate(plan.epochs):
        for name, fraction in epoch.fractions.items():
            grid[index[name], column] = fraction
    image = middle.imshow(
        grid,
        aspect="auto",
        interpolation="nearest",
        origin="lower",
        cmap="viridis",
        norm=Normalize(vmin=0.0, vmax=1.0),
        extent=(0.5, grid.shape[1] + 0.5, -0.5, count - 0.5),
    )
    figure.colorbar(image, ax=middle, label="data fraction f", pad=0.01)
    middle.set_xlabel("epoch")
    middle.set_ylabel("node")
    _node_ticks(middle, problem, "y")
    middle.xaxis.get_major_locator().set_params(integer=True)

    energies = node_energies(problem, plan)
    bottom.bar(range(count), energies, color="C1", width=0.8 if count <= 200 else 1.0)
    bottom.set_ylabel("energy (J)")
    bottom.set_xlim(-0.6, count - 0.4)
    _node_ticks(bottom, problem, "x")
    bottom.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    return save_png(figure, path, _DPI)


def plot_comparison(problem: Problem, plans: Mapping[str, Plan], path: str | Path) -> Path:
    """Plot several solvers' plans of ``problem``: loss over time (left) and total energy
    (right; a solver without a plan gets an empty slot marked "none").

    Args:
        problem: The problem.
        plans: Solver name → plan, in the order to show.
        path: Where to write the PNG.

    Returns:
        ``path``.
    """
    figure = Figure(figsize=(11.0, 4.4))
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3.0, 2.0]})
    for position, (name, plan) in enumerate(plans.items()):
        if not plan.epochs:
            continue
        times, losses = _loss_steps(problem, plan)
        left.step(times, losses, where="post", color=f"C{position % 10}", label=name)
    _targets(left, problem, max((p.duration_s for p in plans.values() if p.epochs), default=0.0))
    left.set_xlabel("time (s)")
    left.set_ylabel("predicted loss")
    left.grid(True, alpha=0.3)
    left.legend(loc="upper right", fontsize="small")

    names = list(plans)
    heights = [plans[n].energy_j if plans[n].feasible else 0.0 for n in names]
    colours = [f"C{i % 10}" for i in range(len(names))]
    right.bar(range(len(names)), heights, color=colours)
    top = max([h for h in heights if math.isfinite(h)] + [1.0])
    for position, name in enumerate(names):
        if not plans[name].feasible:
            right.text(position, 0.02 * top, "none", ha="center", va="bottom", fontsize="small")
    right.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize="small")
    right.set_ylabel("energy (J)")
    right.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    return save_png(figure, path, _DPI)
