"""DISTREAL's run-time selection on the device (docs/distreal.md, 'Run-time selection').

Before each mini-batch m of M, with τ the time left until computing must end and s(t) the device's
current speed, the budget is β = s(t)·τ / ((M − m)·C_full): the share of the full model's cost the
device can afford for each of its remaining mini-batches. The device trains the front point with
the largest R ≤ β (d = 0 when β ≥ 1) on a fresh random channel subset (``distreal``) or on the
first k_l channels of every group (``distreal-ordered``). If no point fits, it trains
the cheapest one, and when even that mini-batch would end after the deadline the overrun policy
applies: ``partial`` (the default) stops and sends what was trained, ``drop`` discards it.

The device needs nothing from the server beyond the front and its deadline: β uses only its own
speed and clock, so the selection runs unchanged on a real device (or a Flower ClientApp).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leantrain.fl.policy import (
    BatchDecision,
    LocalPolicy,
    LocalProgress,
    PolicyContext,
    Stop,
)
from leantrain.nn.submodel import first_keep, random_keep

__all__ = ["DistrealPolicy", "FrontOption", "budget", "front_option", "select_point"]


@dataclass(frozen=True)
class FrontOption:
    """A front point as the device receives it: its cost R and its dropout vector."""

    cost: float
    dropout: tuple[float, ...]


def front_option(points: Sequence[tuple[float, Sequence[float]]]) -> list[list[Any]]:
    """The JSON form of a front for task options: rows ``[R, [d...]]`` sorted by R."""
    return [[float(cost), [float(v) for v in dropout]] for cost, dropout in sorted(points)]


def budget(progress: LocalProgress) -> float:
    """β = s(t)·τ / (remaining work of the full model), or +inf without a deadline."""
    if progress.compute_deadline_s is None:
        return float("inf")
    remaining = progress.remaining_samples * progress.full_flops_per_sample
    if remaining <= 0:
        return float("inf")
    left = max(0.0, progress.compute_deadline_s - progress.now_s)
    return progress.device.speed(progress.now_s) * left / remaining


def select_point(front: Sequence[FrontOption], beta: float) -> tuple[FrontOption, bool]:
    """The point with the largest R ≤ β, or the cheapest one; and whether it fits.

    ``front`` is sorted by R and ends with d = 0 (R = 1), which is chosen whenever β ≥ 1.
    """
    if beta >= 1.0:
        return front[-1], True
    chosen: FrontOption | None = None
    for point in front:
        if point.cost <= beta:
            chosen = point
        else:
            break
    if chosen is None:
        return front[0], False
    return chosen, True


class DistrealPolicy(LocalPolicy):
    """Pick the dropout vector for every mini-batch from the front and the device's budget.

    Options:
        front: Rows ``[R, [d_1..d_L]]`` sorted by R, the last one d = 0.
        overrun: ``partial`` or ``drop``.
        masks: ``random`` (default: a fresh random subset of k_l channels per group and
            mini-batch) or ``ordered`` (the first k_l channels of every group).
    """

    name = "distreal"

    def __init__(self, options: Mapping[str, Any], context: PolicyContext) -> None:
        super().__init__(options, context)
        rows = options["front"]
        self.front = [FrontOption(float(r[0]), tuple(float(v) for v in r[1])) for r in rows]
        if not self.front or any(v != 0.0 for v in self.front[-1].dropout):
            raise ValueError("a DISTREAL front must end with d = 0")
        self.overrun = str(options.get("overrun", "partial"))
        if self.overrun not in ("partial", "drop"):
            raise ValueError(f"unknown overrun policy {self.overrun!r}")
        self.masks = str(options.get("masks", "random"))
        if self.masks not in ("random", "ordered"):
            raise ValueError(f"unknown mask kind {self.masks!r}")

    def decide(self, progress: LocalProgress) -> BatchDecision | Stop:
        point, _ = select_point(self.front, budget(progress))
        flops = point.cost * progress.full_flops_per_sample
        deadline = progress.compute_deadline_s
        if deadline is not None and progress.finish_of(progress.batch_samples * flops) > deadline:
            return Stop("deadline", discard=self.overrun == "drop")
        if all(rate == 0.0 for rate in point.dropout):
            return BatchDecision(progress.full_flops_per_sample)
        groups = self.context.groups
        counts = groups.keep_counts(point.dropout)
        if self.masks == "ordered":
            keep = first_keep(groups, counts)
        else:
            keep = random_keep(groups, counts, self.context.generator)
        return BatchDecision(flops, keep=keep, cost_ratio=point.cost)
