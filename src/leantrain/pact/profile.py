"""``leantrain profile``: a PACT problem measured from the real model, data and fleet (SPEC 5).

From a run config, :func:`profile` writes every section of the problem file of SPEC 7.3:

* ``[[node]]``: one node per device of the config's fleet, named like the device
  (``<class>-<i>``), with its ``flops``, ``power_w``, ``memory_bytes``, upload rate as
  ``bandwidth_bps``, ``tx_power_w``, ``samples`` = the size of its data partition and
  ``quality`` 1. Availability traces are not part of PACT's model: ``flops`` is the speed at full
  availability.
* ``[model]``: for every pruning level ρ a copy of the model is pruned with Torch-Pruning
  (:func:`prune_model`: structured, channels physically removed, L2 magnitude importance, the final
  classifier's outputs kept) and measured with :func:`~leantrain.nn.model_cost`: φ(ρ) = training
  FLOPs per sample, S(ρ) = state bytes, m(ρ) = training memory for the config's batch size (one
  optimizer slot when the SGD momentum is positive, none otherwise).
* ``[curve]``: a short real training run per level. The initial model (the run's deterministic
  initial weights) first trains ``warmup_epochs`` passes over the pooled training data of the fleet,
  as FedAvg rounds of the whole fleet (``method="fedavg"``, the default: every device one local
  epoch on all its data, the dynamics :mod:`leantrain.pact.execute` runs) or by central SGD
  (``method="central"``: one seeded order per pass, the config's batch size, learning rate, momentum
  and weight decay). FedAvg is the default because averaging many devices makes progress per sample
  far slower than central SGD: central curves predicted losses about ten times too low for executed
  plans in our measurements. That warm-up model is pruned to each level and trained ``epochs``
  further passes, recording the loss on the held-out set (the config's test split) after each pass.
  Every level sees the same data order. Cumulative samples s count from the initial model: the
  level-0 run is observed at s = 0, N, 2N, … (N = the pooled training samples, one pass), a pruned
  level from the pruning point s = W (the warm-up samples) on. The last ``holdout`` points of each
  level are held out; (a, b, c, s0) of ℓ(s) = c + a·(s + s0)^(−b) are fitted to the others with
  :func:`scipy.optimize.curve_fit` (:func:`fit_curve`), and the fit error on the held-out points
  (RMSE and largest relative error) is reported. The fit written is the validated one (it is not
  refitted on the held-out points). ``jump[ρ]`` is the held-out loss right after pruning the warm-up
  model to ρ minus its loss before, clamped to ≥ 0 and made non-decreasing; ``initial_loss`` is the
  initial model's held-out loss.
* ``[target]`` and ``[options]``, defaults to edit, measured in a *reference epoch*
  (:func:`reference_epoch`): every node that fits the model and holds data trains all of it, at
  the least pruned level whose fitting nodes hold the most data (level 0 when every node fits the
  whole model). ``loss`` = the predicted loss after ``target_epochs`` reference epochs from
  ``initial_loss``; ``deadline_s`` = ``deadline_factor`` × ``target_epochs`` × the reference
  epoch's time. Repeating the reference epoch therefore meets both (by a factor
  ``deadline_factor`` on time), so the default problem is feasible. ``data_fractions`` as given;
  ``max_epochs`` = 3 × ``target_epochs`` unless given.

The file is written atomically with a comment block per section (:meth:`ProfileResult.save`), and
:func:`~leantrain.pact.problem.load_problem` reads it back.

The helpers shared with :mod:`leantrain.pact.execute` live here: :func:`prune_model`,
:func:`prunable_widths`, :func:`held_out` and :func:`central_pass`.
"""

from __future__ import annotations

import copy
import datetime
import io
import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import tomli_w
import torch
import torch_pruning as tp
from torch import nn

from leantrain.config import TrainingConfig
from leantrain.data import ArrayDataset
from leantrain.errors import InputError
from leantrain.fl.aggregate import WeightedUpdate, is_finite_state, masked_average
from leantrain.fl.client import train_step
from leantrain.fl.evaluate import Evaluator
from leantrain.fl.setup import FederatedSetup
from leantrain.io import atomic_write_bytes, atomic_write_text
from leantrain.nn import model_cost
from leantrain.pact.nodes import NodeResult, NodeTask, NodeTrainer
from leantrain.pact.plan import Decision, effective_samples, epoch_time
from leantrain.pact.predictor import Curve, LossPredictor
from leantrain.pact.problem import Problem, parse_problem
from leantrain.seeding import torch_generator

__all__ = [
    "DEFAULT_LEVELS",
    "CurveFit",
    "InProcessNodeTrainer",
    "LevelProfile",
    "ProfileOptions",
    "ProfileProgress",
    "ProfileResult",
    "RoundOutcome",
    "central_pass",
    "fedavg_round",
    "final_classifier",
    "fit_curve",
    "held_out",
    "kept_width",
    "node_sample_indices",
    "plot_profile",
    "pooled_training_data",
    "profile",
    "prunable_widths",
    "prune_model",
    "pruned_model",
    "reference_epoch",
    "train_node",
]

#: The pruning levels profiled when none are given.
DEFAULT_LEVELS = (0.0, 0.25, 0.5, 0.75)


# --------------------------------------------------------------------------------------------
# Structured pruning with Torch-Pruning
# --------------------------------------------------------------------------------------------


def _width(module: nn.Module) -> int:
    if isinstance(module, nn.Linear):
        return int(module.out_features)
    if isinstance(module, nn.modules.conv._ConvNd):
        return int(module.out_channels)
    raise TypeError(f"not a convolution or linear layer: {type(module).__name__}")


def final_classifier(model: nn.Module) -> nn.Module:
    """The layer whose outputs are the logits: the last convolution or linear layer in module
    order (the ``nn.Linear`` head of every registered model). Its outputs are never pruned.

    Raises:
        ValueError: The model has no convolution or linear layer.
    """
    layers = [m for m in model.modules() if isinstance(m, nn.Linear | nn.modules.conv._ConvNd)]
    if not layers:
        raise ValueError("the model has no convolution or linear layer to prune")
    return layers[-1]


def prunable_widths(model: nn.Module) -> dict[str, int]:
    """The output width of every prunable layer (all convolutions and linear layers but the final
    classifier), by qualified name."""
    head = final_classifier(model)
    return {
        name: _width(module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear | nn.modules.conv._ConvNd) and module is not head
    }


def kept_width(full_width: int, level: float) -> int:
    """Channels a layer of ``full_width`` keeps at pruning ratio ``level``: max(1, ⌊C·(1−ρ)⌋),
    Torch-Pruning's own rounding for a ratio applied to the full model."""
    return max(1, int(full_width * (1.0 - level)))


def prune_model(
    model: nn.Module,
    level: float,
    full_widths: Mapping[str, int],
    input_shape: tuple[int, int, int],
) -> nn.Module:
    """Prune ``model`` in place to pruning ratio ``level`` of the full model, physically.

    Every prunable layer keeps :func:`kept_width` of its full-model width ``full_widths[name]``;
    ``model`` may already be pruned to a lower level, so pruning ρ → ρ′ step by step gives exactly
    the architecture of pruning the full model to ρ′ at once. Channels are ranked by Torch-Pruning's
    ``MagnitudeImportance(p=2)`` over each dependency group (a convolution's filters with the
    BatchNorm entries and the next layer's input weights they feed), and removed from every layer
    of the group (``tp.pruner.BasePruner`` with per-layer ratios); the final classifier's outputs
    are ignored. The model's training/evaluation mode is kept.

    Args:
        model: The model to prune (modified and returned).
        level: Target pruning ratio ρ ∈ [0, 1) relative to the full model.
        full_widths: :func:`prunable_widths` of the unpruned model.
        input_shape: One sample's (C, H, W), for tracing the dependency graph.

    Returns:
        ``model``, pruned.

    Raises:
        ValueError: ``level`` is outside [0, 1), or the model is pruned beyond ``level`` already.
    """
    if not 0.0 <= level < 1.0:
        raise ValueError(f"pruning level must lie in [0, 1), got {level}")
    head = final_classifier(model)
    ratios: dict[nn.Module, float] = {}
    for name, module in model.named_modules():
        if name not in full_widths or module is head:
            continue
        current = _width(module)
        target = kept_width(full_widths[name], level)
        if target > current:
            raise ValueError(f"layer {name} has {current} channels, fewer than {target} at {level}")
        if target < current:
            # ⌊current·(1 − r)⌋ = target for r = 1 − (target + ½)/current, free of rounding error.
            ratios[module] = 1.0 - (target + 0.5) / current
    if not ratios:
        return model
    training = model.training
    model.eval()
    first = next(model.parameters())
    example = torch.zeros((1, *input_shape), dtype=first.dtype, device=first.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pruner = tp.pruner.BasePruner(
            model,
            example,
            importance=tp.importance.MagnitudeImportance(p=2),
            pruning_ratio=0.0,
            pruning_ratio_dict=ratios,
            ignored_layers=[head],
        )
        pruner.step()
    model.train(training)
    for name, module in model.named_modules():
        if name in full_widths and module is not head:
            expected = kept_width(full_widths[name], level)
            if _width(module) != expected:
                raise RuntimeError(
                    f"Torch-Pruning left {_width(module)} channels in {name}, expected {expected}"
                )
    return model


# --------------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------------


def held_out(model: nn.Module, data: ArrayDataset) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` on ``data``, in evaluation mode (the model is
    left in evaluation mode)."""
    return Evaluator(model, data)(model.state_dict())


def _optimizer(model: nn.Module, training: TrainingConfig) -> torch.optim.SGD:
    return torch.optim.SGD(
        model.parameters(),
        lr=training.lr,
        momentum=training.momentum,
        weight_decay=training.weight_decay,
    )


def central_pass(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: ArrayDataset,
    order: torch.Tensor,
    batch_size: int,
) -> None:
    """Train ``model`` on ``data`` in ``order``, one SGD step per mini-batch of ``batch_size``."""
    model.train()
    for batch in torch.split(order, batch_size):
        train_step(model, optimizer, data.x[batch], data.y[batch])


def node_sample_indices(
    setup: FederatedSetup, device_index: int, fraction: float, purpose: str, epoch: int
) -> np.ndarray:
    """The training samples device ``device_index`` uses for ``fraction`` of its data in
    ``epoch``: the first ⌊f·d + ½⌋ of a permutation of its partition drawn from the stream
    ``(seed, purpose, epoch, device_index)`` (so a fresh subset each epoch), in that order."""
    part = np.asarray(setup.partitions[device_index], dtype=np.int64)
    count = min(len(part), math.floor(fraction * len(part) + 0.5))
    generator = torch_generator(setup.config.seed, purpose, epoch, device_index)
    order = torch.randperm(len(part), generator=generator).numpy()
    chosen: np.ndarray = part[order[:count]]
    return chosen


@dataclass(frozen=True)
class RoundOutcome:
    """What one FedAvg round did.

    Attributes:
        samples: Per device name, the samples it trained on.
        rejected: Devices whose update held NaN/inf, or that failed, left out of the average.
    """

    samples: dict[str, int]
    rejected: tuple[str, ...]


def train_node(
    setup: FederatedSetup,
    task: NodeTask,
    global_state: Mapping[str, torch.Tensor],
    scratch: nn.Module,
) -> NodeResult:
    """One node's local epoch (the node's side of :func:`fedavg_round`).

    The node loads ``global_state`` into ``scratch`` (a model of the same architecture) and trains
    one epoch over :func:`node_sample_indices` with a fresh SGD optimizer of the config's
    settings and batch size. A node left with no sample trains nothing and returns no state.
    """
    device = setup.device(task.device_index)
    chosen = node_sample_indices(setup, task.device_index, task.fraction, task.purpose, task.epoch)
    if not len(chosen):
        return NodeResult(device.name, 0, None)
    training = setup.config.training
    data = setup.data.train.subset(chosen)
    scratch.load_state_dict(global_state)
    optimizer = _optimizer(scratch, training)
    central_pass(scratch, optimizer, data, torch.arange(len(data)), training.batch_size)
    state = {key: value.detach().clone() for key, value in scratch.state_dict().items()}
    return NodeResult(device.name, len(chosen), state)


def pruned_model(setup: FederatedSetup, level: float) -> nn.Module:
    """A fresh model pruned to ``level``: the architecture of any model pruned to that level
    (the weights differ; a node loads the global ones into it)."""
    model = setup.build_model()
    if level > 0.0:
        prune_model(model, level, prunable_widths(model), setup.data.train.input_shape)
    return model


class InProcessNodeTrainer(NodeTrainer):
    """Runs the nodes' local epochs in this process, one after another.

    Args:
        setup: The run's setup.
    """

    def __init__(self, setup: FederatedSetup) -> None:
        self.setup = setup

    def train(self, model: nn.Module, tasks: Sequence[NodeTask]) -> list[NodeResult]:
        global_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
        scratch = copy.deepcopy(model)
        results = []
        for task in tasks:
            try:
                results.append(train_node(self.setup, task, global_state, scratch))
            except Exception as error:
                name = self.setup.device(task.device_index).name
                results.append(NodeResult(name, 0, None, f"{type(error).__name__}: {error}"))
        return results


def fedavg_round(
    model: nn.Module,
    setup: FederatedSetup,
    fractions: Mapping[int, float],
    *,
    purpose: str,
    epoch: int,
    level: float = 0.0,
    trainer: NodeTrainer | None = None,
) -> RoundOutcome:
    """One synchronous FedAvg round on ``model`` (updated in place).

    Each device ``i`` in ``fractions`` trains one local epoch from the global weights
    (:func:`train_node`: ``fractions[i]`` of its partition), in fleet order, on ``trainer``
    (in-process when None); the accepted (finite) states are averaged weighted by their samples
    (:func:`~leantrain.fl.aggregate.masked_average`, full updates). A device left with no sample
    sends nothing; a node that failed or sent NaN/inf is left out and listed as rejected.

    Args:
        model: The global model, at pruning ratio ``level``.
        setup: The run's setup.
        fractions: Per device index, the fraction of its partition it trains on.
        purpose: The random stream of the sample choice.
        epoch: The epoch index.
        level: The model's pruning ratio (remote nodes rebuild the architecture from it).
        trainer: Where the local epochs run.
    """
    global_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    tasks = [NodeTask(i, fractions[i], level, purpose, epoch) for i in sorted(fractions)]
    results = (trainer or InProcessNodeTrainer(setup)).train(model, tasks)
    updates: list[WeightedUpdate] = []
    samples: dict[str, int] = {}
    rejected: list[str] = []
    for result in results:
        samples[result.device] = result.samples
        if result.state is not None and is_finite_state(result.state):
            updates.append(WeightedUpdate(result.state, float(result.samples)))
        elif result.state is not None or result.reason:
            rejected.append(result.device)
    if updates:
        model.load_state_dict(masked_average(global_state, updates))
    return RoundOutcome(samples, tuple(rejected))


# --------------------------------------------------------------------------------------------
# Curve fitting
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Profile
# --------------------------------------------------------------------------------------------


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

    def check(self) -> None:
        """Raise :class:`InputError` (naming the command-line option) on an unusable option."""
        levels = list(self.levels)
        where = "command line"
        if not levels or levels[0] != 0.0:
            raise InputError(where, "--levels", "the first pruning level must be 0")
        if any(not 0.0 <= x < 1.0 for x in levels):
            raise InputError(where, "--levels", "pruning levels must lie in [0, 1)")
        if any(b <= a for a, b in itertools.pairwise(levels)):
            raise InputError(where, "--levels", "pruning levels must be strictly ascending")
        if self.holdout < 1:
            raise InputError(where, "--holdout", "hold out at least one point per level")
        if self.epochs - self.holdout < 4:
            raise InputError(
                where,
                "--epochs",
                f"need at least {self.holdout + 4} epochs: 5 points to fit per level "
                f"besides the {self.holdout} held out",
            )
        if self.warmup_epochs < 0:
            raise InputError(where, "--warmup-epochs", "must be 0 or more")
        if self.method not in ("central", "fedavg"):
            raise InputError(where, "--method", f"unknown method {self.method!r}")
        fractions = list(self.data_fractions)
        if fractions != sorted(set(fractions)) or any(not 0.0 <= f <= 1.0 for f in fractions):
            raise InputError(where, "--fractions", "must be strictly ascending values in [0, 1]")
        if not any(f > 0.0 for f in fractions):
            raise InputError(where, "--fractions", "needs at least one fraction above 0")
        if self.target_epochs is not None and self.target_epochs < 1:
            raise InputError(where, "--target-epochs", "must be at least 1")
        if not (self.deadline_factor > 0.0 and math.isfinite(self.deadline_factor)):
            raise InputError(where, "--deadline-factor", "must be a positive number")
        if self.max_epochs is not None and self.max_epochs < 1:
            raise InputError(where, "--max-epochs", "must be at least 1")


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
        jump: The jump written (clamped ≥ 0, non-decreasing over the levels).
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


@dataclass(frozen=True)
class ProfileResult:
    """A profiled PACT problem and how it was measured.

    Attributes:
        problem: The problem (validated).
        levels: Per level, the measurements.
        initial_loss: Held-out loss of the initial model.
        warmup_loss: Held-out loss of the warm-up model (the jumps' reference).
        samples_per_epoch: N, the pooled training samples of the fleet (one pass).
        full_epoch_time_s: Time of the reference epoch (:func:`reference_epoch`), the deadline's
            unit.
        reference: The reference epoch: the level and the nodes of a full-fleet epoch.
        options: The options used.
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
            f"{lv.fit.holdout_max_rel_error:.2%}, jump measured {lv.jump_measured:+.4f}"
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
            f"# Per level (ρ, curve, errors):\n{fits}\n\n"
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
                "# l(s) = c + a*(s + s0)^(-b) per level, s = cumulative samples from the initial"
                " model;\n# jump[j]: held-out loss added by pruning the warm-up model to level j;"
                "\n# initial_loss: held-out loss of the initial model.\n"
            ),
            "[options]": "# Defaults: allowed data fractions and the epoch cap.\n",
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

    def save(self, path: str | Path) -> Path:
        """Write the problem file atomically."""
        return atomic_write_text(Path(path), self.toml())


def _memory(cost_model: nn.Module, setup: FederatedSetup) -> tuple[float, int, int, int]:
    training = setup.config.training
    cost = model_cost(cost_model, setup.data.train.input_shape)
    slots = 1 if training.momentum > 0.0 else 0
    return (
        cost.train_flops_per_sample,
        cost.state_bytes,
        cost.training_memory_bytes(training.batch_size, slots),
        sum(p.numel() for p in cost_model.parameters()),
    )


def pooled_training_data(setup: FederatedSetup) -> ArrayDataset:
    """The training samples the fleet holds (the union of the partitions), in dataset order."""
    indices = np.sort(np.concatenate([np.asarray(p, dtype=np.int64) for p in setup.partitions]))
    return setup.data.train.subset(indices)


def _diverged(source: str, level: float, loss: float) -> InputError:
    return InputError(
        source,
        "training.lr",
        f"the loss diverged ({loss}) while profiling pruning level {level:g}; lower training.lr",
    )


def profile(
    setup: FederatedSetup,
    options: ProfileOptions | None = None,
    *,
    source: str | Path = "<config>",
    progress: Callable[[ProfileProgress], None] | None = None,
) -> ProfileResult:
    """Measure a PACT problem from ``setup`` (see the module docstring for every choice).

    Args:
        setup: The run's data, fleet, partition and model.
        options: What to measure; the defaults of :class:`ProfileOptions` when None.
        source: The config file, for error messages and the problem file's header.
        progress: Called after every training pass.

    Returns:
        The problem and the measurements behind it.

    Raises:
        InputError: Unusable options, a diverging training, a curve that cannot be fitted, or a
            fleet where no device fits the model at any level.
    """
    options = options or ProfileOptions()
    options.check()
    source = str(source)
    config = setup.config
    training = config.training
    shape = setup.data.train.input_shape
    pooled = pooled_training_data(setup)
    test = setup.data.test
    n = len(pooled)
    total = options.warmup_epochs + len(options.levels) * options.epochs
    done = 0

    everyone = {i: 1.0 for i, part in enumerate(setup.partitions) if len(part)}

    def train_pass(
        model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int, level: float
    ) -> None:
        # One data order per pass, shared by every level: levels differ by their pruning only.
        if options.method == "fedavg":
            fedavg_round(model, setup, everyone, purpose="pact-profile", epoch=epoch, level=level)
            return
        order = torch.randperm(n, generator=torch_generator(config.seed, "pact-profile", epoch))
        central_pass(model, optimizer, pooled, order, training.batch_size)

    def report(stage: str, loss: float) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(ProfileProgress(done, total, stage, loss))

    model = setup.build_model()
    full_widths = prunable_widths(model)
    _, initial_loss = held_out(model, test)
    warm_samples = [0.0]
    warm_losses = [initial_loss]
    optimizer = _optimizer(model, training)
    for epoch in range(options.warmup_epochs):
        train_pass(model, optimizer, epoch, 0.0)
        _, loss = held_out(model, test)
        if not math.isfinite(loss):
            raise _diverged(source, 0.0, loss)
        warm_samples.append(float((epoch + 1) * n))
        warm_losses.append(loss)
        report("warm-up", loss)
    warm_state = copy.deepcopy(model.state_dict())
    warmup_loss = warm_losses[-1]
    warm_s = float(options.warmup_epochs * n)

    measured: list[dict[str, Any]] = []
    for level in options.levels:
        model = setup.build_model()
        model.load_state_dict(warm_state)
        prune_model(model, level, full_widths, shape)
        flops, state_bytes, memory, parameters = _memory(model, setup)
        _, pruned_loss = held_out(model, test)
        if level == 0.0:
            samples, losses = list(warm_samples), list(warm_losses)
        else:
            samples, losses = [warm_s], [pruned_loss]
        optimizer = _optimizer(model, training)
        stage = f"level {level:g}"
        for epoch in range(options.epochs):
            train_pass(model, optimizer, options.warmup_epochs + epoch, level)
            _, loss = held_out(model, test)
            if not math.isfinite(loss):
                raise _diverged(source, level, loss)
            samples.append(warm_s + (epoch + 1) * n)
            losses.append(loss)
            report(stage, loss)
        try:
            fit = fit_curve(samples, losses, scale=float(n), holdout=options.holdout)
        except ValueError as error:
            raise InputError(
                source, "profile", f"cannot fit the loss curve of pruning level {level:g}: {error}"
            ) from None
        measured.append(
            {
                "pruning": level,
                "flops": flops,
                "state_bytes": state_bytes,
                "memory": memory,
                "parameters": parameters,
                "widths": prunable_widths(model),
                "samples": tuple(samples),
                "losses": tuple(losses),
                "fit": fit,
                "jump_measured": pruned_loss - warmup_loss,
            }
        )

    jumps: list[float] = []
    for entry in measured:
        jumps.append(max(0.0, entry["jump_measured"], *(jumps[-1:] or [0.0])))
    jumps[0] = 0.0  # level 0 is not pruned: no jump by definition

    levels = tuple(
        LevelProfile(
            pruning=e["pruning"],
            flops_per_sample=e["flops"],
            state_bytes=e["state_bytes"],
            memory_bytes=e["memory"],
            parameters=e["parameters"],
            widths=e["widths"],
            samples=e["samples"],
            losses=e["losses"],
            fit=e["fit"],
            jump_measured=e["jump_measured"],
            jump=jump,
        )
        for e, jump in zip(measured, jumps, strict=True)
    )
    raw, reference = _problem_raw(setup, options, levels, initial_loss, source)
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
        source=source,
        raw=raw,
    )


def _problem_raw(
    setup: FederatedSetup,
    options: ProfileOptions,
    levels: Sequence[LevelProfile],
    initial_loss: float,
    source: str,
) -> tuple[dict[str, Any], Decision]:
    """The problem mapping (SPEC 7.3) with its default target and deadline, and the reference
    epoch they are measured in (:func:`reference_epoch`)."""
    nodes = [
        {
            "name": device.name,
            "flops": float(device.flops),
            "power_w": float(device.power_w),
            "memory_bytes": float(device.memory_bytes),
            "bandwidth_bps": float(device.upload_bps),
            "tx_power_w": float(device.tx_power_w),
            "samples": len(setup.partitions[device.index]),
            "quality": 1.0,
        }
        for device in setup.fleet.devices
    ]
    target_epochs = options.target_epochs or options.epochs
    raw: dict[str, Any] = {
        "target": {"loss": 1.0, "deadline_s": 1.0},
        "model": {
            "levels": [float(lv.pruning) for lv in levels],
            "flops_per_sample": [float(lv.flops_per_sample) for lv in levels],
            "bytes": [float(lv.state_bytes) for lv in levels],
            "memory_bytes": [float(lv.memory_bytes) for lv in levels],
        },
        "curve": {
            "a": [lv.fit.curve.a for lv in levels],
            "b": [lv.fit.curve.b for lv in levels],
            "c": [lv.fit.curve.c for lv in levels],
            "s0": [lv.fit.curve.s0 for lv in levels],
            "jump": [float(lv.jump) for lv in levels],
            "initial_loss": float(initial_loss),
        },
        "options": {
            "data_fractions": [float(f) for f in options.data_fractions],
            "max_epochs": options.max_epochs or 3 * target_epochs,
        },
        "node": nodes,
    }
    draft = parse_problem(raw, source)
    reference = reference_epoch(draft)
    if reference is None:
        needed = min(draft.model.memory_bytes)
        raise InputError(
            source,
            "fleet.classes",
            f"no device with data has the memory to train the model at any pruning level "
            f"(needs at least {needed:.4g} bytes)",
        )
    full_time = epoch_time(draft, reference)
    samples = effective_samples(draft, reference)
    predictor = LossPredictor.of(draft)
    target = predictor.trajectory([reference.level] * target_epochs, [samples] * target_epochs)
    raw["target"] = {
        "loss": float(target[-1]),
        "deadline_s": float(options.deadline_factor * target_epochs * full_time),
    }
    return raw, reference


def reference_epoch(problem: Problem) -> Decision | None:
    """The full-fleet epoch the default target and deadline are measured in: at the least pruned
    level whose fitting nodes hold the most data (level 0 when every node fits the whole model),
    every node that fits it and holds data trains all of it (the largest fraction). None when no
    node with data fits any level."""
    best: tuple[int, int] | None = None
    for index, memory in enumerate(problem.model.memory_bytes):
        held = sum(n.samples for n in problem.node if n.memory_bytes >= memory and n.samples > 0)
        if held > 0 and (best is None or held > best[1]):
            best = (index, held)
    if best is None:
        return None
    level, top = best[0], max(problem.fractions)
    memory = problem.model.memory_bytes[level]
    return Decision(
        level,
        {n.name: top for n in problem.node if n.memory_bytes >= memory and n.samples > 0},
    )


def plot_profile(result: ProfileResult, path: str | Path) -> Path:
    """A PNG of every level's observed held-out losses (held-out points hollow) and its fitted
    curve, written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 4.5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    holdout = result.options.holdout
    colours = [f"C{i}" for i in range(len(result.levels))]
    for level, colour in zip(result.levels, colours, strict=True):
        s = np.asarray(level.samples)
        y = np.asarray(level.losses)
        axes.plot(s[:-holdout], y[:-holdout], "o", color=colour, ms=4)
        axes.plot(s[-holdout:], y[-holdout:], "o", color=colour, mfc="none", ms=5)
        grid = np.linspace(float(s[0]), float(s[-1]), 200)
        axes.plot(
            grid,
            [level.fit.curve.loss(float(x)) for x in grid],
            "-",
            color=colour,
            label=f"ρ = {level.pruning:g} (held-out RMSE {level.fit.holdout_rmse:.3f})",
        )
    axes.axhline(result.problem.target.loss, color="k", ls=":", lw=1, label="default target")
    axes.set_yscale("log")
    axes.set_xlabel("cumulative training samples s")
    axes.set_ylabel("held-out cross-entropy")
    axes.set_title("profiled loss curves (hollow: held out of the fit)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return atomic_write_bytes(Path(path), buffer.getvalue())
