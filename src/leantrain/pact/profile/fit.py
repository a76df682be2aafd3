"""The loss curve (ℓ(s) = c + a·(s + s0)^(−b), or the log-logistic family) fitted to measured
losses, and γ of the participation model P(D) = N·(D/N)^γ fitted to epochs of part of the fleet
(docs/pact-profile-execute.md, 'Profile'). Plain numpy and scipy."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from leantrain.pact.predictor import Curve

__all__ = [
    "GAMMA_MIN",
    "CurveFit",
    "ObservedRun",
    "ParticipationFit",
    "ParticipationRun",
    "SubsetFloor",
    "fit_curve",
    "fit_participation",
    "fit_subset_floor",
    "participation_losses",
]


@dataclass(frozen=True)
class CurveFit:
    """A fitted loss curve and how well it fits.

    Attributes:
        curve: ℓ(s) = c + a·(s + s0)^(−b).
        fit_rmse: RMSE on the points it was fitted to.
        holdout_rmse: RMSE on the held-out points (NaN without any).
        holdout_max_rel_error: Largest |ℓ(s) − loss| / loss over the held-out points (NaN without
            any).
    """

    curve: Curve
    fit_rmse: float
    holdout_rmse: float
    holdout_max_rel_error: float


def _power_law(u: np.ndarray, amplitude: float, b: float, c: float, u0: float) -> np.ndarray:
    return np.asarray(c + amplitude * np.power(u + u0, -b), dtype=np.float64)


def _log_logistic(u: np.ndarray, amplitude: float, b: float, c: float, u0: float) -> np.ndarray:
    ahead = np.maximum(u, 0.0)
    return np.asarray(c + amplitude / (1.0 + np.power(ahead / u0, b)), dtype=np.float64)


def fit_curve(
    samples: Sequence[float],
    losses: Sequence[float],
    *,
    scale: float,
    holdout: int = 0,
    family: str = "power",
) -> CurveFit:
    """Fit the curve of ``family`` to observed (samples, loss) points: ℓ(s) = c + a·(s + s0)^(−b)
    (``power``) or c + a/(1 + (s/s0)^b) (``log-logistic``).

    The fit runs in units of ``scale`` samples (u = s/scale, so a and s0 stay well conditioned),
    by :func:`scipy.optimize.curve_fit` (trust-region reflective) from several starting points;
    the least-squares best is kept. ``power``: bounds a > 0, 0.001 ≤ b ≤ 10, 0 ≤ c ≤ the
    smallest fitted loss, s0 ≥ 0 (strictly positive when a point sits at s = 0); starts
    b ∈ {0.5, 1, 2}, s0 ∈ {0.1, 1}·scale, c ∈ {0.5, 0.9}·the smallest loss, a through the first
    point. ``log-logistic``: bounds a > 0, 0.1 ≤ b ≤ 20, 0 ≤ c ≤ the smallest fitted loss,
    0.001·scale ≤ s0 ≤ 10⁴·scale; starts b ∈ {1, 2, 4}, s0 ∈ {0.5, 2}·scale,
    c ∈ {0.5, 0.9}·the smallest loss, a = the first loss − c.

    Args:
        samples: Cumulative samples of each point, ascending.
        losses: The loss observed at each point.
        scale: The unit of the fit, e.g. the samples of one pass over the data.
        holdout: The last ``holdout`` points are not fitted; the error on them is reported.

    Returns:
        The curve in samples, with its fit and held-out errors.

    Raises:
        ValueError: Too few points (at least 5 fitted), non-finite losses, or no start converged.
    """
    s = np.asarray(samples, dtype=np.float64)
    y = np.asarray(losses, dtype=np.float64)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError("samples and losses must be two sequences of the same length")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(s))):
        raise ValueError("the losses are not all finite (the training diverged)")
    if holdout < 0 or len(s) - holdout < 5:
        raise ValueError(f"need at least 5 points to fit besides {holdout} held out, got {len(s)}")
    if not scale > 0.0:
        raise ValueError(f"scale must be positive, got {scale}")
    u = s / scale
    fit_u, fit_y = u[: len(u) - holdout], y[: len(y) - holdout]
    floor = float(fit_y.min())
    power = family == "power"
    if not power and family != "log-logistic":
        raise ValueError(f"unknown curve family {family!r}")
    model = _power_law if power else _log_logistic
    u0_low = 1e-3 if fit_u.min() <= 0.0 or not power else 0.0
    lower = [1e-12, 1e-3 if power else 0.1, 0.0, u0_low]
    upper = [np.inf, 10.0 if power else 20.0, max(floor, 1e-12), 1e4]
    best: tuple[float, np.ndarray] | None = None
    failures: list[str] = []
    from scipy.optimize import OptimizeWarning, curve_fit

    for b0 in (0.5, 1.0, 2.0) if power else (1.0, 2.0, 4.0):
        for u00 in (0.1, 1.0) if power else (0.5, 2.0):
            for share in (0.5, 0.9):
                c0 = share * floor
                u00_ = max(u00, u0_low)
                if power:
                    amplitude = max((float(fit_y[0]) - c0) * (float(fit_u[0]) + u00_) ** b0, 1e-6)
                else:
                    amplitude = max(float(fit_y[0]) - c0, 1e-6)
                start = np.clip([amplitude, b0, c0, u00_], lower, upper)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("error", OptimizeWarning)
                        warnings.simplefilter("ignore", RuntimeWarning)
                        params, _ = curve_fit(
                            model,
                            fit_u,
                            fit_y,
                            p0=start,
                            bounds=(lower, upper),
                            maxfev=20000,
                        )
                except (RuntimeError, ValueError, OptimizeWarning) as error:
                    failures.append(str(error))
                    continue
                residual = model(fit_u, *params) - fit_y
                sse = float(np.dot(residual, residual))
                if math.isfinite(sse) and (best is None or sse < best[0]):
                    best = (sse, params)
    if best is None:
        reason = failures[-1] if failures else "no start gave a finite fit"
        raise ValueError(f"curve_fit did not converge: {reason}")
    sse, (amplitude, b, c, u0) = best
    curve = Curve(
        a=float(amplitude) * scale ** float(b) if power else float(amplitude),
        b=float(b),
        c=float(c),
        s0=float(u0) * scale,
        family=family,
    )
    fit_rmse = math.sqrt(sse / len(fit_u))
    if holdout:
        predicted = np.array([curve.loss(float(x)) for x in s[len(s) - holdout :]])
        observed = y[len(y) - holdout :]
        holdout_rmse = float(np.sqrt(np.mean((predicted - observed) ** 2)))
        holdout_rel = float(np.max(np.abs(predicted - observed) / np.abs(observed)))
    else:
        holdout_rmse = holdout_rel = math.nan
    return CurveFit(curve, fit_rmse, holdout_rmse, holdout_rel)


@dataclass(frozen=True)
class ParticipationRun:
    """Epochs of part of the fleet, observed from a known loss.

    Attributes:
        share: The share of the devices that trained in each epoch.
        start_loss: The held-out loss before the first epoch.
        samples: The effective samples D_j of each epoch.
        losses: The held-out loss after each epoch.
    """

    share: float
    start_loss: float
    samples: tuple[float, ...]
    losses: tuple[float, ...]


@dataclass(frozen=True)
class ParticipationFit:
    """γ of the progress model P(D) = N·(D/N)^γ (docs/pact.md, 'Participation').

    Attributes:
        gamma: The fitted γ in [:data:`GAMMA_MIN`, 1].
        full_samples: N, the effective samples of a whole-fleet epoch.
        rmse: RMSE of the predicted losses of the runs at ``gamma``.
        rmse_linear: The same at γ = 1 (progress proportional to the samples), for comparison.
    """

    gamma: float
    full_samples: float
    rmse: float
    rmse_linear: float


#: The smallest γ the fit returns (progress almost independent of the samples).
GAMMA_MIN = 0.01


@dataclass(frozen=True)
class ObservedRun:
    """A whole-fleet run observed from the model the partial runs start from: the loss after
    ``progress[k]`` positions (0, N, 2N, …; the first loss is the start loss)."""

    progress: tuple[float, ...]
    losses: tuple[float, ...]


@dataclass(frozen=True)
class SubsetFloor:
    """The subset floor's κ (docs/pact.md, 'The subset floor') and what it was fitted to.

    Attributes:
        kappa: κ ≥ 0: an epoch of D effective samples cannot bring the loss below
            c + κ·(N/D − 1); 0 when no probe's loss rose.
        start_loss: The loss of the model the probes started from.
        probes: (effective samples D, loss after) of each one-epoch probe.
    """

    kappa: float
    start_loss: float
    probes: tuple[tuple[float, float], ...]


def fit_subset_floor(
    start_loss: float, probes: Sequence[tuple[float, float]], c: float, full_samples: float
) -> SubsetFloor:
    """κ of the subset floor from one-epoch probes of part of the fleet, each started from one
    well-trained model of loss ``start_loss`` (docs/pact-profile-execute.md, 'Subset floor').

    A probe whose loss rose sits at its floor: ℓ − c = κ·(N/D − 1) (x = N/D − 1, y = ℓ − c). κ is
    the least-squares slope through the origin over those probes, Σxy/Σx² (at least 0). A probe
    whose loss fell says only that its floor lies below: with the fitted c no better than the
    last points of the curve, that bound is too noisy to use. With no rising probe the floor was
    not reached: κ = 0.

    Raises:
        ValueError: No probe, a probe without samples, or full_samples ≤ 0.
    """
    if not probes:
        raise ValueError("need at least one probe to fit the subset floor")
    if not full_samples > 0.0:
        raise ValueError(f"full_samples must be positive, got {full_samples}")
    if min(samples for samples, _ in probes) <= 0.0:
        raise ValueError("a probe trained no sample")
    x = np.array([full_samples / samples - 1.0 for samples, _ in probes])
    y = np.array([loss - c for _, loss in probes])
    rose = np.array([loss > start_loss for _, loss in probes]) & (x > 0.0)
    kappa = 0.0
    if rose.any():
        kappa = max(0.0, float(np.dot(x[rose], y[rose]) / np.dot(x[rose], x[rose])))
    return SubsetFloor(kappa, float(start_loss), tuple((float(d), float(v)) for d, v in probes))


def participation_losses(
    reference: Curve | ObservedRun,
    run: ParticipationRun,
    full_samples: float,
    gamma: float,
    floor: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The losses predicted after each epoch of ``run`` when each epoch advances P(D_j) under
    ``gamma``: on a fitted curve from the equivalent position of the start loss (as the planner
    does), or on an observed whole-fleet run from the same start, interpolated linearly.
    ``floor`` = (c, κ) applies the subset floor max(ℓ, min(c + κ·(N/D − 1), ℓ_before)) after
    every epoch (none when κ = 0), and the next epoch continues from the floored loss."""
    from leantrain.pact.formulas import epoch_progress, floored_loss

    steps = epoch_progress(np.asarray(run.samples, dtype=np.float64), full_samples, gamma)
    c, kappa = floor
    if isinstance(reference, ObservedRun):
        grid = np.asarray(reference.progress, dtype=np.float64)
        observed = np.asarray(reference.losses, dtype=np.float64)
        if kappa <= 0.0:
            return np.interp(np.cumsum(steps), grid, observed)
        # Positions of a loss on the observed run: read on its running minimum (decreasing).
        lowest = np.minimum.accumulate(observed)

        def loss_at(position: float) -> float:
            return float(np.interp(position, grid, observed))

        def position_of(loss: float) -> float:
            return float(np.interp(-loss, -lowest, grid))

        position = 0.0
    else:
        if kappa <= 0.0:
            positions = reference.position(run.start_loss) + np.cumsum(steps)
            return np.array([reference.loss(float(p)) for p in positions])
        curve = reference

        def loss_at(position: float) -> float:
            return curve.loss(position)

        def position_of(loss: float) -> float:
            return curve.position(loss)

        position = curve.position(run.start_loss)
    out, before = [], run.start_loss
    for samples, step in zip(run.samples, steps, strict=True):
        after = loss_at(position + float(step))
        floored = floored_loss(after, before, float(samples), full_samples, c, kappa)
        position = position + float(step) if floored == after else position_of(floored)
        out.append(floored)
        before = floored
    return np.array(out)


def fit_participation(
    reference: Curve | ObservedRun,
    runs: Sequence[ParticipationRun],
    full_samples: float,
    floor: tuple[float, float] = (0.0, 0.0),
) -> ParticipationFit:
    """Fit γ to runs of partial participation: the γ in [:data:`GAMMA_MIN`, 1] whose predicted
    losses have the least squared error (bounded scalar search; without a floor the error is
    unimodal in γ because a smaller γ only adds progress to every epoch; under a subset floor,
    where floored epochs stop adding, the search's minimum is a local one).

    ``profile`` predicts on the observed whole-fleet run from the same model (:class:`ObservedRun`),
    so that the error of the curve fit does not leak into γ; a fitted curve works too.

    Args:
        reference: The whole-fleet progress (P(N) = N whatever γ): a fitted curve, or the
            observed run.
        runs: The partial-participation runs.
        full_samples: N, the effective samples of a whole-fleet epoch.
        floor: (c, κ) of the subset floor the runs' epochs are predicted under
            (:func:`participation_losses`); κ = 0 is none.

    Raises:
        ValueError: No run, an epoch without samples, a start loss a fitted curve cannot improve
            (at or below its asymptote c), or runs longer than the observed reference.
    """
    if not runs:
        raise ValueError("need at least one partial-participation run to fit γ")
    if not full_samples > 0.0:
        raise ValueError(f"full_samples must be positive, got {full_samples}")
    for run in runs:
        if len(run.samples) != len(run.losses) or not run.samples:
            raise ValueError("each run needs one loss per epoch, and at least one epoch")
        if min(run.samples) <= 0.0:
            raise ValueError("an epoch of a partial-participation run trained no sample")
        if isinstance(reference, Curve) and not run.start_loss > reference.c:
            raise ValueError("a run starts at or below the curve's asymptote c")
        if isinstance(reference, ObservedRun) and len(run.samples) >= len(reference.losses):
            raise ValueError("a partial run has more epochs than the observed reference run")
    observed = np.concatenate([np.asarray(run.losses, dtype=np.float64) for run in runs])

    def sse(gamma: float) -> float:
        predicted = np.concatenate(
            [participation_losses(reference, run, full_samples, gamma, floor) for run in runs]
        )
        residual = predicted - observed
        return float(np.dot(residual, residual))

    from scipy.optimize import minimize_scalar

    found = minimize_scalar(sse, bounds=(GAMMA_MIN, 1.0), method="bounded", options={"xatol": 1e-6})
    # The bounded search never evaluates the end points: keep one if it is better.
    gamma = min((float(found.x), 1.0, GAMMA_MIN), key=sse)
    count = len(observed)
    return ParticipationFit(
        gamma=gamma,
        full_samples=float(full_samples),
        rmse=math.sqrt(sse(gamma) / count),
        rmse_linear=math.sqrt(sse(1.0) / count),
    )
