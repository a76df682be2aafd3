"""A device's local update: real PyTorch training on its data, timed on the simulated clock.

Only time and energy are simulated. The device walks its mini-batches; before each one its policy
decides what to train (or to stop) from the device's own speed and remaining time, and the work is
placed on the device's availability trace with the exact clock of :mod:`leantrain.fleet.clock`.

The same runtime serves PACT's epochs (docs/pact-profile-execute.md, 'Execute'): a task with a
:class:`~leantrain.fl.task.SampleSelection` trains one pass of the (possibly pruned) model over
the selected samples, with no policy and no deadline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from leantrain.fl.optim import build_optimizer
from leantrain.fl.policy import LocalProgress, PolicyContext, Stop, make_policy
from leantrain.fl.samples import node_sample_indices
from leantrain.fl.setup import FederatedSetup
from leantrain.fl.task import NO_DATA, ClientTask, ClientUpdate, SampleSelection
from leantrain.fleet import Device, device_energy, finish_time
from leantrain.nn.state import clone_state
from leantrain.nn.submodel import SlicedTrainer, TrainedMasks
from leantrain.seeding import torch_generator

__all__ = [
    "InjectedFault",
    "failed_update",
    "run_local_update",
    "train_step",
    "unanswered_update",
]


class InjectedFault(RuntimeError):
    """The exception an injected ``exception`` fault raises inside the client."""


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    clip_norm: float | None = None,
) -> float:
    """One SGD step of the full model on one mini-batch; returns the mini-batch loss.

    With ``clip_norm`` the gradient is clipped to that total norm before the step
    (``torch.nn.utils.clip_grad_norm_``; docs/world-model.md, 'Gradient clipping').
    """
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(inputs), targets)
    loss.backward()  # type: ignore[no-untyped-call]
    if clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return float(loss.detach())


def run_local_update(
    setup: FederatedSetup,
    task: ClientTask,
    global_state: Mapping[str, torch.Tensor],
    model: nn.Module | None = None,
) -> ClientUpdate:
    """Run one device's local update for one round.

    A task with :attr:`~leantrain.fl.task.ClientTask.samples` trains one pass over the selected
    samples instead (:func:`_selected_pass`).

    Args:
        setup: The run's setup (the device, its data, the model and its cost).
        task: The server's instructions.
        global_state: The global model state sent by the server.
        model: A scratch model of the task's architecture (``task.model_level``) to reuse; a new
            one is built if None.

    Returns:
        The device's update, with its simulated arrival time and energy.

    Raises:
        InjectedFault: When the task carries an injected ``exception`` fault.
        ValueError: A task with selected samples names a policy other than ``full``, or a task
            without them asks for a pruned model.
    """
    device = setup.device(task.device_index)
    training = setup.config.training
    state_bytes = setup.cost_at(task.model_level).state_bytes
    download_s = device.download_time(state_bytes)
    upload_s = device.upload_time(state_bytes)
    start = task.round_start_s + download_s
    wait_end = task.round_start_s + task.wait_limit_s
    if task.fault == "exception":
        raise InjectedFault(f"injected fault on {device.name} in round {task.round}")
    if task.fault in ("timeout", "hang"):
        # The device hangs: it is busy until the server stops waiting, and never answers.
        return _unanswered(device, start, wait_end, download_s, "timeout", math.inf)
    if task.samples is None and task.model_level != 0.0:
        raise ValueError("only a task with selected samples trains a pruned model")
    if model is None:
        model = setup.build_model(task.model_level)
    if task.samples is not None:
        return _selected_pass(setup, task, task.samples, global_state, model)

    compute_deadline = (
        None if task.deadline_s is None else task.round_start_s + task.deadline_s - upload_s
    )
    data = setup.local_data(task.device_index)
    batches = _batches(
        len(data),
        training.batch_size,
        training.local_epochs,
        setup.config.seed,
        task.round,
        task.device_index,
    )
    context = PolicyContext(
        setup, torch_generator(setup.config.seed, "masks", task.round, task.device_index)
    )
    policy = make_policy(task.policy, task.options, context)
    flops_full = setup.full_cost.train_flops_per_sample

    model.load_state_dict(global_state)
    model.train()
    optimizer = build_optimizer(model.parameters(), training, task.lr)

    now = start
    samples = 0
    cost_sum = 0.0
    trained = 0
    stop: Stop | None = None
    remaining = sum(len(b) for b in batches)
    sliced: SlicedTrainer | None = None
    trained_masks: TrainedMasks | None = None
    selections: list[list[float]] = []
    for index, batch in enumerate(batches):
        progress = LocalProgress(
            index, len(batches), now, compute_deadline, device, len(batch), remaining, flops_full
        )
        decision = policy.decide(progress)
        if isinstance(decision, Stop):
            stop = decision
            break
        selections.append([now, decision.cost_ratio])
        inputs, targets = data.x[batch], data.y[batch]
        if decision.keep is None:
            train_step(model, optimizer, inputs, targets, training.clip_norm)
        else:
            if sliced is None:
                sliced = SlicedTrainer(
                    model,
                    setup.channel_groups,
                    scale_outputs=setup.config.distreal.scale_outputs,
                    clip_norm=training.clip_norm,
                )
                trained_masks = TrainedMasks(model.state_dict(), setup.channel_groups)
                if samples:
                    trained_masks.add(None, samples)  # the full-model mini-batches so far
            sliced.step(optimizer, inputs, targets, decision.keep)
        if trained_masks is not None:
            trained_masks.add(decision.keep, len(batch))
        now = finish_time(device.trace, device.flops, now, len(batch) * decision.flops_per_sample)
        samples += len(batch)
        remaining -= len(batch)
        cost_sum += decision.cost_ratio
        trained += 1

    extra = {"mean_cost_ratio": cost_sum / trained} if trained else {}
    if stop is not None and stop.discard:
        busy_until = now
        if stop.busy_until_deadline and compute_deadline is not None:
            busy_until = max(now, compute_deadline)
        # A discarded update never reaches the server in time: the server waits it out.
        return _unanswered(device, start, busy_until, download_s, stop.reason, math.inf)
    if trained == 0:
        # Nothing fitted: the device says so at once, so the server need not wait for it.
        reason = stop.reason if stop is not None else NO_DATA
        return _unanswered(device, start, now, download_s, reason, now - task.round_start_s)
    arrival = now + upload_s - task.round_start_s
    if arrival > task.wait_limit_s:
        reason = "deadline" if task.deadline_s is not None else "timeout"
        return _unanswered(
            device,
            start,
            min(now, wait_end),
            download_s,
            reason,
            math.inf,
            upload_s=min(upload_s, max(0.0, wait_end - now)),
        )
    return _trained(
        task,
        device,
        model,
        (start, now, arrival),
        (download_s, upload_s),
        masks=None if trained_masks is None else trained_masks.masks(),
        num_samples=samples,
        num_batches=trained,
        extra=extra,
        selections=selections if trained_masks is not None else [],
    )


def _trained(
    task: ClientTask,
    device: Device,
    model: nn.Module,
    times: tuple[float, float, float],
    transfers: tuple[float, float],
    **fields: Any,
) -> ClientUpdate:
    """The ``ok`` update of a device that trained ``model`` from ``start`` until ``now`` and
    reaches the server ``arrival`` seconds after the round start (``times``), with its download
    and upload seconds (``transfers``); an injected ``nan`` fault applies to the sent state."""
    start, now, arrival = times
    download_s, upload_s = transfers
    state = clone_state(model.state_dict())
    _inject_nan(task, state)
    return ClientUpdate(
        device=device.name,
        device_index=device.index,
        status="ok",
        state=state,
        arrival_s=arrival,
        compute_s=now - start,
        energy=device_energy(device, now - start, upload_s, download_s),
        **fields,
    )


def _inject_nan(task: ClientTask, state: dict[str, torch.Tensor]) -> None:
    """Apply an injected ``nan`` fault: the first float entry of the state becomes NaN."""
    if task.fault == "nan":
        first_float = next(k for k, v in state.items() if v.is_floating_point())
        state[first_float].view(-1)[0] = math.nan


def _selected_pass(
    setup: FederatedSetup,
    task: ClientTask,
    selection: SampleSelection,
    global_state: Mapping[str, torch.Tensor],
    model: nn.Module,
) -> ClientUpdate:
    """One pass of the full (possibly pruned) model over the samples ``selection`` chooses.

    The samples are :func:`~leantrain.fl.samples.node_sample_indices`, trained in that order, one
    :func:`train_step` per mini-batch of the config's batch size, with a fresh optimiser
    (docs/pact-profile-execute.md, 'Execute'). Time and energy are charged as for a round's
    update: the model's state travels each way and the compute of the pruned model is placed on
    the device's availability trace; the server has no deadline and waits. A device left with no
    sample answers at once with a ``dropped`` update of reason :data:`~leantrain.fl.task.NO_DATA`.
    """
    if task.policy != "full":
        raise ValueError(f"a task with selected samples trains the full model, not {task.policy!r}")
    device = setup.device(task.device_index)
    cost = setup.cost_at(task.model_level)
    download_s = device.download_time(cost.state_bytes)
    upload_s = device.upload_time(cost.state_bytes)
    start = task.round_start_s + download_s
    chosen = node_sample_indices(
        setup, task.device_index, selection.fraction, selection.purpose, selection.epoch
    )
    if not len(chosen):
        return _unanswered(device, start, start, download_s, NO_DATA, download_s)
    data = setup.data.train.subset(chosen)
    model.load_state_dict(global_state)
    model.train()
    # PACT's epoch tasks carry no rate of their own (training.lr) and are not clipped, as the
    # profile's passes are not (docs/world-model.md, 'Gradient clipping').
    optimizer = build_optimizer(model.parameters(), setup.config.training, task.lr)
    batches = torch.split(torch.arange(len(data)), setup.config.training.batch_size)
    for batch in batches:
        train_step(model, optimizer, data.x[batch], data.y[batch])
    now = finish_time(device.trace, device.flops, start, len(data) * cost.train_flops_per_sample)
    arrival = now + upload_s - task.round_start_s
    return _trained(
        task,
        device,
        model,
        (start, now, arrival),
        (download_s, upload_s),
        num_samples=len(data),
        num_batches=len(batches),
    )


def _batches(
    num_samples: int, batch_size: int, epochs: int, seed: int, round_index: int, device: int
) -> list[torch.Tensor]:
    """The mini-batch index lists of the local workload, a fresh seeded order per epoch."""
    batches: list[torch.Tensor] = []
    for epoch in range(epochs):
        order = torch.randperm(
            num_samples, generator=torch_generator(seed, "data-order", round_index, device, epoch)
        )
        batches.extend(torch.split(order, batch_size))
    return batches


def _unanswered(
    device: Device,
    compute_start: float,
    compute_end: float,
    download_s: float,
    reason: str,
    arrival_s: float,
    *,
    upload_s: float = 0.0,
) -> ClientUpdate:
    """An update that brings nothing to aggregate, charged for the time the device was busy."""
    compute_s = max(0.0, compute_end - compute_start)
    return ClientUpdate(
        device=device.name,
        device_index=device.index,
        status="dropped",
        reason=reason,
        arrival_s=arrival_s,
        compute_s=compute_s,
        energy=device_energy(device, compute_s, upload_s, download_s),
    )


def failed_update(setup: FederatedSetup, task: ClientTask, error: BaseException) -> ClientUpdate:
    """The update of a client that raised: it reports the error once it had the model."""
    device = setup.device(task.device_index)
    download_s = device.download_time(setup.state_bytes)
    return ClientUpdate(
        device=device.name,
        device_index=device.index,
        status="failed",
        reason=f"exception: {type(error).__name__}: {error}",
        arrival_s=download_s,
        energy=device_energy(device, 0.0, 0.0, download_s),
    )


def unanswered_update(setup: FederatedSetup, task: ClientTask, reason: str) -> ClientUpdate:
    """The update of a device that never answered (an engine's real timeout): charged like the
    injected ``timeout`` fault, busy from the download until the server stopped waiting."""
    device = setup.device(task.device_index)
    download_s = device.download_time(setup.state_bytes)
    start = task.round_start_s + download_s
    wait_end = task.round_start_s + task.wait_limit_s
    return _unanswered(device, start, wait_end, download_s, reason, math.inf)
