"""The loss curve ℓ(s) = c + a·(s + s0)^(−b) fitted to measured losses
(docs/pact-profile-execute.md, 'Profile'). Plain numpy and scipy."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from leantrain.pact.predictor import Curve

__all__ = ["CurveFit", "fit_curve"]


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


def fit_curve(
    samples: Sequence[float],
    losses: Sequence[float],
    *,
    scale: float,
    holdout: int = 0,
) -> CurveFit:
    """Fit ℓ(s) = c + a·(s + s0)^(−b) to observed (samples, loss) points.

    The fit runs in units of ``scale`` samples (u = s/scale, so a and s0 stay well conditioned),
    by :func:`scipy.optimize.curve_fit` (trust-region reflective, bounds a > 0, 0.001 ≤ b ≤ 10,
    0 ≤ c ≤ the smallest fitted loss, s0 ≥ 0 — strictly positive when a point sits at s = 0) from
    several starting points (b ∈ {0.5, 1, 2}, s0 ∈ {0.1, 1}·scale, c ∈ {0.5, 0.9}·the smallest
    loss, a through the first point); the least-squares best is kept.

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
    u0_low = 1e-3 if fit_u.min() <= 0.0 else 0.0
    lower = [1e-12, 1e-3, 0.0, u0_low]
    upper = [np.inf, 10.0, max(floor, 1e-12), 1e4]
    best: tuple[float, np.ndarray] | None = None
    failures: list[str] = []
    from scipy.optimize import OptimizeWarning, curve_fit

    for b0 in (0.5, 1.0, 2.0):
        for u00 in (0.1, 1.0):
            for share in (0.5, 0.9):
                c0 = share * floor
                u00_ = max(u00, u0_low)
                amplitude = max((float(fit_y[0]) - c0) * (float(fit_u[0]) + u00_) ** b0, 1e-6)
                start = np.clip([amplitude, b0, c0, u00_], lower, upper)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("error", OptimizeWarning)
                        warnings.simplefilter("ignore", RuntimeWarning)
                        params, _ = curve_fit(
                            _power_law,
                            fit_u,
                            fit_y,
                            p0=start,
                            bounds=(lower, upper),
                            maxfev=20000,
                        )
                except (RuntimeError, ValueError, OptimizeWarning) as error:
                    failures.append(str(error))
                    continue
                residual = _power_law(fit_u, *params) - fit_y
                sse = float(np.dot(residual, residual))
                if math.isfinite(sse) and (best is None or sse < best[0]):
                    best = (sse, params)
    if best is None:
        reason = failures[-1] if failures else "no start gave a finite fit"
        raise ValueError(f"curve_fit did not converge: {reason}")
    sse, (amplitude, b, c, u0) = best
    curve = Curve(
        a=float(amplitude) * scale ** float(b), b=float(b), c=float(c), s0=float(u0) * scale
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
