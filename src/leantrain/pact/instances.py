"""Seeded random PACT problems, for tests and benchmarks.

:func:`random_problem` draws a heterogeneous fleet (compute speed, energy efficiency, memory,
bandwidth, data size and quality spread over one to two orders of magnitude), a model profile whose
cost shrinks with the pruning ratio, loss curves that get worse and jumps that grow with it, and
then sets the loss target and the deadline from a reference plan (every node that fits the
unpruned model, full data, every epoch), so that instances are neither trivial nor hopeless: the
target needs a few epochs of most of that data, and the deadline is around the reference plan's
duration, at times tighter. The same seed always gives the same problem.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from leantrain.pact.predictor import LossPredictor
from leantrain.pact.problem import Problem, parse_problem

__all__ = ["cloned", "random_problem"]

_FRACTIONS: dict[int, list[float]] = {
    1: [0.0, 1.0],
    2: [0.0, 0.5, 1.0],
    3: [0.0, 0.25, 0.5, 1.0],
    4: [0.0, 0.25, 0.5, 0.75, 1.0],
}


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def random_problem(
    seed: int,
    *,
    nodes: int = 5,
    levels: int = 4,
    fractions: int = 3,
    epochs: tuple[int, int] = (3, 8),
    slack: tuple[float, float] = (0.7, 2.0),
    max_epochs: int | None = None,
    epochs_to_spare: int | None = None,
) -> Problem:
    """A random, reproducible PACT problem.

    Args:
        seed: Seed of the generator; the same arguments always give the same problem.
        nodes: Number of nodes.
        levels: Number of pruning levels (the first is 0).
        fractions: Number of allowed data fractions above 0 (1 to 4: {1}, {0.5, 1},
            {0.25, 0.5, 1}, {0.25, 0.5, 0.75, 1}); 0 is always allowed too.
        epochs: Range of the number of epochs the reference plan needs to reach the target.
        slack: Range of the deadline as a multiple of the reference plan's duration (below 1 the
            reference plan misses it and the solvers must find faster or smaller epochs).
        max_epochs: The epoch cap; default twice the reference plan's epochs plus 2.
        epochs_to_spare: When given (and ``max_epochs`` is not), the epoch cap is the reference
            plan's epochs plus this many: with few to spare the cap binds, since cheaper plans
            train fewer nodes over more epochs.

    Returns:
        A validated problem (it may be infeasible when the slack is low).

    Raises:
        ValueError: An argument is out of range.
    """
    if nodes < 1 or levels < 1 or fractions not in _FRACTIONS:
        raise ValueError("need nodes >= 1, levels >= 1 and fractions in 1..4")
    rng = np.random.default_rng(seed)
    ratios = [0.0, *sorted(float(x) for x in rng.uniform(0.1, 0.85, levels - 1))]
    for index in range(1, levels):  # keep them strictly ascending
        ratios[index] = max(ratios[index], ratios[index - 1] + 0.02)
    phi0 = _log_uniform(rng, 5e6, 2e7)
    bytes0 = _log_uniform(rng, 2e5, 1e6)
    memory0 = _log_uniform(rng, 4e6, 1.6e7)
    model = {
        "levels": ratios,
        "flops_per_sample": [phi0 * (1.0 - r) ** 1.6 for r in ratios],
        "bytes": [bytes0 * (1.0 - r) ** 1.8 for r in ratios],
        "memory_bytes": [memory0 * (1.0 - r) ** 1.5 for r in ratios],
    }
    a0, b0, c0 = rng.uniform(7.0, 11.0), rng.uniform(0.3, 0.4), rng.uniform(0.03, 0.08)
    curve = {
        "a": [a0 * (1.0 + 0.3 * r) for r in ratios],
        "b": [b0 * (1.0 - 0.15 * r) for r in ratios],
        "c": [c0 + 0.25 * r * r for r in ratios],
        "s0": [float(rng.uniform(30.0, 80.0))] * levels,
        "jump": [0.35 * r**1.5 for r in ratios],
        "initial_loss": 2.3,
    }
    fleet: list[dict[str, Any]] = []
    for index in range(nodes):
        flops = _log_uniform(rng, 1e9, 5e10)
        efficiency = _log_uniform(rng, 2e8, 4e9)  # FLOP per joule
        memory = _log_uniform(rng, 0.15 * memory0, 8.0 * memory0)
        fleet.append(
            {
                "name": f"n{index:04d}",
                "flops": flops,
                "power_w": flops / efficiency,
                "memory_bytes": memory,
                "bandwidth_bps": _log_uniform(rng, 2e6, 1e9),
                "tx_power_w": float(rng.uniform(0.3, 5.0)),
                "samples": int(rng.integers(100, 1000)),
                "quality": float(rng.uniform(0.7, 1.0)),
            }
        )
    # At least one node can train the unpruned model, so the reference plan exists.
    biggest = max(range(nodes), key=lambda i: fleet[i]["memory_bytes"])
    fleet[biggest]["memory_bytes"] = max(fleet[biggest]["memory_bytes"], memory0 * 1.01)
    reference_epochs = int(rng.integers(epochs[0], epochs[1] + 1))
    eligible = [n for n in fleet if n["memory_bytes"] >= memory0]
    samples = sum(n["quality"] * n["samples"] for n in eligible)
    duration = max(
        n["samples"] * model["flops_per_sample"][0] / n["flops"]
        + 16.0 * model["bytes"][0] / n["bandwidth_bps"]
        for n in eligible
    )
    raw: dict[str, Any] = {
        "target": {"loss": 1.0, "deadline_s": 1.0},
        "model": model,
        "curve": curve,
        "options": {
            "data_fractions": _FRACTIONS[fractions],
            "max_epochs": max_epochs
            or (
                2 * reference_epochs + 2
                if epochs_to_spare is None
                else reference_epochs + epochs_to_spare
            ),
        },
        "node": fleet,
    }
    predictor = LossPredictor.of(parse_problem(raw, f"random:{seed}"))
    # The reference plan reaches the target with some data to spare.
    spare = float(rng.uniform(0.75, 0.95))
    target = predictor.trajectory([0] * reference_epochs, [spare * samples] * reference_epochs)[-1]
    raw["target"] = {
        "loss": float(target),
        "deadline_s": float(reference_epochs * duration * rng.uniform(*slack)),
    }
    return parse_problem(raw, f"random:{seed}")


def cloned(problem: Problem, copies: int) -> Problem:
    """``problem`` with every node repeated ``copies`` times and the curves stretched to match.

    Each curve becomes ℓ(s) = c + a·k^b·(s + k·s0)^(−b) = c + a·(s/k + s0)^(−b) for k copies, so
    a plan of the original run on every copy at once has the same times and losses and k times
    the energy: k times the original optimum bounds the clone's optimum from above (the clone
    check of docs/benchmarks.md, 'PACT: planning time and certified quality at any fleet size').

    Raises:
        ValueError: ``copies`` < 1.
    """
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    raw = problem.model_dump()
    curve = raw["curve"]
    curve["a"] = [a * copies**b for a, b in zip(curve["a"], curve["b"], strict=True)]
    curve["s0"] = [s0 * copies for s0 in curve["s0"]]
    raw["node"] = [
        {**node, "name": f"{node['name']}-{copy}"} for copy in range(copies) for node in raw["node"]
    ]
    return parse_problem(raw, f"<{copies} copies>")
