"""The plan formulas of docs/pact.md, 'The model': one implementation, for scalars and arrays.

Every figure of a plan (a node's time and energy in an epoch, an epoch's effective samples, the
loss after an epoch) is computed here and nowhere else: :func:`~leantrain.pact.plan.evaluate`
calls these functions with Python floats, the solvers (:mod:`~leantrain.pact.knapsack`,
:mod:`~leantrain.pact.graph`, :mod:`~leantrain.pact.exact`, :mod:`~leantrain.pact.bounds`) with
numpy arrays. The functions only use arithmetic operators, so a float argument gives the same
float as a hand-written expression in the same order, and an array argument its elementwise
value.

**The loss law.** Level ρ's curve is ℓ(s) = c + a·(s + s0)^(−b). The equivalent position of a loss
ℓ⁺ > c is s_eq = ((ℓ⁺ − c)/a)^(−1/b) − s0, *not* clamped at 0: when ℓ⁺ lies above the curve's
start ℓ(0), s_eq is negative (but above −s0) and the curve is followed backwards, so an epoch of D
effective samples lowers the loss by exactly what D samples buy and an epoch of no samples leaves
it where it is (docs/pact.md, 'Loss prediction': no free drop). At or below c the curve cannot
lower the loss and s_eq is infinite.

**Curve families.** ``power`` (the default) is the law above. ``log-logistic`` is
ℓ(s) = c + a/(1 + (s/s0)^b) for s ≥ 0: a plateau at the start c + a, a fall around s0 and a tail
towards the floor c, the S shape training curves have in log s (docs/pact.md, 'Loss prediction').
Above its start it continues linearly, ℓ(s) = c + a·(1 − s/s0) for s < 0, so that a loss a jump
put above the start still has a position (negative) and an epoch buys exactly its samples there
too; its inverse is s0·(a/(ℓ − c) − 1)^(1/b) below the start and s0·(1 − (ℓ − c)/a) above.

**Jumps.** Pruning a model of level-0-equivalent loss ℓ0 to level j gives
g_j(ℓ0) = ℓ0 + jump_j + β_j·(ℓ0 − ℓ₀) = (1 + β_j)·ℓ0 + α_j, α_j = jump_j − β_j·ℓ₀ (ℓ₀ the initial
loss, β = ``jump_slope``: the jump grows with the loss at pruning time when β > 0). Pruning a
level-i model of loss ℓ to level j gives g_j(g_i⁻¹(ℓ)); with β_i = β_j = 0 that is
ℓ + (jump_j − jump_i), computed in exactly that order (docs/pact.md, 'Loss prediction').

**Participation.** An epoch of D_k effective samples advances the position by its *progress*
P(D_k) = N·(D_k/N)^γ, N the effective samples of a whole-fleet epoch and γ ∈ (0, 1] fitted by
``profile`` (docs/pact.md, 'Participation'): in FedAvg an epoch of half the fleet makes far more
than half the progress. P is increasing with P(0) = 0, so an empty epoch still buys nothing; γ = 1
is P(D) = D exactly.

**The subset floor.** A FedAvg epoch of few nodes averages few models: its SGD noise is larger
and the loss it can reach higher (docs/pact.md, 'The subset floor'). An epoch of D > 0 effective
samples at level ρ cannot bring the loss below F(D) = c_ρ + κ·(N/D − 1) (κ =
``curve.subset_floor``; F(N) = c_ρ), and never raises it either: the loss after it is
max(ℓ_curve, min(F(D), ℓ⁺)), ℓ_curve the curve's value after the epoch and ℓ⁺ the loss it starts
from (after any jump). Both terms are non-decreasing in ℓ⁺ and non-increasing in D, so the plan
stays monotone and every solver's pruning holds; the order of a run's epochs now matters, and
ascending D is the best order (docs/pact.md). κ = 0 is no floor: the formula is then not applied.

**The fraction law.** Under ``fraction_law = "samples"`` a node at fraction f contributes
q·f·d to D_k, so halving every node's fraction is worth what halving the nodes is. In FedAvg it
is not: the fraction sets a node's local steps, which progress follows about linearly, while the
number of nodes averaged matters only at the power γ. Under ``"steps"`` a node contributes
q·f^(1/γ)·d, so an epoch whose nodes all train the fraction f makes
P = f·N·(Σ q·d/N)^γ: linear in the fraction, power γ in the nodes' share (docs/pact.md,
'Participation'). The contribution stays additive and increasing in f, so every solver's
argument holds unchanged; the two laws agree when γ = 1.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BITS_PER_BYTE",
    "compute_seconds",
    "curve_loss",
    "descent_rate",
    "epoch_progress",
    "equivalent_position",
    "floor_samples",
    "floored_loss",
    "jumped_loss",
    "node_energy",
    "node_samples",
    "node_time",
    "progress_samples",
    "subset_floor",
]

FloatArray = NDArray[np.float64]

#: A float, or an array of them: every formula works elementwise on either.
Value = TypeVar("Value", float, FloatArray)

#: Model sizes are in bytes, links in bit/s.
BITS_PER_BYTE = 8.0


def compute_seconds(
    fraction: Value, samples: Value, flops_per_sample: float, flops: Value
) -> Value:
    """f·d_n·φ(ρ)/c_n: the time a node computes in an epoch."""
    return fraction * samples * flops_per_sample / flops


def node_time(
    fraction: Value,
    samples: Value,
    flops_per_sample: float,
    flops: Value,
    model_bytes: float,
    bandwidth_bps: Value,
) -> Value:
    """f·d_n·φ(ρ)/c_n + 2·8·S(ρ)/b_n: one node's time in an epoch (compute, model down and up)."""
    compute = compute_seconds(fraction, samples, flops_per_sample, flops)
    return compute + 2.0 * BITS_PER_BYTE * model_bytes / bandwidth_bps


def node_energy(
    fraction: Value,
    samples: Value,
    flops_per_sample: float,
    flops: Value,
    model_bytes: float,
    bandwidth_bps: Value,
    power_w: Value,
    tx_power_w: Value,
) -> Value:
    """P_n·f·d_n·φ(ρ)/c_n + P^tx_n·8·S(ρ)/b_n: one node's energy in an epoch (compute, upload)."""
    compute = compute_seconds(fraction, samples, flops_per_sample, flops)
    return power_w * compute + tx_power_w * BITS_PER_BYTE * model_bytes / bandwidth_bps


def node_samples(fraction: Value, samples: Value, quality: Value, power: float = 1.0) -> Value:
    """q_n·f^p·d_n: the effective samples one node contributes to an epoch (D_k is their sum);
    p = 1 under the fraction law "samples", 1/γ under "steps" (see the module doc)."""
    if power == 1.0:
        return quality * fraction * samples
    out: Value = quality * fraction**power * samples
    return out


def curve_loss(
    position: Value, a: float, b: float, c: float, s0: float, family: str = "power"
) -> Value:
    """ℓ(s) at ``position`` s: c + a·(s + s0)^(−b) (``power``, s > −s0), or c + a/(1 + (s/s0)^b)
    for s ≥ 0 and c + a·(1 − s/s0) below (``log-logistic``; see the module doc)."""
    if family == "power":
        out: Value = c + a * (position + s0) ** (-b)
        return out
    if isinstance(position, float):
        if position < 0.0:
            return c + a * (1.0 - position / s0)
        try:
            return c + a / (1.0 + float((position / s0) ** b))
        except OverflowError:  # far down the tail: at the floor to double precision
            return c
    ahead = np.maximum(position, 0.0)
    with np.errstate(over="ignore"):
        curve = c + a / (1.0 + (ahead / s0) ** b)
    return np.where(position < 0.0, c + a * (1.0 - position / s0), curve)


def equivalent_position(
    loss: Value, a: float, b: float, c: float, s0: float, family: str = "power"
) -> Value:
    """s_eq with ℓ(s_eq) = ``loss`` for ℓ > c, inf for ℓ ≤ c (no clamp: see the module doc).
    ``power``: ((ℓ − c)/a)^(−1/b) − s0; ``log-logistic``: s0·(a/(ℓ − c) − 1)^(1/b) below the
    curve's start c + a, s0·(1 − (ℓ − c)/a) ≤ 0 at or above it."""
    if isinstance(loss, float):
        if loss <= c:
            return float("inf")
        if family == "power":
            return float(((loss - c) / a) ** (-1.0 / b)) - s0
        if loss >= c + a:
            return s0 * (1.0 - (loss - c) / a)
        return float(s0 * (a / (loss - c) - 1.0) ** (1.0 / b))
    above = loss > c
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        excess = np.where(above, loss - c, 1.0)
        if family == "power":
            raw = (excess / a) ** (-1.0 / b) - s0
        else:
            inside = np.maximum(a / excess - 1.0, 0.0) ** (1.0 / b)
            raw = np.where(excess >= a, s0 * (1.0 - excess / a), s0 * inside)
    return np.where(above, raw, np.inf)


def descent_rate(
    loss: FloatArray, a: float, b: float, c: float, s0: float, family: str = "power"
) -> FloatArray:
    """−dℓ/ds at the point of the curve where it is at ``loss`` (0 at or below c).

    ``power``: b·(ℓ − c)^(1 + 1/b)·a^(−1/b), increasing in ℓ. ``log-logistic``: with
    x = a/(ℓ − c) − 1, a·b·x^(1 − 1/b)/(s0·(1 + x)²) below the start (for b > 1 largest at
    x = (b − 1)/(b + 1): the curve is flat at its start and in its tail), a/s0 at or above it.
    """
    above = loss > c
    excess = np.where(above, loss - c, 1.0)
    if family == "power":
        rate = b * excess ** (1.0 + 1.0 / b) * a ** (-1.0 / b)
    else:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            x = np.maximum(a / excess - 1.0, 0.0)
            inside = a * b * x ** (1.0 - 1.0 / b) / (s0 * (1.0 + x) ** 2)
        rate = np.where(excess >= a, a / s0, np.nan_to_num(inside, nan=0.0, posinf=np.inf))
    out: FloatArray = np.where(above, rate, 0.0)
    return out


def epoch_progress(samples: Value, full: float, gamma: float) -> Value:
    """P(D) = N·(D/N)^γ: how far an epoch of ``samples`` effective samples moves along the curve
    (``samples`` itself when γ = 1, bit for bit)."""
    if gamma == 1.0:
        return samples
    out: Value = full * (samples / full) ** gamma
    return out


def progress_samples(progress: Value, full: float, gamma: float) -> Value:
    """P⁻¹(p) = N·(p/N)^(1/γ): the effective samples whose epoch makes ``progress``."""
    if gamma == 1.0:
        return progress
    out: Value = full * (progress / full) ** (1.0 / gamma)
    return out


def subset_floor(samples: Value, full: float, c: float, kappa: float) -> Value:
    """F(D) = c + κ·(N/D − 1): the lowest loss an epoch of ``samples`` effective samples can
    reach under the subset floor (see the module doc); inf for an epoch without samples."""
    if isinstance(samples, float):
        return c + kappa * (full / samples - 1.0) if samples > 0.0 else float("inf")
    with np.errstate(divide="ignore"):
        out: Value = np.where(samples > 0.0, c + kappa * (full / samples - 1.0), np.inf)
    return out


def floored_loss(
    curve: Value, jumped: Value | float, samples: Value, full: float, c: float, kappa: float
) -> Value:
    """max(ℓ_curve, min(F(D), ℓ⁺)) with F(D) = c + κ·(N/D − 1): the loss after an epoch of
    ``samples`` effective samples under the subset floor (see the module doc). ``curve`` is the
    curve's loss after the epoch, ``jumped`` the loss it started from; an epoch without samples
    has no floor (F(0) = inf), so it leaves ``jumped``."""
    floor = subset_floor(samples, full, c, kappa)
    if isinstance(floor, float):
        return max(curve, min(floor, jumped))
    out: Value = np.maximum(curve, np.minimum(floor, jumped))
    return out


def floor_samples(loss: Value, full: float, c: float, kappa: float) -> Value:
    """The least effective samples D whose subset floor F(D) = c + κ·(N/D − 1) is at most
    ``loss``: N·κ/(ℓ − c + κ) for ℓ > c, inf at or below c (0 when κ = 0 and ℓ > c)."""
    if isinstance(loss, float):
        return full * kappa / (loss - c + kappa) if loss > c else float("inf")
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Value = np.where(loss > c, full * kappa / (loss - c + kappa), np.inf)
    return out


def jumped_loss(
    loss: Value, alpha_from: float, beta_from: float, alpha_to: float, beta_to: float
) -> Value:
    """ℓ⁺ = g_to(g_from⁻¹(ℓ)), g_k(ℓ0) = (1 + β_k)·ℓ0 + α_k: the loss right after pruning a model
    of loss ``loss`` from one level (α_from, β_from) to another (α_to, β_to)."""
    if beta_from == 0.0 and beta_to == 0.0:
        same: Value = loss + (alpha_to - alpha_from)
        return same
    out: Value = (1.0 + beta_to) * ((loss - alpha_from) / (1.0 + beta_from)) + alpha_to
    return out
