"""The figure of the profiled loss curves (``problem.png``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from leantrain.io import save_png
from leantrain.pact.profile.result import ProfileResult

__all__ = ["plot_profile"]


def plot_profile(result: ProfileResult, path: str | Path) -> Path:
    """A PNG of every level's observed held-out losses (held-out points hollow) and its fitted
    curve, written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 4.5), dpi=120)
    FigureCanvasAgg(figure)  # tight_layout below needs the renderer
    axes = figure.add_subplot(1, 1, 1)
    holdout = result.options.holdout
    colours = [f"C{i}" for i in range(len(result.levels))]
    for level, colour in zip(result.levels, colours, strict=True):
        s = np.asarray(level.samples)
        y = np.asarray(level.losses)
        axes.plot(s[:-holdout], y[:-holdout], "o", color=colour, ms=4)
        axes.plot(s[-holdout:], y[-holdout:], "o", color=colour, mfc="none", ms=5)
        grid = np.linspace(float(s[0]), float(s[-1]), 200)
        axes.plot(
            grid,
            [level.fit.curve.loss(float(x)) for x in grid],
            "-",
            color=colour,
            label=f"ρ = {level.pruning:g} (held-out RMSE {level.fit.holdout_rmse:.3f})",
        )
    axes.axhline(result.problem.target.loss, color="k", ls=":", lw=1, label="default target")
    axes.set_yscale("log")
    axes.set_xlabel("cumulative training samples s")
    axes.set_ylabel("held-out cross-entropy")
    axes.set_title("profiled loss curves (hollow: held out of the fit)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return save_png(figure, path)
