"""What ``profile`` measures and the defaults it writes
(docs/pact-profile-execute.md, 'Profile')."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

from leantrain.errors import InputError
from leantrain.pact.problem import DEFAULT_MARGIN

__all__ = [
    "DEFAULT_FINAL_SHARE",
    "DEFAULT_LEVELS",
    "DEFAULT_MIN_SHARE",
    "ProfileOptions",
    "ProfileProgress",
]

#: The pruning levels profiled when none are given.
DEFAULT_LEVELS = (0.0, 0.25, 0.5, 0.75)

#: ``[options] min_share`` and ``final_share`` written when none is given (docs/pact.md,
#: 'Epoch floors'): a final epoch of at least a quarter of the fleet's work met the target in 11
#: of 12 executions as planned against 5 of 12 without (docs/benchmarks.md, pact-predictor); a
#: floor under every epoch cost 3.3-3.8 times the energy and met fewer.
DEFAULT_MIN_SHARE = 0.0
DEFAULT_FINAL_SHARE = 0.25


@dataclass(frozen=True)
class ProfileOptions:
    """What :func:`profile` measures and the defaults it writes.

    Attributes:
        levels: Pruning ratios, strictly ascending, the first 0.
        method: How each pass trains: ``central`` SGD over the pooled data of the fleet, or
            ``fedavg``: one FedAvg round in which every device with data trains one local epoch
            on all of it (an execute epoch of the whole fleet).
        epochs: Passes over the pooled training data per level after the warm-up.
        warmup_epochs: Passes of the unpruned model before pruning (the jumps are measured on the
            warm-up model; 0 measures them on the untrained model, where they say little).
        holdout: The last points of each level's run held out of the fit to measure its error.
        data_fractions: ``[options] data_fractions`` of the problem.
        target_epochs: The loss target is the prediction after this many reference epochs
            (:func:`reference_epoch`); None uses ``epochs``.
        deadline_factor: The deadline is this many times ``target_epochs`` reference epochs.
        max_epochs: ``[options] max_epochs``; None uses 3 × ``target_epochs``.
        participation: Shares of the devices (each in (0, 1)) that train in the extra level-0
            runs γ of the participation model is fitted to (``fedavg`` only; docs/pact.md,
            'Participation'); empty writes γ = 1. The smallest share matters most: plans train
            few nodes per epoch, and γ is extrapolated below the smallest share measured.
        participation_draw: Which devices train in a participation run's epochs: ``redrawn``,
            a new seeded random subset every epoch, or ``fixed``, the same subset in every epoch,
            as plans train the same cheapest nodes epoch after epoch (and so see the same data
            again).
        participation_per_level: Fit one γ per pruning level: the participation runs are
            repeated at every pruned level, from the initial model pruned to it, and each level's
            γ is fitted against that level's own run (``len(levels)`` times the participation
            passes). Off: level 0's γ serves every level.
        fraction_law: ``curve.fraction_law`` of the problem written: how a data fraction enters
            an epoch's effective samples, ``steps`` (q·f^(1/γ)·d, progress linear in the
            fraction, as FedAvg's local steps make it) or ``samples`` (q·f·d; docs/pact.md,
            'Participation'). It changes nothing that is measured.
        curve_family: The family of the fitted curves, ``log-logistic`` (a plateau at the start
            and a floor, as measured curves have) or ``power`` (``curve.family``; docs/pact.md,
            'Loss prediction').
        min_share: ``[options] min_share`` of the problem written: the least share of a
            whole-fleet epoch every epoch of a plan trains (docs/pact.md, 'Epoch floors').
        final_share: ``[options] final_share`` of the problem written: the least share of a
            whole-fleet epoch a plan's final epoch trains (docs/pact.md, 'Epoch floors').
        floor_draws: One-epoch probes per participation share from each level's last model, to
            which that level's κ of the subset floor is fitted (``fedavg`` only;
            docs/pact-profile-execute.md, 'Subset floor'); 0 (the default) measures none and
            writes no floor.
        replicates: Independent profiles pooled into one (docs/pact-profile-execute.md,
            'Replicates'): the first at the config's seed, the others at seeds derived from it
            (other data draw unless ``data.subset_seed`` fixes it, partition, initial weights
            and orders); the curves are fitted to the mean losses, γ and κ to every replicate's
            runs and probes, and σ of the planning margin also counts the spread between
            replicates. Each costs a whole profile.
        margin_model: What the planning margin of the problem written covers (docs/pact.md,
            'Planning margin'): ``loss`` (σ, the held-out error in loss: plans aim at ℓ* − k·σ)
            or ``progress`` (σ_p, the same points' error in the log of the progress: plans count
            on exp(−k·σ_p) of each epoch's predicted progress).
        margin: ``[options] margin`` of the problem written, k of the planning margin
            (docs/pact.md, 'Planning margin').
    """

    levels: tuple[float, ...] = DEFAULT_LEVELS
    method: Literal["central", "fedavg"] = "fedavg"
    epochs: int = 8
    warmup_epochs: int = 1
    holdout: int = 2
    data_fractions: tuple[float, ...] = (0.0, 0.5, 1.0)
    target_epochs: int | None = None
    deadline_factor: float = 2.0
    max_epochs: int | None = None
    participation: tuple[float, ...] = (0.0625, 0.25, 0.5)
    participation_draw: Literal["redrawn", "fixed"] = "redrawn"
    participation_per_level: bool = False
    fraction_law: Literal["samples", "steps"] = "steps"
    curve_family: Literal["power", "log-logistic"] = "log-logistic"
    min_share: float = DEFAULT_MIN_SHARE
    final_share: float = DEFAULT_FINAL_SHARE
    floor_draws: int = 0
    replicates: int = 1
    margin_model: Literal["loss", "progress"] = "loss"
    margin: float = DEFAULT_MARGIN

    @property
    def passes(self) -> int:
        """The training passes :func:`~leantrain.pact.profile.profile` runs: the warm-up and
        level 0's passes, every pruned level's from the initial model (warm-up and passes), and
        the participation runs and the subset floor's probes (which ``central`` skips; each probe
        counts as a pass)."""
        shares = len(self.participation) if self.method == "fedavg" else 0
        repeats = len(self.levels) if self.participation_per_level else 1
        runs = 1 + shares * repeats
        pruned = (len(self.levels) - 1) * (self.warmup_epochs + self.epochs)
        probes = shares * self.floor_draws * len(self.levels)
        return (self.warmup_epochs + runs * self.epochs + pruned + probes) * self.replicates

    def check(self) -> None:
        """Raise :class:`~leantrain.errors.InputError` on an unusable option; its field is the
        option's name (``levels``, ``epochs``...), its message speaks of values."""
        levels = list(self.levels)
        where = "profile options"
        if not levels or levels[0] != 0.0:
            raise InputError(where, "levels", "the first pruning level must be 0")
        if any(not 0.0 <= x < 1.0 for x in levels):
            raise InputError(where, "levels", "pruning levels must lie in [0, 1)")
        if any(b <= a for a, b in itertools.pairwise(levels)):
            raise InputError(where, "levels", "pruning levels must be strictly ascending")
        if self.holdout < 1:
            raise InputError(where, "holdout", "hold out at least one point per level")
        if self.epochs - self.holdout < 4:
            raise InputError(
                where,
                "epochs",
                f"epochs must be >= holdout + 4 = {self.holdout + 4} (5 points to fit per level "
                f"besides the {self.holdout} held out), got {self.epochs}",
            )
        if self.warmup_epochs < 0:
            raise InputError(where, "warmup_epochs", f"must be 0 or more, got {self.warmup_epochs}")
        if self.method not in ("central", "fedavg"):
            raise InputError(where, "method", f"unknown method {self.method!r}")
        fractions = list(self.data_fractions)
        if fractions != sorted(set(fractions)) or any(not 0.0 <= f <= 1.0 for f in fractions):
            raise InputError(where, "data_fractions", "must be strictly ascending values in [0, 1]")
        if not any(f > 0.0 for f in fractions):
            raise InputError(where, "data_fractions", "needs at least one fraction above 0")
        if self.target_epochs is not None and self.target_epochs < 1:
            raise InputError(
                where, "target_epochs", f"must be at least 1, got {self.target_epochs}"
            )
        if not (self.deadline_factor > 0.0 and math.isfinite(self.deadline_factor)):
            raise InputError(
                where, "deadline_factor", f"must be a positive number, got {self.deadline_factor}"
            )
        if self.participation_draw not in ("redrawn", "fixed"):
            raise InputError(
                where, "participation_draw", f"unknown draw {self.participation_draw!r}"
            )
        if self.curve_family not in ("power", "log-logistic"):
            raise InputError(where, "curve_family", f"unknown family {self.curve_family!r}")
        if self.fraction_law not in ("samples", "steps"):
            raise InputError(where, "fraction_law", f"unknown law {self.fraction_law!r}")
        if any(not 0.0 < share < 1.0 for share in self.participation):
            raise InputError(
                where, "participation", "every share of the devices must lie strictly in (0, 1)"
            )
        if self.max_epochs is not None and self.max_epochs < 1:
            raise InputError(where, "max_epochs", f"must be at least 1, got {self.max_epochs}")
        for name, share in (("min_share", self.min_share), ("final_share", self.final_share)):
            if not 0.0 <= share <= 1.0:
                raise InputError(where, name, f"must lie in [0, 1], got {share}")
        if self.floor_draws < 0:
            raise InputError(where, "floor_draws", f"must be 0 or more, got {self.floor_draws}")
        if self.replicates < 1:
            raise InputError(where, "replicates", f"must be 1 or more, got {self.replicates}")
        if self.margin_model not in ("loss", "progress"):
            raise InputError(where, "margin_model", f"unknown model {self.margin_model!r}")
        if not (self.margin >= 0.0 and math.isfinite(self.margin)):
            raise InputError(where, "margin", f"must be a number >= 0, got {self.margin}")


@dataclass(frozen=True)
class ProfileProgress:
    """One finished training pass of :func:`profile`.

    Attributes:
        done: Passes finished so far (warm-up included).
        total: All passes.
        stage: ``"warm-up"`` or ``"level 0.25"``...
        loss: The held-out loss after the pass.
    """

    done: int
    total: int
    stage: str
    loss: float
