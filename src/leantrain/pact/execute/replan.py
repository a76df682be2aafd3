"""The problem left after some epochs, re-anchored at the observed loss (receding-horizon
re-planning, docs/pact-profile-execute.md, 'Execute'). Plain planner arithmetic: no torch."""

from __future__ import annotations

from leantrain.pact.problem import Problem, parse_problem

__all__ = ["remaining_problem"]


def remaining_problem(
    problem: Problem, level: int, loss: float, elapsed_s: float, epochs_done: int
) -> Problem | str:
    """The problem left after ``epochs_done`` epochs, at ``level``, with ``loss`` observed.

    * deadline T − ``elapsed_s``; ``max_epochs`` minus ``epochs_done``; ``initial_loss`` =
      ``loss``; the same nodes, fractions and target;
    * the levels ≥ ``level`` only, renumbered from 0: level ``level + j`` of ``problem`` is level
      j of the result, with pruning ratio 1 − (1 − ρ_{level+j})/(1 − ρ_level) (the share of the
      *current* model's channels it removes, so the first is 0) and the same φ, S and m;
    * the curves of those levels unchanged, and the jumps relative to the current level
      (jump[level + j] − jump[level]).

    The current level's curve is re-anchored at the observed loss by the predictor's
    equivalent-position rule: training continues from the position s_eq where that curve equals
    ``loss`` — not from the samples trained so far — so the next prediction starts from what was
    observed, with the fitted shape (a, b, c, s0) of the curve.

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
    raw["curve"] = {
        "a": list(curve.a[keep]),
        "b": list(curve.b[keep]),
        "c": list(curve.c[keep]),
        "s0": list(curve.s0[keep]),
        "jump": [j - curve.jump[level] for j in curve.jump[keep]],
        "initial_loss": max(loss, 1e-12),
    }
    raw["options"]["max_epochs"] = epochs_left
    return parse_problem(raw, "<remaining problem>")
