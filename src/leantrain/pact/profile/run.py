"""``profile``: a PACT problem measured from the real model, data and fleet.

From a run config, :func:`profile` writes every section of the problem file
(docs/pact-profile-execute.md, 'Profile'; docs/file-formats.md, 'The PACT problem TOML'):

* ``[[node]]``: one node per device of the config's fleet, named like the device
  (``<class>-<i>``), with its ``flops``, ``power_w``, ``memory_bytes``, upload rate as
  ``bandwidth_bps``, ``tx_power_w``, ``samples`` = the size of its data partition and
  ``quality`` 1. Availability traces are not part of PACT's model: ``flops`` is the speed at full
  availability.
* ``[model]``: for every pruning level ρ a copy of the model is pruned with Torch-Pruning
  (:func:`~leantrain.nn.pruning.prune_model`: structured, channels physically removed, L2
  magnitude importance, the final classifier's outputs kept) and measured with
  :func:`~leantrain.nn.model_cost`: φ(ρ) = training FLOPs per sample, S(ρ) = state bytes, m(ρ) =
  training memory for the config's batch size (one optimizer slot when the SGD momentum is
  positive, none otherwise).
* ``[curve]``: a short real training run per level. The initial model (the run's deterministic
  initial weights) first trains ``warmup_epochs`` passes over the pooled training data of the
  fleet, as PACT epochs of the whole fleet (``method="fedavg"``, the default: every device one
  local pass over all its data on the client runtime, :func:`~leantrain.pact.epoch.run_epoch`, the
  dynamics ``execute`` runs) or by central SGD (``method="central"``: one seeded order per pass,
  the config's batch size, learning rate, momentum and weight decay). FedAvg is the default
  because averaging many devices makes progress per sample far slower than central SGD: central
  curves predicted losses about ten times too low for executed plans in our measurements. The
  level-0 run continues from the warm-up model for ``epochs`` further passes; every pruned level
  trains the *initial* model pruned to it for as many passes (warm-up included), so that its curve
  covers the losses from the initial one down, where plans use it. The loss on the held-out set
  (the config's test split) is recorded after each pass; every level sees the same data order.
  Cumulative samples s count from the initial model: every level is observed at s = 0, N, 2N, …
  (N = the pooled training samples, one pass). The last ``holdout`` points of each level are held
  out; (a, b, c, s0) of ℓ(s) = c + a·(s + s0)^(−b) are fitted to the others
  (:func:`~leantrain.pact.profile.fit.fit_curve`), and the fit error on the held-out points is
  reported. The jumps are measured at three points: pruning the warm-up model, and the level-0
  run's models half-way and at its end; ``jump[ρ]`` + ``jump_slope[ρ]``·(ℓ − initial_loss) is
  fitted to them (:func:`_fit_jumps`); ``initial_loss`` is the initial model's held-out loss.
* ``curve.participation``: γ of the progress model P(D) = N·(D/N)^γ (docs/pact.md,
  'Participation'), ``fedavg`` only. From the initial model, ``epochs`` level-0 epochs are run
  for each share in ``participation`` (default 1/16, 1/4 and 1/2 of the devices with data, a
  seeded random subset redrawn every epoch), and γ is fitted to their losses against the level-0
  run from the same model as observed (not its fitted curve, whose error would leak into γ;
  :func:`~leantrain.pact.profile.fit.fit_participation`); ``curve.full_samples`` = N. With
  ``participation_per_level`` the runs are repeated at every pruned level from the initial model
  pruned to it, and each level gets its own γ, fitted against that level's run.
* ``[target]`` and ``[options]``: defaults to edit, measured in a reference epoch
  (:func:`~leantrain.pact.profile.target.reference_epoch`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from leantrain.errors import InputError
from leantrain.fl.executor import ClientExecutor
from leantrain.fl.inprocess import LocalExecutor
from leantrain.fl.optim import build_optimizer
from leantrain.fl.setup import FederatedSetup, build_setup
from leantrain.nn import model_cost
from leantrain.nn.pruning import prunable_widths, prune_model
from leantrain.nn.state import clone_state
from leantrain.pact.epoch import held_out, run_epoch
from leantrain.pact.plan import epoch_time
from leantrain.pact.problem import parse_problem
from leantrain.pact.profile.fit import (
    CurveFit,
    ObservedRun,
    ParticipationFit,
    ParticipationRun,
    SubsetFloor,
    fit_curve,
    fit_participation,
    fit_subset_floor,
)
from leantrain.pact.profile.options import ProfileOptions, ProfileProgress
from leantrain.pact.profile.passes import central_pass, pooled_training_data
from leantrain.pact.profile.result import LevelProfile, ProfileResult
from leantrain.pact.profile.target import problem_raw
from leantrain.seeding import numpy_rng, stream_seed, torch_generator

__all__ = ["profile"]


def _diverged(source: str, level: float, loss: float) -> InputError:
    return InputError(
        source,
        "training.lr",
        f"the loss diverged ({loss}) while profiling pruning level {level:g}; lower training.lr",
    )


class _Profiler:
    """The training passes of one :func:`profile` call and their progress.

    Args:
        setup: The run's setup.
        options: What to measure (checked).
        source: The config file, for error messages.
        progress: Called after every training pass.
        executor: Where the clients of ``fedavg`` passes run; a local one, built on first use,
            when None.
    """

    def __init__(
        self,
        setup: FederatedSetup,
        options: ProfileOptions,
        source: str,
        progress: Callable[[ProfileProgress], None] | None,
        executor: ClientExecutor | None,
    ) -> None:
        self.setup = setup
        self.options = options
        self.source = source
        self.progress = progress
        self.executor = executor
        self.pooled = pooled_training_data(setup)
        self.n = len(self.pooled)
        self.everyone = {i: 1.0 for i, part in enumerate(setup.partitions) if len(part)}
        self.shares = options.participation if options.method == "fedavg" else ()
        self.total = options.passes
        #: (loss, state) of the level-0 run at its snapshots (:meth:`passes`).
        self.checkpoints: list[tuple[float, dict[str, torch.Tensor]]] = []
        #: (loss, state) of each level's run at its end, where the subset floor is probed.
        self.finals: dict[float, tuple[float, dict[str, torch.Tensor]]] = {}
        self.done = 0

    def train_pass(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, level: float
    ) -> None:
        """One pass over the pooled data; one data order per pass, shared by every level (levels
        differ by their pruning only)."""
        if self.options.method == "fedavg":
            if self.executor is None:
                self.executor = LocalExecutor(self.setup)
            run_epoch(
                model,
                self.executor,
                self.everyone,
                purpose="pact-profile",
                epoch=epoch,
                level=level,
            )
            return
        generator = torch_generator(self.setup.config.seed, "pact-profile", epoch)
        order = torch.randperm(self.n, generator=generator)
        central_pass(model, optimizer, self.pooled, order, self.setup.config.training.batch_size)

    def observe(self, model: nn.Module, stage: str, level: float) -> float:
        """The held-out loss after a pass, reported; a diverged loss is an input error."""
        _, loss = held_out(model, self.setup.data.test)
        if not math.isfinite(loss):
            raise _diverged(self.source, level, loss)
        self.done += 1
        if self.progress is not None:
            self.progress(ProfileProgress(self.done, self.total, stage, loss))
        return loss

    def passes(
        self,
        model: nn.Module,
        first_epoch: int,
        count: int,
        level: float,
        stage: str,
        snapshots: Sequence[int] = (),
    ) -> list[float]:
        """``count`` passes from epoch ``first_epoch`` with a fresh optimiser; the losses after
        each. After the passes numbered in ``snapshots`` (1-based), the loss and a copy of the
        state are kept in :attr:`checkpoints`."""
        optimizer = build_optimizer(model.parameters(), self.setup.config.training)
        losses = []
        for done, epoch in enumerate(range(first_epoch, first_epoch + count), start=1):
            self.train_pass(model, optimizer, epoch, level)
            losses.append(self.observe(model, stage, level))
            if done in snapshots:
                self.checkpoints.append((losses[-1], clone_state(model.state_dict())))
        return losses

    def jump_points(
        self, level: float, full_widths: dict[str, int], pruned_warm: float, warm_loss: float
    ) -> tuple[tuple[float, float], ...]:
        """(loss before, jump) of pruning to ``level``: at the warm-up model, then at the level-0
        run's checkpoints (:attr:`checkpoints`), where the loss is lower."""
        points = [(warm_loss, pruned_warm - warm_loss)]
        for loss, state in self.checkpoints:
            model = self.setup.build_model()
            model.load_state_dict(state)
            prune_model(model, level, full_widths, self.setup.data.train.input_shape)
            _, pruned = held_out(model, self.setup.data.test)
            points.append((loss, pruned - loss))
        return tuple(points)

    def level(
        self,
        level: float,
        warm_state: dict[str, torch.Tensor],
        warm: tuple[list[float], list[float]],
        full_widths: dict[str, int],
    ) -> LevelProfile:
        """Measure ``level``'s cost, the jump of pruning the warm-up model to it, and its curve;
        the jumps written are fitted later (:func:`_fit_jumps`).

        Level 0's curve continues the warm-up run. A pruned level's curve is observed from the
        *initial* model pruned to it, over as many passes as level 0 (warm-up included), so that
        it covers every loss from the initial one down, as plans use it: a plan may prune the
        untrained model in its first epoch, and a curve observed only from the warm-up model on
        was extrapolated there (docs/pact-profile-execute.md, 'Fit')."""
        setup, options, n = self.setup, self.options, self.n
        shape = setup.data.train.input_shape
        warmed = setup.build_model()
        warmed.load_state_dict(warm_state)
        prune_model(warmed, level, full_widths, shape)
        training = setup.config.training
        cost = model_cost(warmed, shape)
        _, pruned_loss = held_out(warmed, setup.data.test)
        warm_samples, warm_losses = warm
        stage = f"level {level:g}"
        if level == 0.0:
            model, first, count = warmed, options.warmup_epochs, options.epochs
            samples, losses = list(warm_samples), list(warm_losses)
            # Checkpoints of the level-0 run, half-way and at its end, where the jumps of the
            # pruned levels are measured again (docs/pact-profile-execute.md, 'Jumps').
            snapshots = sorted({options.epochs // 2, options.epochs} - {0})
        else:
            model, first, count = setup.build_model(), 0, options.warmup_epochs + options.epochs
            prune_model(model, level, full_widths, shape)
            _, start_loss = held_out(model, setup.data.test)
            samples, losses, snapshots = [0.0], [start_loss], []
        trained = self.passes(model, first, count, level, stage, snapshots)
        if self.shares and options.floor_draws > 0:
            self.finals[level] = (trained[-1], clone_state(model.state_dict()))
        samples.extend(float((first + k + 1) * n) for k in range(count))
        losses.extend(trained)
        fit = _level_curve(samples, losses, n, options, self.source, level)
        return LevelProfile(
            pruning=level,
            flops_per_sample=cost.train_flops_per_sample,
            state_bytes=cost.state_bytes,
            # One optimiser slot (the momentum buffer) when the SGD momentum is positive.
            memory_bytes=cost.training_memory_bytes(
                training.batch_size, 1 if training.momentum > 0.0 else 0
            ),
            parameters=sum(p.numel() for p in warmed.parameters()),
            widths=prunable_widths(warmed),
            samples=tuple(samples),
            losses=tuple(losses),
            fit=fit,
            jump_measured=pruned_loss - warm_losses[-1],
            jump=0.0,
            jump_points=(
                ()
                if level == 0.0
                else self.jump_points(level, full_widths, pruned_loss, warm_losses[-1])
            ),
        )

    def participation_run(
        self, share: float, level: float, full_widths: dict[str, int]
    ) -> ParticipationRun:
        """``epochs`` FedAvg epochs of the initial model pruned to ``level`` in which a seeded
        random ``share`` of the devices with data (at least one) trains, redrawn every epoch or
        the same in every epoch (``participation_draw``). They start where plans start, from the
        untrained model, where a small share of the fleet lags most."""
        model = self.pruned_model(level, full_widths)
        _, initial_loss = held_out(model, self.setup.data.test)
        samples, losses = [], []
        fixed = self.options.participation_draw == "fixed"
        for epoch in range(self.options.epochs):
            # A fixed subset is the one a redrawn run trains in its first epoch.
            draw = 0 if fixed else epoch
            where = ("pact-participation", "pact-profile", draw, epoch)
            samples.append(self.subset_epoch(model, share, level, where))
            losses.append(self.observe(model, f"participation {share:g} at {level:g}", level))
        return ParticipationRun(share, initial_loss, tuple(samples), tuple(losses))

    def pruned_model(self, level: float, full_widths: dict[str, int]) -> nn.Module:
        """A fresh model (the run's initial weights) pruned to ``level``."""
        model = self.setup.build_model()
        if level > 0.0:
            prune_model(model, level, full_widths, self.setup.data.train.input_shape)
        return model

    def subset_epoch(
        self, model: nn.Module, share: float, level: float, where: tuple[str, str, int, int]
    ) -> float:
        """One FedAvg epoch of ``model`` in which a seeded random ``share`` of the devices with
        data (at least one) trains all its data; ``where`` = (the draw's seed stream, the
        epoch's purpose, the draw, the epoch). Returns the epoch's effective samples."""
        stream, purpose, draw, epoch = where
        if self.executor is None:
            self.executor = LocalExecutor(self.setup)
        devices = sorted(self.everyone)
        count = max(1, round(share * len(devices)))
        rng = numpy_rng(self.setup.config.seed, stream, round(share * 1e6), draw)
        chosen = sorted(int(i) for i in rng.choice(devices, size=count, replace=False))
        run_epoch(
            model,
            self.executor,
            {i: 1.0 for i in chosen},
            purpose=purpose,
            epoch=epoch,
            level=level,
        )
        return float(sum(len(self.setup.partitions[i]) for i in chosen))

    def floor_probes(
        self, level: float, full_widths: dict[str, int]
    ) -> tuple[float, list[tuple[float, float]]]:
        """The loss of ``level``'s last model (the end of its run) and, per participation share
        and draw, the (effective samples, loss) of one FedAvg epoch of a seeded random subset of
        that share from it (docs/pact-profile-execute.md, 'Subset floor')."""
        start_loss, state = self.finals[level]
        probes = []
        for share in self.shares:
            for draw in range(self.options.floor_draws):
                model = self.pruned_model(level, full_widths)
                model.load_state_dict(state)
                epoch = self.options.warmup_epochs + self.options.epochs + draw
                samples = self.subset_epoch(
                    model, share, level, ("pact-floor", "pact-floor", draw, epoch)
                )
                stage = f"floor probe {share:g} at {level:g}"
                probes.append((samples, self.observe(model, stage, level)))
        return start_loss, probes


#: The least jump slope written: above −1, so that pruning stays increasing in the loss.
SLOPE_MIN = -0.9


def _fit_jumps(levels: list[LevelProfile], initial_loss: float) -> tuple[LevelProfile, ...]:
    """The levels with the jumps written (docs/pact-profile-execute.md, 'Jumps').

    Per pruned level, J(ℓ) = jump + β·(ℓ − initial_loss) is fitted by least squares to the jumps
    measured at the warm-up model and the level-0 checkpoints (β = 0 when the losses do not
    differ). The line is then read at the two ends of the range plans use, the initial loss and
    the lowest asymptote min c, each clamped to ≥ 0 and made non-decreasing over the levels (a
    running maximum), with β ≥ :data:`SLOPE_MIN`; jump and β are recovered from the two ends.
    Level 0 is not pruned: jump 0, β 0.
    """
    low = min(level.fit.curve.c for level in levels) - initial_loss  # x at the lowest asymptote
    ends: list[tuple[float, float]] = [(0.0, 0.0)]  # (J at the initial loss, J at min c)
    for level in levels[1:]:
        x = np.array([loss - initial_loss for loss, _ in level.jump_points])
        y = np.array([jump for _, jump in level.jump_points])
        if len(x) >= 2 and float(np.ptp(x)) > 1e-12:
            slope, intercept = np.polyfit(x, y, 1)
        else:
            slope, intercept = 0.0, float(y.mean())
        at_top = max(0.0, float(intercept))
        at_low = min(max(0.0, float(intercept + slope * low)), at_top + SLOPE_MIN * low)
        ends.append((max(at_top, ends[-1][0]), max(at_low, ends[-1][1])))
    out = []
    for level, (at_top, at_low) in zip(levels, ends, strict=True):
        slope = (at_low - at_top) / low if low < 0.0 else 0.0
        out.append(replace(level, jump=at_top, jump_slope=slope))
    return tuple(out)


def _level_curve(
    samples: list[float],
    losses: list[float],
    n: int,
    options: ProfileOptions,
    source: str,
    level: float,
) -> CurveFit:
    """The curve of ``level`` fitted to its run (:func:`fit_curve`, one pass of ``n`` samples
    as the scale); a curve that cannot be fitted is an input error."""
    try:
        return fit_curve(
            samples, losses, scale=float(n), holdout=options.holdout, family=options.curve_family
        )
    except ValueError as error:
        raise InputError(
            source, "profile", f"cannot fit the loss curve of pruning level {level:g}: {error}"
        ) from None


@dataclass(frozen=True)
class _Replicate:
    """What one replicate of :func:`profile` measured, before the replicates are pooled.

    Attributes:
        n: The pooled training samples (one pass).
        initial_loss, warmup_loss: Held-out loss of the initial and the warm-up model.
        levels: Per level, its run and the curve fitted to it alone (jumps not yet written).
        probes: Per level, the subset floor's (start loss, probes); empty when not measured.
        runs: Per level with its own γ (level 0 only without ``participation_per_level``), the
            participation runs; empty when not measured.
        done: Training passes run so far, this replicate's included (for the progress).
    """

    n: int
    initial_loss: float
    warmup_loss: float
    levels: list[LevelProfile]
    probes: list[tuple[float, list[tuple[float, float]]]]
    runs: list[list[ParticipationRun]]
    done: int


def _measure(
    setup: FederatedSetup,
    options: ProfileOptions,
    source: str,
    progress: Callable[[ProfileProgress], None] | None,
    executor: ClientExecutor | None,
    done: int,
) -> _Replicate:
    """Every training run of one replicate: the warm-up, each level's run, the subset floor's
    probes and the participation runs, in that order (``done``: passes already run)."""
    profiler = _Profiler(setup, options, source, progress, executor)
    profiler.done = done
    n = profiler.n
    model = setup.build_model()
    full_widths = prunable_widths(model)
    _, initial_loss = held_out(model, setup.data.test)
    warm_losses = [initial_loss]
    warm_losses += profiler.passes(model, 0, options.warmup_epochs, 0.0, "warm-up")
    warm_samples = [float(epoch * n) for epoch in range(options.warmup_epochs + 1)]
    warm_state = clone_state(model.state_dict())
    levels = [
        profiler.level(level, warm_state, (warm_samples, warm_losses), full_widths)
        for level in options.levels
    ]
    probes = [
        profiler.floor_probes(level.pruning, full_widths)
        for level in (levels if profiler.finals else ())
    ]
    fitted = levels if options.participation_per_level else levels[:1]
    runs = [
        [profiler.participation_run(share, level.pruning, full_widths) for share in profiler.shares]
        for level in (fitted if profiler.shares else ())
    ]
    return _Replicate(n, initial_loss, warm_losses[-1], levels, probes, runs, profiler.done)


def _pooled_levels(
    replicates: Sequence[_Replicate], options: ProfileOptions, source: str
) -> list[LevelProfile]:
    """Per level, the replicates' runs pooled: the mean loss at every point (they are observed
    at the same cumulative samples), the curve fitted to it, every replicate's jump points. One
    replicate: its levels as they are."""
    if len(replicates) == 1:
        return replicates[0].levels
    pooled = []
    for index, level in enumerate(replicates[0].levels):
        losses = np.mean([r.levels[index].losses for r in replicates], axis=0)
        n = replicates[0].n
        fit = _level_curve(list(level.samples), losses.tolist(), n, options, source, level.pruning)
        pooled.append(
            replace(
                level,
                losses=tuple(float(x) for x in losses),
                fit=fit,
                jump_measured=float(np.mean([r.levels[index].jump_measured for r in replicates])),
                jump_points=tuple(p for r in replicates for p in r.levels[index].jump_points),
            )
        )
    return pooled


def _replicate_spread(replicates: Sequence[_Replicate], holdout: int) -> float:
    """The spread between replicates where plans end, for σ of the planning margin: the sample
    standard deviation of the replicates' losses at each level's held-out points (its last
    ``holdout``), pooled as a root mean square; 0 with one replicate."""
    if len(replicates) < 2:
        return 0.0
    variances = []
    for index in range(len(replicates[0].levels)):
        last = np.array([r.levels[index].losses[-holdout:] for r in replicates])
        variances.extend(np.var(last, axis=0, ddof=1).tolist())
    return math.sqrt(math.fsum(variances) / len(variances))


def _progress_sigma(
    replicates: Sequence[_Replicate], levels: Sequence[LevelProfile], holdout: int
) -> float:
    """σ_p of a progress margin (docs/pact-profile-execute.md, 'Progress margin'): at each
    level's held-out points, log(s_eq / s) for every replicate, where s_eq is the position on
    the level's (pooled) curve at the replicate's loss and s the samples trained there. σ_p² is
    the mean square of the replicates' mean (the pooled curve's held-out error, in progress)
    plus the mean sample variance between replicates (0 with one). Points at or below a curve's
    floor, whose position is infinite, are left out."""
    means: list[float] = []
    variances: list[float] = []
    for index, level in enumerate(levels):
        curve = level.fit.curve
        for point in range(-holdout, 0):
            trained = level.samples[point]
            logs = [
                math.log(position / trained)
                for replicate in replicates
                if math.isfinite(position := curve.position(replicate.levels[index].losses[point]))
                and position > 0.0
                and trained > 0.0
            ]
            if not logs:
                continue
            means.append(statistics.fmean(logs) ** 2)
            if len(logs) >= 2:
                variances.append(statistics.variance(logs))
    if not means:
        return 0.0
    spread = statistics.fmean(variances) if variances else 0.0
    return math.sqrt(statistics.fmean(means) + spread)


def profile(
    setup: FederatedSetup,
    options: ProfileOptions | None = None,
    *,
    source: str | Path = "<config>",
    progress: Callable[[ProfileProgress], None] | None = None,
    executor: ClientExecutor | None = None,
) -> ProfileResult:
    """Measure a PACT problem from ``setup`` (see the module docstring for every choice).

    Args:
        setup: The run's data, fleet, partition and model.
        options: What to measure; the defaults of :class:`ProfileOptions` when None.
        source: The config file, for error messages and the problem file's header.
        progress: Called after every training pass.
        executor: Where the clients of the ``fedavg`` passes run (in this process when None;
            the caller closes what it passes).

    Returns:
        The problem and the measurements behind it.

    Raises:
        InputError: Unusable options, a diverging training, a curve that cannot be fitted, or a
            fleet where no device fits the model at any level.
    """
    options = options or ProfileOptions()
    options.check()
    source = str(source)
    replicates = [_measure(setup, options, source, progress, executor, 0)]
    for index in range(1, options.replicates):
        # Another seed: another data draw (unless data.subset_seed fixes it), partition,
        # initial weights and orders, on a local executor (a caller's executor serves
        # ``setup`` only).
        seed = stream_seed(setup.config.seed, "pact-profile-replicate", index) % 2**31
        other = build_setup(setup.config.model_copy(update={"seed": seed}), source)
        size = len(pooled_training_data(other))
        if size != replicates[0].n:
            # The runs are pooled point by point: they must be observed at the same samples.
            raise InputError(
                source,
                "replicates",
                f"the replicates' pooled training data differ in size ({replicates[0].n} and "
                f"{size} samples); profile with one replicate",
            )
        done = replicates[-1].done
        replicates.append(_measure(other, options, source, progress, None, done))
    n = replicates[0].n
    initial_loss = float(np.mean([r.initial_loss for r in replicates]))
    warmup_loss = float(np.mean([r.warmup_loss for r in replicates]))
    levels = _fit_jumps(_pooled_levels(replicates, options, source), initial_loss)
    floors: list[SubsetFloor] = []
    for index, level in enumerate(levels if replicates[0].probes else ()):
        start_loss = float(np.mean([r.probes[index][0] for r in replicates]))
        probes = [probe for r in replicates for probe in r.probes[index][1]]
        floors.append(fit_subset_floor(start_loss, probes, level.fit.curve.c, float(n)))
    kappas = [floor.kappa for floor in floors] or [0.0] * len(levels)
    fits: list[ParticipationFit] = []
    for index, (level, kappa) in enumerate(zip(levels, kappas, strict=True)):
        if index >= len(replicates[0].runs):
            break
        runs = [run for r in replicates for run in r.runs[index]]
        try:
            # The level's whole-fleet run from the initial model (level 0: warm-up included),
            # as observed: its losses after 0, N, 2N, ... passes.
            observed = ObservedRun(
                tuple(float(k * n) for k in range(options.epochs + 1)),
                tuple(level.losses[: options.epochs + 1]),
            )
            # The runs' one-node epochs reach their subset floor: predicted with it, so that
            # the floor does not leak into γ.
            fits.append(fit_participation(observed, runs, float(n), (level.fit.curve.c, kappa)))
        except ValueError as error:
            raise InputError(
                source,
                "profile",
                f"cannot fit the participation model of pruning level {level.pruning:g}: {error}",
            ) from None
    participation = fits[0] if fits else None
    per_level = tuple(fits) if options.participation_per_level and fits else ()
    spread = _replicate_spread(replicates, options.holdout)
    progress_sigma = _progress_sigma(replicates, levels, options.holdout)
    raw, reference = problem_raw(
        setup,
        options,
        levels,
        initial_loss,
        source,
        participation,
        per_level,
        kappas,
        spread,
        progress_sigma,
    )
    problem = parse_problem(raw, source)
    return ProfileResult(
        problem=problem,
        levels=levels,
        initial_loss=initial_loss,
        warmup_loss=warmup_loss,
        samples_per_epoch=n,
        full_epoch_time_s=epoch_time(problem, reference),
        reference=reference,
        options=options,
        participation=participation,
        participation_levels=per_level,
        subset_floor=tuple(floors),
        replicate_spread=spread,
        progress_sigma=progress_sigma,
        source=source,
        raw=raw,
    )
