"""A client task with a sample selection (a PACT epoch's pass) on the client runtime: exactly a
plain loop of SGD steps over the documented samples, on the full or a pruned model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from leantrain.fl import FederatedSetup
from leantrain.fl.client import run_local_update
from leantrain.fl.inprocess import LocalExecutor
from leantrain.fl.task import NO_DATA, ClientTask, SampleSelection
from leantrain.fleet import device_energy
from leantrain.nn.state import clone_state
from leantrain.seeding import torch_generator

pytestmark = pytest.mark.usefixtures("one_thread")


def _task(device: int, fraction: float, level: float = 0.0, **fields: object) -> ClientTask:
    values: dict[str, object] = {
        "round": 4,
        "device_index": device,
        "round_start_s": 0.0,
        "deadline_s": None,
        "wait_limit_s": math.inf,
        "policy": "full",
        "samples": SampleSelection(fraction, "pact-execute", 3),
        "model_level": level,
    }
    values.update(fields)
    return ClientTask(**values)  # type: ignore[arg-type]


def _plain_loop(
    setup: FederatedSetup, model: nn.Module, device: int, fraction: float
) -> dict[str, torch.Tensor]:
    """The pass written out from its definition (docs/runtime.md, 'PACT epochs on the same
    runtime'): the first ⌊f·d + ½⌋ samples of the seeded permutation, in that order, plain SGD
    steps of the config's batch size with a fresh optimiser."""
    part = np.asarray(setup.partitions[device])
    generator = torch_generator(setup.config.seed, "pact-execute", 3, device)
    order = torch.randperm(len(part), generator=generator).numpy()
    chosen = part[order[: math.floor(fraction * len(part) + 0.5)]]
    training = setup.config.training
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=training.lr,
        momentum=training.momentum,
        weight_decay=training.weight_decay,
    )
    model.train()
    size = training.batch_size
    for start in range(0, len(chosen), size):
        # A freshly gathered batch, as the runtime's, so the kernels see the same memory layout.
        batch = torch.as_tensor(chosen[start : start + size])
        x, y = setup.data.train.x[batch], setup.data.train.y[batch]
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    return clone_state(model.state_dict())


@pytest.mark.parametrize(("fraction", "level"), [(1.0, 0.0), (0.5, 0.0), (0.5, 0.5)])
def test_a_selected_pass_is_a_plain_loop_of_sgd_steps(
    tiny_setup: FederatedSetup, fraction: float, level: float
) -> None:
    setup = tiny_setup
    global_state = clone_state(setup.build_model(level).state_dict())
    update = run_local_update(setup, _task(2, fraction, level), global_state)
    reference = setup.build_model(level)
    reference.load_state_dict(global_state)
    expected = _plain_loop(setup, reference, 2, fraction)
    assert update.status == "ok" and update.state is not None and update.masks is None
    assert update.num_samples == math.floor(fraction * len(setup.partitions[2]) + 0.5)
    assert update.num_batches == math.ceil(update.num_samples / setup.config.training.batch_size)
    # The same float operations on the same inputs in the same order: bit-identical.
    assert update.state.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(update.state[key], value), key
    assert any(not torch.equal(update.state[k], global_state[k]) for k in expected)


def test_the_pass_is_charged_on_the_devices_clock(tiny_setup: FederatedSetup) -> None:
    setup = tiny_setup
    device = setup.device(9)  # a "slow" device: no availability trace, a(t) = 1
    update = run_local_update(setup, _task(9, 1.0, 0.5), setup.build_model(0.5).state_dict())
    cost = setup.cost_at(0.5)
    assert cost.state_bytes < setup.full_cost.state_bytes  # the pruned model travels
    download, upload = device.download_time(cost.state_bytes), device.upload_time(cost.state_bytes)
    compute = update.num_samples * cost.train_flops_per_sample / device.flops
    # At full availability the exact clock is this one division; rel 1e-12 covers its rounding.
    assert update.compute_s == pytest.approx(compute, rel=1e-12)
    assert update.arrival_s == pytest.approx(download + compute + upload, rel=1e-12)
    assert update.energy == device_energy(device, update.compute_s, upload, download)


def test_a_device_without_a_sample_answers_at_once_without_state(
    tiny_setup: FederatedSetup,
) -> None:
    update = run_local_update(tiny_setup, _task(1, 0.0), tiny_setup.build_model().state_dict())
    assert update.status == "dropped" and update.reason == NO_DATA
    assert update.state is None and update.num_samples == 0 and update.compute_s == 0.0
    assert update.arrival_s == tiny_setup.device(1).download_time(tiny_setup.state_bytes)


def test_bad_selected_tasks_are_refused(tiny_setup: FederatedSetup) -> None:
    state = tiny_setup.build_model().state_dict()
    with pytest.raises(ValueError, match="full model"):
        run_local_update(tiny_setup, _task(1, 1.0, policy="partial"), state)
    with pytest.raises(ValueError, match="pruned model"):
        run_local_update(tiny_setup, _task(1, 1.0, 0.5, samples=None), state)


def test_the_local_executor_builds_each_architecture_once(tiny_setup: FederatedSetup) -> None:
    executor = LocalExecutor(tiny_setup)
    pruned = tiny_setup.build_model(0.5).state_dict()
    nan = executor.run([_task(0, 1.0, 0.5), _task(3, 0.5, 0.5, fault="nan")], pruned)
    assert [u.status for u in nan] == ["ok", "ok"]
    assert nan[1].state is not None and nan[0].state is not None
    assert not bool(torch.isfinite(nan[1].state["features.0.weight"]).all())
    assert bool(torch.isfinite(nan[0].state["features.0.weight"]).all())
    assert set(executor.models) == {0.0, 0.5}
    failed = executor.run([_task(0, 1.0, 0.5, fault="exception")], pruned)
    assert failed[0].status == "failed" and "InjectedFault" in failed[0].reason
