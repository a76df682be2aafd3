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
  curves predicted losses about ten times too low for executed plans in our measurements. That
  warm-up model is pruned to each level and trained ``epochs`` further passes, recording the loss
  on the held-out set (the config's test split) after each pass. Every level sees the same data
  order. Cumulative samples s count from the initial model: the level-0 run is observed at
  s = 0, N, 2N, … (N = the pooled training samples, one pass), a pruned level from the pruning
  point s = W (the warm-up samples) on. The last ``holdout`` points of each level are held out;
  (a, b, c, s0) of ℓ(s) = c + a·(s + s0)^(−b) are fitted to the others
  (:func:`~leantrain.pact.profile.fit.fit_curve`), and the fit error on the held-out points is
  reported. ``jump[ρ]`` is the held-out loss right after pruning the warm-up model to ρ minus its
  loss before, clamped to ≥ 0 and made non-decreasing; ``initial_loss`` is the initial model's
  held-out loss.
* ``[target]`` and ``[options]``: defaults to edit, measured in a reference epoch
  (:func:`~leantrain.pact.profile.target.reference_epoch`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from leantrain.errors import InputError
from leantrain.fl.executor import ClientExecutor
from leantrain.fl.inprocess import LocalExecutor
from leantrain.fl.optim import build_optimizer
from leantrain.fl.setup import FederatedSetup
from leantrain.nn import model_cost
from leantrain.nn.pruning import prunable_widths, prune_model
from leantrain.nn.state import clone_state
from leantrain.pact.epoch import held_out, run_epoch
from leantrain.pact.plan import epoch_time
from leantrain.pact.problem import parse_problem
from leantrain.pact.profile.fit import fit_curve
from leantrain.pact.profile.options import ProfileOptions, ProfileProgress
from leantrain.pact.profile.passes import central_pass, pooled_training_data
from leantrain.pact.profile.result import LevelProfile, ProfileResult
from leantrain.pact.profile.target import problem_raw
from leantrain.seeding import torch_generator

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
        self.total = options.warmup_epochs + len(options.levels) * options.epochs
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
        self, model: nn.Module, first_epoch: int, count: int, level: float, stage: str
    ) -> list[float]:
        """``count`` passes from epoch ``first_epoch`` with a fresh optimiser; the losses after
        each."""
        optimizer = build_optimizer(model.parameters(), self.setup.config.training)
        losses = []
        for epoch in range(first_epoch, first_epoch + count):
            self.train_pass(model, optimizer, epoch, level)
            losses.append(self.observe(model, stage, level))
        return losses

    def level(
        self,
        level: float,
        warm_state: dict[str, torch.Tensor],
        warm: tuple[list[float], list[float]],
        full_widths: dict[str, int],
    ) -> LevelProfile:
        """Prune the warm-up model to ``level``, measure its cost, train and fit its curve; the
        jump written is set later (:func:`_monotone_jumps`)."""
        setup, options, n = self.setup, self.options, self.n
        model = setup.build_model()
        model.load_state_dict(warm_state)
        prune_model(model, level, full_widths, setup.data.train.input_shape)
        training = setup.config.training
        cost = model_cost(model, setup.data.train.input_shape)
        _, pruned_loss = held_out(model, setup.data.test)
        warm_samples, warm_losses = warm
        warm_s = float(options.warmup_epochs * n)
        if level == 0.0:
            samples, losses = list(warm_samples), list(warm_losses)
        else:
            samples, losses = [warm_s], [pruned_loss]
        trained = self.passes(
            model, options.warmup_epochs, options.epochs, level, f"level {level:g}"
        )
        samples.extend(warm_s + (epoch + 1) * n for epoch in range(options.epochs))
        losses.extend(trained)
        try:
            fit = fit_curve(samples, losses, scale=float(n), holdout=options.holdout)
        except ValueError as error:
            raise InputError(
                self.source,
                "profile",
                f"cannot fit the loss curve of pruning level {level:g}: {error}",
            ) from None
        return LevelProfile(
            pruning=level,
            flops_per_sample=cost.train_flops_per_sample,
            state_bytes=cost.state_bytes,
            # One optimiser slot (the momentum buffer) when the SGD momentum is positive.
            memory_bytes=cost.training_memory_bytes(
                training.batch_size, 1 if training.momentum > 0.0 else 0
            ),
            parameters=sum(p.numel() for p in model.parameters()),
            widths=prunable_widths(model),
            samples=tuple(samples),
            losses=tuple(losses),
            fit=fit,
            jump_measured=pruned_loss - warm_losses[-1],
            jump=0.0,
        )


def _monotone_jumps(levels: list[LevelProfile]) -> tuple[LevelProfile, ...]:
    """The levels with the jumps written: the measured ones clamped to >= 0 and made
    non-decreasing; level 0 is not pruned, so its jump is 0 by definition."""
    jumps: list[float] = []
    for level in levels:
        jumps.append(max(0.0, level.jump_measured, *(jumps[-1:] or [0.0])))
    jumps[0] = 0.0
    return tuple(replace(level, jump=jump) for level, jump in zip(levels, jumps, strict=True))


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
    profiler = _Profiler(setup, options, source, progress, executor)
    n = profiler.n

    model = setup.build_model()
    full_widths = prunable_widths(model)
    _, initial_loss = held_out(model, setup.data.test)
    warm_losses = [initial_loss]
    warm_losses += profiler.passes(model, 0, options.warmup_epochs, 0.0, "warm-up")
    warm_samples = [float(epoch * n) for epoch in range(options.warmup_epochs + 1)]
    warm_state = clone_state(model.state_dict())

    measured = [
        profiler.level(level, warm_state, (warm_samples, warm_losses), full_widths)
        for level in options.levels
    ]
    levels = _monotone_jumps(measured)
    raw, reference = problem_raw(setup, options, levels, initial_loss, source)
    problem = parse_problem(raw, source)
    return ProfileResult(
        problem=problem,
        levels=levels,
        initial_loss=initial_loss,
        warmup_loss=warm_losses[-1],
        samples_per_epoch=n,
        full_epoch_time_s=epoch_time(problem, reference),
        reference=reference,
        options=options,
        source=source,
        raw=raw,
    )
