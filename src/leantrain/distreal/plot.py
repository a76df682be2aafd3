"""A PNG of a Pareto front: convergence proxy Q against resource requirement R.

Drawn on a :class:`matplotlib.figure.Figure` (no pyplot state, no display) and written atomically
by :func:`leantrain.io.save_png`.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from leantrain.distreal.front import Front
from leantrain.io import save_png

__all__ = ["plot_front"]

_DPI = 120


def plot_front(front: Front, path: str | Path) -> Path:
    """Plot ``front`` (Q against R) as a PNG at ``path``.

    The archive of every evaluated vector is drawn as faint dots, the front as a step line with
    markers (the best Q reachable within a budget R), and the uniform-dropout curve beside it.

    Args:
        front: The front, with its archive and uniform curve when it has them.
        path: Where to write the PNG.

    Returns:
        ``path``.
    """
    figure = Figure(figsize=(6.4, 4.4))
    FigureCanvasAgg(figure)  # tight_layout below measures text with the Agg renderer
    axes = figure.add_subplot()
    archive = [p for p in front.evaluated if not math.isnan(p.quality)]
    if archive:
        axes.scatter(
            [p.cost for p in archive],
            [p.quality for p in archive],
            s=14,
            color="0.55",
            alpha=0.35,
            linewidths=0,
            label=f"evaluated ({len(archive)})",
        )
    uniform = [p for p in front.uniform if not math.isnan(p.quality)]
    if uniform:
        axes.plot(
            [p.cost for p in uniform],
            [p.quality for p in uniform],
            linestyle="--",
            marker="s",
            markersize=4,
            color="C1",
            label="uniform dropout",
        )
    points = [p for p in front.points if not math.isnan(p.quality)]
    axes.step(
        [p.cost for p in points],
        [p.quality for p in points],
        where="post",
        marker="o",
        markersize=5,
        color="C0",
        label=f"Pareto front ({len(points)})",
    )
    axes.set_xlabel("R(d): training FLOPs relative to the full model")
    axes.set_ylabel("Q(d): proxy validation accuracy")
    axes.set_xlim(0.0, 1.05)
    axes.set_title(f"DISTREAL front of {front.identity.model}")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    return save_png(figure, path, _DPI)
