"""The problem left after some epochs, re-anchored at the observed loss (receding-horizon
re-planning, docs/pact-profile-execute.md, 'Execute'). Plain planner arithmetic: no torch."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from leantrain.pact.predictor import LossPredictor
from leantrain.pact.problem import Problem, parse_problem

__all__ = ["PRIOR_EPOCHS", "progress_scale", "remaining_problem"]

#: The weight of the profile in the online refit, in epochs: λ starts at 1 and moves to the
#: realised ratios as epochs come in (two epochs' evidence weighs as much as the profile).
PRIOR_EPOCHS = 2.0

#: Realised-to-predicted progress ratios are clipped to [1/RATIO_CLIP, RATIO_CLIP] (an epoch that
#: lands at or below a curve's asymptote has an infinite implied progress).
RATIO_CLIP = 20.0


def progress_scale(ratios: Sequence[float], prior_epochs: float = PRIOR_EPOCHS) -> float:
    """The online refit of ``execute --replan`` (docs/pact-profile-execute.md, 'Execute'): λ, the
    geometric mean of the realised-to-predicted progress ratios of the epochs so far, shrunk
    towards the profile's λ = 1 by ``prior_epochs`` pseudo-epochs:
    λ = exp(Σ log r_j / (n + prior_epochs)), each r_j clipped to [1/20, 20]."""
    logs = [math.log(min(max(r, 1.0 / RATIO_CLIP), RATIO_CLIP)) for r in ratios]
    return math.exp(math.fsum(logs) / (len(logs) + prior_epochs)) if logs else 1.0


def _jumps_from(problem: Problem, level: int, loss: float) -> dict[str, list[float]]:
    """The jumps of the levels ≥ ``level`` relative to it, for a problem starting at ``loss``:
    jump[level + j] − jump[level] without slopes; with slopes, the jump from ``loss`` itself and
    β′_j = (1 + β_{level+j})/(1 + β_level) − 1 (the same maps g_{level+j} ∘ g_level⁻¹)."""
    curve = problem.curve
    if not any(curve.jump_slope or []):
        return {"jump": [j - curve.jump[level] for j in curve.jump[level:]]}
    predictor = LossPredictor.of(problem)
    base = 1.0 + predictor.slope(level)
    levels = range(level, len(curve.jump))
    jumps = [max(0.0, predictor.after_jump(loss, level, j) - loss) for j in levels]
    slopes = [(1.0 + predictor.slope(j)) / base - 1.0 for j in levels]
    # The jump lines cross where the profile wrote equal jumps with different slopes (its
    # running maximum): at the initial loss rounding orders them either way, and above it (an
    # epoch that raised the loss) they cross. A problem's jumps must not fall from one level to
    # the next at its initial loss nor at its lowest asymptote, so both ends take a running
    # maximum and the slopes that moved follow from them.
    tops = list(itertools.accumulate(jumps, max))
    drop = min(curve.c[level:]) - loss
    ends = [j + b * drop for j, b in zip(jumps, slopes, strict=True)]
    lows = list(itertools.accumulate(ends, max))
    if drop < 0.0:
        slopes = [
            b if (top, low) == (j, end) else (low - top) / drop
            for j, b, end, top, low in zip(jumps, slopes, ends, tops, lows, strict=True)
        ]
    return {"jump": tops, "jump_slope": slopes}


def remaining_problem(
    problem: Problem,
    level: int,
    loss: float,
    elapsed_s: float,
    epochs_done: int,
    progress_scale: float = 1.0,
) -> Problem | str:
    """The problem left after ``epochs_done`` epochs, at ``level``, with ``loss`` observed.

    * deadline T − ``elapsed_s``; ``max_epochs`` minus ``epochs_done``; ``initial_loss`` =
      ``loss``; the same nodes, fractions and target;
    * the levels ≥ ``level`` only, renumbered from 0: level ``level + j`` of ``problem`` is level
      j of the result, with pruning ratio 1 − (1 − ρ_{level+j})/(1 − ρ_level) (the share of the
      *current* model's channels it removes, so the first is 0) and the same φ, S and m;
    * the curves of those levels unchanged, and the jumps relative to the current level
      (jump[level + j] − jump[level]; with jump slopes, the jumps from the observed loss and the
      slopes of the same composed maps).

    The current level's curve is re-anchored at the observed loss by the predictor's
    equivalent-position rule: training continues from the position s_eq where that curve equals
    ``loss`` — not from the samples trained so far — so the next prediction starts from what was
    observed, with the fitted shape (a, b, c, s0) of the curve.

    ``progress_scale`` λ (the online refit, :func:`progress_scale`) stretches the remaining curves
    so that an epoch advances λ times the progress it did in the profile: ℓ′(s) = ℓ(λ·s), i.e.
    a′ = a·λ^(−b) and s0′ = s0/λ for a power law, s0′ = s0/λ for a log-logistic curve (c, b
    unchanged). The participation model (γ, N, the fraction
    law), the subset floor (κ; the floors stay c + κ·(N/D − 1)) and the planning margin (σ, σ_p,
    k) are kept.

    Returns:
        The remaining problem, or why there is none (deadline or epochs exhausted).
    """
    deadline = problem.target.deadline_s - elapsed_s
    if not deadline > 0.0:
        return f"no time is left before the deadline ({elapsed_s:.6g} s elapsed)"
    epochs_left = problem.options.max_epochs - epochs_done
    if epochs_left < 1:
        return "max_epochs is reached"
    model, curve = problem.model, problem.curve
    base = model.levels[level]
    keep = slice(level, None)
    raw = problem.model_dump()
    raw["target"]["deadline_s"] = deadline
    raw["model"] = {
        "levels": [1.0 - (1.0 - rho) / (1.0 - base) for rho in model.levels[keep]],
        "flops_per_sample": list(model.flops_per_sample[keep]),
        "bytes": list(model.bytes[keep]),
        "memory_bytes": list(model.memory_bytes[keep]),
    }
    if not (progress_scale > 0.0 and math.isfinite(progress_scale)):
        raise ValueError(f"progress_scale must be a positive number, got {progress_scale}")
    # ℓ′(s) = ℓ(λ·s) (CurveSection.stretched).
    scaled = curve.stretched(progress_scale)
    raw["curve"] = {
        "a": list(scaled.a[keep]),
        "family": curve.family,
        "b": list(curve.b[keep]),
        "c": list(curve.c[keep]),
        "s0": list(scaled.s0[keep]),
        **_jumps_from(problem, level, loss),
        "initial_loss": max(loss, 1e-12),
        "participation": (
            curve.participation[keep]
            if isinstance(curve.participation, list)
            else curve.participation
        ),
        "fraction_law": curve.fraction_law,
        "full_samples": problem.full_samples,
        "sigma": curve.sigma,
        "progress_sigma": curve.progress_sigma,
        "subset_floor": (
            curve.subset_floor[keep] if isinstance(curve.subset_floor, list) else curve.subset_floor
        ),
    }
    raw["options"]["max_epochs"] = epochs_left
    return parse_problem(raw, "<remaining problem>")
