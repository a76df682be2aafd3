"""What ``profile`` measured, and the problem file it writes (docs/pact-profile-execute.md,
'Profile')."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from leantrain.io import atomic_write_text
from leantrain.pact.plan import Decision
from leantrain.pact.problem import Problem
from leantrain.pact.profile.fit import CurveFit, ParticipationFit, SubsetFloor
from leantrain.pact.profile.options import ProfileOptions

__all__ = ["LevelProfile", "ProfileResult"]


@dataclass(frozen=True)
class LevelProfile:
    """What :func:`profile` measured at one pruning level.

    Attributes:
        pruning: The pruning ratio ρ.
        flops_per_sample: φ(ρ), training FLOPs per sample of the pruned model.
        state_bytes: S(ρ).
        memory_bytes: m(ρ) for the config's batch size.
        parameters: Parameters of the pruned model.
        widths: Output channels of each prunable layer.
        samples: Cumulative samples of each observed point.
        losses: Held-out loss at each point.
        fit: The fitted curve and its errors.
        jump_measured: Loss right after pruning the warm-up model minus its loss before (raw).
        jump: The jump written at the initial loss (clamped ≥ 0, non-decreasing over the
            levels).
        jump_points: (loss before pruning, jump) measured at the warm-up model and the level-0
            checkpoints (empty for level 0).
        jump_slope: β written: how the jump changes per unit of loss at pruning time.
    """

    pruning: float
    flops_per_sample: float
    state_bytes: int
    memory_bytes: int
    parameters: int
    widths: dict[str, int]
    samples: tuple[float, ...]
    losses: tuple[float, ...]
    fit: CurveFit
    jump_measured: float
    jump: float
    jump_points: tuple[tuple[float, float], ...] = ()
    jump_slope: float = 0.0


@dataclass(frozen=True)
class ProfileResult:
    """A profiled PACT problem and how it was measured.

    Attributes:
        problem: The problem (validated).
        levels: Per level, the measurements.
        initial_loss: Held-out loss of the initial model.
        warmup_loss: Held-out loss of the warm-up model (the jumps' reference).
        samples_per_epoch: N, the pooled training samples of the fleet (one pass).
        full_epoch_time_s: Time of the reference epoch, the deadline's unit
            (:func:`~leantrain.pact.profile.target.reference_epoch`).
        reference: The reference epoch: the level and the nodes of a full-fleet epoch.
        options: The options used.
        participation: γ of the participation model and its fit (None: not measured, γ = 1);
            level 0's when there is one per level.
        participation_levels: One fit per level (``participation_per_level``), else empty.
        subset_floor: Per level, κ of the subset floor and its probes (empty: not measured, no
            floor).
        replicate_spread: The spread between replicates at the held-out points, part of σ
            (0 with one replicate; :attr:`ProfileOptions.replicates`).
        progress_sigma: σ_p, the held-out error (and the spread between replicates) in the log
            of the progress; the problem's margin with ``margin_model = "progress"``.
        source: The config it came from (for the file's header).
    """

    problem: Problem
    levels: tuple[LevelProfile, ...]
    initial_loss: float
    warmup_loss: float
    samples_per_epoch: int
    full_epoch_time_s: float
    reference: Decision
    options: ProfileOptions
    participation: ParticipationFit | None = None
    participation_levels: tuple[ParticipationFit, ...] = ()
    subset_floor: tuple[SubsetFloor, ...] = ()
    replicate_spread: float = 0.0
    progress_sigma: float = 0.0
    source: str = "<config>"
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def toml(self) -> str:
        """The problem file's text: the TOML of :attr:`problem` with a comment block per section."""
        body = tomli_w.dumps(self.raw)
        options = self.options
        fits = "\n".join(
            f"#   {lv.pruning:<5g} a={lv.fit.curve.a:.4g} b={lv.fit.curve.b:.4g} "
            f"c={lv.fit.curve.c:.4g} s0={lv.fit.curve.s0:.4g}  fit RMSE {lv.fit.fit_rmse:.4f}, "
            f"held-out RMSE {lv.fit.holdout_rmse:.4f}, max rel. error "
            f"{lv.fit.holdout_max_rel_error:.2%}, jumps measured "
            + (", ".join(f"{j:+.4f} at {x:.4f}" for x, j in lv.jump_points) or "none")
            for lv in self.levels
        )
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        header = (
            f"# PACT problem profiled by `leantrain profile` from {self.source} ({stamp}).\n"
            "# Model profile, loss curves and jumps are measured on the real model and data;\n"
            "# [target] and [options] are defaults to edit. See docs/pact-profile-execute.md.\n"
            f"# Training: {options.method}; warm-up {options.warmup_epochs} pass(es), then "
            f"{options.epochs} "
            f"passes per level;\n# one pass = N = {self.samples_per_epoch} samples; the last "
            f"{options.holdout} points of each level are held out of the fit.\n"
            f"{self._replicate_comment()}"
            f"# Per level (ρ, curve, errors):\n{fits}\n"
            f"{self._participation_comment()}{self._floor_comment()}\n"
        )
        target_epochs = options.target_epochs or options.epochs
        level = self.problem.model.levels[self.reference.level]
        comments = {
            "[target]": (
                f"# loss: the prediction after {target_epochs} reference epochs (pruning "
                f"{level:g}, the {len(self.reference.fractions)} nodes that fit it, all data);\n"
                f"# deadline_s: {options.deadline_factor:g} x {target_epochs} x "
                f"{self.full_epoch_time_s:.6g} s (one reference epoch).\n"
            ),
            "[model]": (
                "# Per level: training FLOPs per sample, state bytes, training memory (batch"
                " size of the config)\n# of the model pruned with Torch-Pruning (channels"
                " removed).\n"
            ),
            "[curve]": (
                (
                    "# l(s) = c + a*(s + s0)^(-b)"
                    if self.options.curve_family == "power"
                    else "# l(s) = c + a/(1 + (s/s0)^b) (log-logistic)"
                )
                + " per level, s = cumulative samples from the initial"
                " model;\n# jump[j] + jump_slope[j]*(l - initial_loss): held-out loss added by"
                " pruning to\n# level j a model at loss l (fitted to the warm-up model and two"
                " checkpoints);"
                "\n# initial_loss: held-out loss of the initial model;\n# participation (γ),"
                " full_samples (N): an epoch of D samples advances s by N*(D/N)^γ;\n# sigma:"
                " RMSE of the held-out points (and the spread between replicates); plans aim"
                " at loss - margin*sigma;\n# progress_sigma: the same points' error in log"
                " progress; plans count on exp(-margin*progress_sigma)\n# of each epoch's"
                f" predicted progress (measured {self.progress_sigma:.4f}; written with"
                " --margin-model progress).\n"
            ),
            "[options]": (
                "# Defaults: allowed data fractions, the epoch cap and the planning margin k.\n"
            ),
            "[[node]]": "",
        }
        out = header
        for line in body.splitlines(keepends=True):
            key = line.strip()
            if key in comments:
                out += comments[key]
                if key == "[[node]]":
                    comments[key] = ""  # only before the first node
            out += line
        return out

    def _floor_comment(self) -> str:
        if not self.subset_floor:
            return "# Subset floor: not measured (none).\n"
        lines = [
            "# Subset floor per level, fitted to one-epoch probes from the level's last model:"
        ]
        for level, floor in zip(self.levels, self.subset_floor, strict=True):
            probes = ", ".join(f"{loss:.3f}@{samples:g}" for samples, loss in floor.probes)
            lines.append(
                f"#   {level.pruning:<5g} κ = {floor.kappa:.4g} from {floor.start_loss:.4f}: "
                f"{probes} (loss@D)"
            )
        return "\n".join(lines) + "\n"

    def _replicate_comment(self) -> str:
        """The header lines of the replicates ("" with one)."""
        count = self.options.replicates
        if count < 2:
            return ""
        return (
            f"# {count} replicates (the config's seed and {count - 1} derived ones) pooled: "
            "curves fitted to their mean losses;\n# spread between them at the held-out "
            f"points {self.replicate_spread:.4f}, part of sigma.\n"
        )

    def _participation_comment(self) -> str:
        fit = self.participation
        if fit is None:
            return "# Participation: not measured (γ = 1: progress proportional to samples).\n"
        shares = ", ".join(f"{share:g}" for share in self.options.participation)
        if self.participation_levels:
            per_level = ", ".join(
                f"{level.pruning:g}: γ = {fit.gamma:.4g} (RMSE {fit.rmse:.4f})"
                for level, fit in zip(self.levels, self.participation_levels, strict=True)
            )
            return (
                f"# Participation per level, fitted to epochs of {shares} of the devices from the"
                f"\n# initial model pruned to each level: {per_level}.\n"
            )
        return (
            f"# Participation: γ = {fit.gamma:.4g} fitted to level-0 epochs of {shares} of the "
            f"devices\n# (RMSE {fit.rmse:.4f}; {fit.rmse_linear:.4f} at γ = 1).\n"
        )

    def save(self, path: str | Path) -> Path:
        """Write the problem file atomically."""
        return atomic_write_text(Path(path), self.toml())
