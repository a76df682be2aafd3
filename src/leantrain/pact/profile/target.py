"""The profiled problem's nodes, and its default target and deadline measured in a reference epoch
(docs/pact-profile-execute.md, 'Profile')."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from leantrain.errors import InputError
from leantrain.fl.setup import FederatedSetup
from leantrain.pact.plan import Decision, effective_samples, epoch_time
from leantrain.pact.predictor import LossPredictor
from leantrain.pact.problem import Problem, parse_problem
from leantrain.pact.profile.fit import ParticipationFit
from leantrain.pact.profile.options import ProfileOptions
from leantrain.pact.profile.result import LevelProfile

__all__ = ["held_out_sigma", "problem_raw", "reference_epoch"]


def problem_raw(
    setup: FederatedSetup,
    options: ProfileOptions,
    levels: Sequence[LevelProfile],
    initial_loss: float,
    source: str,
    participation: ParticipationFit | None = None,
    participation_levels: Sequence[ParticipationFit] = (),
    subset_floor: Sequence[float] = (),
    replicate_spread: float = 0.0,
    progress_sigma: float = 0.0,
) -> tuple[dict[str, Any], Decision]:
    """The problem mapping (docs/file-formats.md, 'The PACT problem TOML') with its default
    target and deadline, and the reference epoch they are measured in (:func:`reference_epoch`);
    ``participation`` sets ``curve.participation`` and ``curve.full_samples`` (γ = 1 when
    None); ``participation_levels``, when given, one γ per level instead; ``subset_floor``, κ per
    level, sets ``curve.subset_floor`` when one is positive; ``replicate_spread`` joins the
    held-out error in σ (:func:`held_out_sigma`); with ``options.margin_model`` = ``progress``,
    ``progress_sigma`` is written as σ_p in its place."""
    nodes = [
        {
            "name": device.name,
            "flops": float(device.flops),
            "power_w": float(device.power_w),
            "memory_bytes": float(device.memory_bytes),
            "bandwidth_bps": float(device.upload_bps),
            "tx_power_w": float(device.tx_power_w),
            "samples": len(setup.partitions[device.index]),
            "quality": 1.0,
        }
        for device in setup.fleet.devices
    ]
    target_epochs = options.target_epochs or options.epochs
    raw: dict[str, Any] = {
        "target": {"loss": 1.0, "deadline_s": 1.0},
        "model": {
            "levels": [float(lv.pruning) for lv in levels],
            "flops_per_sample": [float(lv.flops_per_sample) for lv in levels],
            "bytes": [float(lv.state_bytes) for lv in levels],
            "memory_bytes": [float(lv.memory_bytes) for lv in levels],
        },
        "curve": {
            "a": [lv.fit.curve.a for lv in levels],
            "b": [lv.fit.curve.b for lv in levels],
            "c": [lv.fit.curve.c for lv in levels],
            "s0": [lv.fit.curve.s0 for lv in levels],
            "jump": [float(lv.jump) for lv in levels],
            "jump_slope": [float(lv.jump_slope) for lv in levels],
            "initial_loss": float(initial_loss),
            "family": options.curve_family,
            "fraction_law": options.fraction_law,
        },
        "options": {
            "data_fractions": [float(f) for f in options.data_fractions],
            "max_epochs": options.max_epochs or 3 * target_epochs,
            "margin": options.margin,
            "min_share": options.min_share,
            "final_share": options.final_share,
        },
        "node": nodes,
    }
    if options.margin_model == "progress":
        raw["curve"]["progress_sigma"] = float(progress_sigma)
    else:
        raw["curve"]["sigma"] = math.hypot(held_out_sigma(levels), replicate_spread)
    if participation is not None:
        raw["curve"]["participation"] = participation.gamma
        raw["curve"]["full_samples"] = participation.full_samples
    if participation_levels:
        raw["curve"]["participation"] = [fit.gamma for fit in participation_levels]
    if any(kappa > 0.0 for kappa in subset_floor):
        raw["curve"]["subset_floor"] = [float(kappa) for kappa in subset_floor]
    draft = parse_problem(raw, source)
    reference = reference_epoch(draft)
    if reference is None:
        needed = min(draft.model.memory_bytes)
        raise InputError(
            source,
            "fleet.classes",
            f"no device with data has the memory to train the model at any pruning level "
            f"(needs at least {needed:.4g} bytes)",
        )
    full_time = epoch_time(draft, reference)
    samples = effective_samples(draft, reference)
    predictor = LossPredictor.of(draft)
    target = predictor.trajectory([reference.level] * target_epochs, [samples] * target_epochs)
    raw["target"] = {
        "loss": float(target[-1]),
        "deadline_s": float(options.deadline_factor * target_epochs * full_time),
    }
    return raw, reference


def held_out_sigma(levels: Sequence[LevelProfile]) -> float:
    """σ of the planning margin: the RMSE over every level's held-out points (docs/pact.md,
    'Planning margin'), pooled as the root of the mean squared per-level held-out RMSE."""
    squares = [lv.fit.holdout_rmse**2 for lv in levels if math.isfinite(lv.fit.holdout_rmse)]
    return math.sqrt(math.fsum(squares) / len(squares)) if squares else 0.0


def reference_epoch(problem: Problem) -> Decision | None:
    """The full-fleet epoch the default target and deadline are measured in: at the least pruned
    level whose fitting nodes hold the most data (level 0 when every node fits the whole model),
    every node that fits it and holds data trains all of it (the largest fraction). None when no
    node with data fits any level."""
    best: tuple[int, int] | None = None
    for index, memory in enumerate(problem.model.memory_bytes):
        held = sum(n.samples for n in problem.node if n.memory_bytes >= memory and n.samples > 0)
        if held > 0 and (best is None or held > best[1]):
            best = (index, held)
    if best is None:
        return None
    level, top = best[0], max(problem.fractions)
    memory = problem.model.memory_bytes[level]
    return Decision(
        level,
        {n.name: top for n in problem.node if n.memory_bytes >= memory and n.samples > 0},
    )
