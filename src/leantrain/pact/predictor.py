"""The loss predictor (docs/pact.md, 'Loss prediction'): per-level power-law curves in cumulative
effective samples, with loss jumps when the model is pruned further.

For level ρ, ℓ_ρ(s) = c + a·(s + s0)^(−b). An epoch that prunes from ρ to ρ′ first adds
J(ρ, ρ′) = jump[ρ′] − jump[ρ], giving ℓ⁺; the loss then continues on ρ′'s curve from the
equivalent position s_eq = ((ℓ⁺ − c)/a)^(−1/b) − s0 (negative when ℓ⁺ lies above the curve's
start: no clamp, so an epoch without samples never lowers the loss), advancing by the epoch's
effective samples D: ℓ = c + a·(s_eq + D + s0)^(−b). When ℓ⁺ ≤ c the curve cannot improve it and
the loss stays ℓ⁺. The formulas are those of :mod:`leantrain.pact.formulas`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from leantrain.pact.formulas import curve_loss, equivalent_position
from leantrain.pact.problem import Problem

__all__ = ["Curve", "LossPredictor"]


@dataclass(frozen=True)
class Curve:
    """ℓ(s) = c + a·(s + s0)^(−b) for one pruning level."""

    a: float
    b: float
    c: float
    s0: float

    def loss(self, samples: float) -> float:
        """ℓ(s) after ``samples`` cumulative effective samples."""
        return float(curve_loss(float(samples), self.a, self.b, self.c, self.s0))

    @property
    def start(self) -> float:
        """ℓ(0), the curve's loss before any training (inf when s0 = 0)."""
        return math.inf if self.s0 == 0.0 else self.loss(0.0)

    def position(self, loss: float) -> float:
        """s_eq: the position on the curve where it reaches ``loss`` (negative above the curve's
        start, inf when ``loss`` ≤ c, which the curve never reaches)."""
        return float(equivalent_position(float(loss), self.a, self.b, self.c, self.s0))


@dataclass(frozen=True)
class LossPredictor:
    """The curves of every level, the jumps and the initial loss of a problem."""

    curves: tuple[Curve, ...]
    jump: tuple[float, ...]
    initial_loss: float

    @staticmethod
    def of(problem: Problem) -> LossPredictor:
        """The predictor in ``problem``'s ``[curve]`` section."""
        curve = problem.curve
        return LossPredictor(
            tuple(
                Curve(a, b, c, s0)
                for a, b, c, s0 in zip(curve.a, curve.b, curve.c, curve.s0, strict=True)
            ),
            tuple(curve.jump),
            curve.initial_loss,
        )

    def after_jump(self, loss: float, level_from: int, level_to: int) -> float:
        """ℓ⁺ = ℓ + J(ρ_from, ρ_to)."""
        return loss + (self.jump[level_to] - self.jump[level_from])

    def step(self, loss: float, level_from: int, level_to: int, samples: float) -> float:
        """The loss after one epoch that moves from ``level_from`` to ``level_to`` and trains
        ``samples`` effective samples (D_k)."""
        jumped = self.after_jump(loss, level_from, level_to)
        curve = self.curves[level_to]
        if jumped <= curve.c:
            return jumped
        start = curve.position(jumped)
        return curve.loss(start + samples)

    def samples_needed(self, loss: float, level_from: int, level_to: int, target: float) -> float:
        """The fewest effective samples D with ``step(loss, from, to, D)`` ≤ ``target`` (the
        predictor's inverse): 0 when already there, inf when the curve never gets there."""
        jumped = self.after_jump(loss, level_from, level_to)
        if jumped <= target:
            return 0.0
        curve = self.curves[level_to]
        if target <= curve.c or jumped <= curve.c:
            return math.inf
        return curve.position(target) - curve.position(jumped)

    def trajectory(self, levels: Sequence[int], samples: Sequence[float]) -> list[float]:
        """The loss after each epoch of a plan (levels and effective samples per epoch)."""
        loss, level, out = self.initial_loss, 0, []
        for next_level, count in zip(levels, samples, strict=True):
            loss = self.step(loss, level, next_level, count)
            level = next_level
            out.append(loss)
        return out
