"""The loss predictor (docs/pact.md, 'Loss prediction'): per-level power-law curves in cumulative
effective samples, with loss jumps when the model is pruned further.

For level ρ, ℓ_ρ(s) = c + a·(s + s0)^(−b). An epoch that prunes from ρ to ρ′ first adds
J(ρ, ρ′) = jump[ρ′] − jump[ρ], giving ℓ⁺; the loss then continues on ρ′'s curve from the
equivalent position s_eq = ((ℓ⁺ − c)/a)^(−1/b) − s0 (negative when ℓ⁺ lies above the curve's
start: no clamp, so an epoch without samples never lowers the loss), advancing by the progress
P(D) of the epoch's effective samples D (P(D) = N·(D/N)^γ, docs/pact.md, 'Participation'; D
itself when γ = 1): ℓ = c + a·(s_eq + P(D) + s0)^(−b). When ℓ⁺ ≤ c the curve cannot improve it and
the loss stays ℓ⁺. Under a subset floor κ > 0 (of level ρ′) the loss after the epoch is
max(ℓ, min(c + κ·(N/D − 1), ℓ⁺)): few nodes cannot average the loss below their floor
(docs/pact.md, 'The subset floor'). The formulas are those of :mod:`leantrain.pact.formulas`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from leantrain.pact.formulas import (
    curve_loss,
    epoch_progress,
    equivalent_position,
    floor_samples,
    floored_loss,
    jumped_loss,
    progress_samples,
)
from leantrain.pact.problem import Problem

__all__ = ["Curve", "LossPredictor"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Curve:
    """One pruning level's curve: ℓ(s) = c + a·(s + s0)^(−b) (``power``) or
    c + a/(1 + (s/s0)^b) (``log-logistic``; :mod:`leantrain.pact.formulas`)."""

    a: float
    b: float
    c: float
    s0: float
    family: str = "power"

    @property
    def shape(self) -> tuple[float, float, float, float, str]:
        """(a, b, c, s0, family): the arguments of the curve formulas."""
        return self.a, self.b, self.c, self.s0, self.family

    def loss(self, samples: float) -> float:
        """ℓ(s) after ``samples`` cumulative effective samples."""
        return float(curve_loss(float(samples), *self.shape))

    @property
    def start(self) -> float:
        """ℓ(0), the curve's loss before any training (inf for a power law with s0 = 0)."""
        if self.family == "power" and self.s0 == 0.0:
            return math.inf
        return self.loss(0.0)

    def position(self, loss: float) -> float:
        """s_eq: the position on the curve where it reaches ``loss`` (negative above the curve's
        start, inf when ``loss`` ≤ c, which the curve never reaches)."""
        return float(equivalent_position(float(loss), *self.shape))


@dataclass(frozen=True)
class LossPredictor:
    """The curves of every level, the jumps and the initial loss of a problem."""

    curves: tuple[Curve, ...]
    jump: tuple[float, ...]
    initial_loss: float
    participation: tuple[float, ...] = ()
    full_samples: float = 1.0
    jump_slope: tuple[float, ...] = ()
    subset_floor: tuple[float, ...] = ()

    @staticmethod
    def of(problem: Problem) -> LossPredictor:
        """The predictor in ``problem``'s ``[curve]`` section."""
        curve = problem.curve
        return LossPredictor(
            tuple(
                Curve(a, b, c, s0, curve.family)
                for a, b, c, s0 in zip(curve.a, curve.b, curve.c, curve.s0, strict=True)
            ),
            tuple(curve.jump),
            curve.initial_loss,
            tuple(problem.gammas),
            problem.full_samples,
            tuple(curve.jump_slope or [0.0] * len(curve.jump)),
            tuple(problem.kappas),
        )

    def slope(self, level: int) -> float:
        """β of ``level``'s jump (0 without slopes)."""
        return self.jump_slope[level] if self.jump_slope else 0.0

    def offset(self, level: int) -> float:
        """α of g_level(ℓ0) = (1 + β)·ℓ0 + α: jump − β·initial_loss (the jump without slopes)."""
        return self.jump[level] - self.slope(level) * self.initial_loss

    def highest_loss(self) -> float:
        """No loss of any plan exceeds this: the initial loss pruned to the level that raises it
        most (training only lowers the loss, and the jump maps are increasing)."""
        if not any(self.jump_slope):
            return self.initial_loss + self.jump[-1] - self.jump[0]
        return max(self.after_jump(self.initial_loss, 0, j) for j in range(len(self.jump)))

    def gamma(self, level: int) -> float:
        """γ of ``level``'s progress model (1 when none is given)."""
        return self.participation[level] if self.participation else 1.0

    def progress(self, samples: float, level: int) -> float:
        """P(D): the curve positions an epoch at ``level`` of ``samples`` effective samples
        advances."""
        return epoch_progress(float(samples), self.full_samples, self.gamma(level))

    def samples_for(self, progress: float, level: int) -> float:
        """P⁻¹: the effective samples of an epoch at ``level`` that advances ``progress``
        positions."""
        if math.isinf(progress):
            return progress
        return progress_samples(float(progress), self.full_samples, self.gamma(level))

    def after_jump(self, loss: float, level_from: int, level_to: int) -> float:
        """ℓ⁺: the loss right after pruning from ``level_from`` to ``level_to``
        (:func:`~leantrain.pact.formulas.jumped_loss`; ℓ + J(ρ_from, ρ_to) without slopes)."""
        return jumped_loss(
            loss,
            self.offset(level_from),
            self.slope(level_from),
            self.offset(level_to),
            self.slope(level_to),
        )

    def step(
        self, loss: float, level_from: int, level_to: int, samples: float, scale: float = 1.0
    ) -> float:
        """The loss after one epoch that moves from ``level_from`` to ``level_to`` and trains
        ``samples`` effective samples (D_k); ``scale`` multiplies its progress (the online
        refit's λ of ``execute --replan``; 1 is the profile)."""
        jumped = self.after_jump(loss, level_from, level_to)
        curve = self.curves[level_to]
        if jumped <= curve.c:
            return jumped
        start = curve.position(jumped)
        after = curve.loss(start + scale * self.progress(samples, level_to))
        kappa = self.kappa(level_to)
        if kappa > 0.0:
            return float(
                floored_loss(after, jumped, float(samples), self.full_samples, curve.c, kappa)
            )
        return after

    def epoch_losses(
        self, jumped: float | FloatArray, level: int, progress: FloatArray, samples: FloatArray
    ) -> FloatArray:
        """The loss after one epoch at ``level`` from the loss ``jumped`` (ℓ⁺, after any jump)
        for each epoch of progress ``progress`` (P(D)) and ``samples`` effective samples (D):
        :meth:`step` for many epochs at once, shape (len(progress),); for an array of losses,
        every pair, shape (len(jumped), len(progress)) (the exact search and its bounds)."""
        curve = self.curves[level]
        after: FloatArray
        if isinstance(jumped, float):
            if jumped <= curve.c:
                return np.full(len(progress), jumped)
            start: float | FloatArray = jumped
            position = equivalent_position(jumped, *curve.shape)
            after = np.asarray(curve_loss(position + progress, *curve.shape))
            sizes = samples
        else:
            start = np.asarray(jumped, dtype=np.float64)[:, None]
            positions = equivalent_position(start, *curve.shape)
            with np.errstate(invalid="ignore"):  # inf + progress where ℓ⁺ ≤ c: masked below
                moved = curve_loss(positions + progress[None, :], *curve.shape)
            after = np.where(start <= curve.c, start, moved)
            sizes = np.asarray(samples)[None, :]
        kappa = self.kappa(level)
        if kappa > 0.0:
            after = np.asarray(floored_loss(after, start, sizes, self.full_samples, curve.c, kappa))
        return after

    def kappa(self, level: int) -> float:
        """κ of ``level``'s subset floor (0 without one; docs/pact.md, 'The subset floor')."""
        return self.subset_floor[level] if self.subset_floor else 0.0

    def floor_samples(self, loss: float, level: int) -> float:
        """The fewest effective samples of an epoch at ``level`` whose subset floor lets the loss
        reach ``loss`` (0 without a floor; docs/pact.md, 'The subset floor')."""
        kappa = self.kappa(level)
        if kappa <= 0.0:
            return 0.0
        c = self.curves[level].c
        return float(floor_samples(float(loss), self.full_samples, c, kappa))

    def progress_needed(self, loss: float, level_from: int, level_to: int, target: float) -> float:
        """The curve positions still to go from ``loss`` (jumped from ``level_from`` to
        ``level_to``) to ``target``: 0 when already there, inf when the curve never gets there.
        Epochs add their progress P(D), so k epochs of D need k·P(D) ≥ this."""
        jumped = self.after_jump(loss, level_from, level_to)
        if jumped <= target:
            return 0.0
        curve = self.curves[level_to]
        if target <= curve.c or jumped <= curve.c:
            return math.inf
        return curve.position(target) - curve.position(jumped)

    def samples_needed(self, loss: float, level_from: int, level_to: int, target: float) -> float:
        """The fewest effective samples D with ``step(loss, from, to, D)`` ≤ ``target`` in one
        epoch (the predictor's inverse): 0 when already there, inf when the curve never gets
        there; under a subset floor at least :meth:`floor_samples` of ``target``."""
        need = self.samples_for(self.progress_needed(loss, level_from, level_to, target), level_to)
        if need <= 0.0:
            return need
        return max(need, self.floor_samples(target, level_to))

    def trajectory(self, levels: Sequence[int], samples: Sequence[float]) -> list[float]:
        """The loss after each epoch of a plan (levels and effective samples per epoch)."""
        loss, level, out = self.initial_loss, 0, []
        for next_level, count in zip(levels, samples, strict=True):
            loss = self.step(loss, level, next_level, count)
            level = next_level
            out.append(loss)
        return out
