"""The figure of an execution (``execution.png``): predicted against realised loss per epoch."""

from __future__ import annotations

from pathlib import Path

from leantrain.io import save_png
from leantrain.pact.execute.result import ExecutionResult

__all__ = ["plot_execution"]


def plot_execution(result: ExecutionResult, path: str | Path) -> Path:
    """A PNG of the predicted and realised held-out loss per epoch (with the one-step
    predictions, the target and the pruning level), written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 4.2), dpi=120)
    FigureCanvasAgg(figure)  # tight_layout below needs the renderer
    axes = figure.add_subplot(1, 1, 1)
    x = list(range(len(result.epochs) + 1))
    realised = [result.initial_loss] + [e.realised_loss for e in result.epochs]
    predicted = [result.predicted_initial_loss] + [e.predicted_loss for e in result.epochs]
    axes.plot(x, predicted, "s--", color="C0", ms=4, label="predicted (plan in force)")
    axes.plot(
        x[1:],
        [e.one_step_loss for e in result.epochs],
        "x",
        color="C2",
        label="one-step prediction",
    )
    axes.plot(x, realised, "o-", color="C1", ms=4, label="realised")
    axes.axhline(result.target_loss, color="k", ls=":", lw=1, label="target")
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("held-out cross-entropy")
    axes.set_title(
        f"execution ({result.mode}): {result.energy_j:.4g} J, {result.time_s:.4g} s, "
        f"final loss {result.final_loss:.4g}"
    )
    levels = axes.twinx()
    levels.step(x[1:], [e.pruning for e in result.epochs], where="mid", color="0.6", lw=1)
    levels.set_ylabel("pruning level", color="0.4")
    levels.set_ylim(-0.05, 1.0)
    axes.legend(fontsize=8, loc="upper right")
    figure.tight_layout()
    return save_png(figure, path)
