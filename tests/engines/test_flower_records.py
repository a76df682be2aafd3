"""Tasks and updates survive the trip through Flower's records exactly (no Ray needed)."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import tiny_config
from leantrain.engines.flower import (
    task_from_record,
    task_to_record,
    update_from_record,
    update_to_record,
)
from leantrain.fl import ClientUpdate, build_setup
from leantrain.fl.client import run_local_update
from leantrain.fl.strategy import make_strategy

SETUP = build_setup(tiny_config())


@pytest.mark.parametrize("strategy", ["fedavg", "uniform"])
def test_task_and_update_round_trip(strategy: str) -> None:
    chosen = make_strategy(strategy, SETUP)
    device = SETUP.fleet.devices[5]
    task = chosen.configure(2, 1.25, [device])[0]
    state = SETUP.build_model().state_dict()
    back, back_state = task_from_record(task_to_record(task, state))
    assert back == task
    assert task.deadline_s is None if strategy == "fedavg" else task.deadline_s is not None
    assert back_state.keys() == state.keys()
    for key, value in state.items():
        assert back_state[key].dtype == value.dtype and torch.equal(back_state[key], value)

    update = run_local_update(SETUP, back, back_state)
    assert update.status == "ok"
    if strategy == "uniform":
        assert update.masks is not None and update.selections
    again = update_from_record(update_to_record(update))
    assert again.device == update.device and again.status == update.status
    assert again.num_samples == update.num_samples and again.arrival_s == update.arrival_s
    assert again.energy == update.energy and again.extra == update.extra
    assert again.selections == update.selections
    assert update.state is not None and again.state is not None
    for key, value in update.state.items():
        assert torch.equal(again.state[key], value)
    if update.masks is not None:
        assert again.masks is not None
        for key, value in update.masks.items():
            assert again.masks[key].dtype == value.dtype and torch.equal(again.masks[key], value)


def test_a_dropped_update_without_state_round_trips() -> None:
    dropped = ClientUpdate("edge-1", 3, "dropped", reason="deadline", arrival_s=math.inf)
    again = update_from_record(update_to_record(dropped))
    assert again == dropped


def test_a_pact_task_round_trips_with_its_selection_and_level() -> None:
    from leantrain.pact.epoch import epoch_tasks

    # 1/3 has no short binary form: the fraction must come back bit for bit.
    task = epoch_tasks({4: 1.0 / 3.0}, purpose="pact-profile", epoch=6, level=0.25)[0]
    state = SETUP.build_model(0.25).state_dict()
    back, back_state = task_from_record(task_to_record(task, state))
    assert back == task
    assert back.samples is not None and back.samples.fraction == 1.0 / 3.0
    assert back.samples.purpose == "pact-profile" and back.samples.epoch == 6
    assert back.model_level == 0.25 and back.wait_limit_s == math.inf and back.deadline_s is None
    for key, value in state.items():
        assert torch.equal(back_state[key], value)
    # A round's task keeps no selection and the full model.
    plain = make_strategy("fedavg", SETUP).configure(1, 0.0, [SETUP.fleet.devices[0]])[0]
    again, _ = task_from_record(task_to_record(plain, state))
    assert again.samples is None and again.model_level == 0.0


def test_a_scheduled_learning_rate_round_trips_and_none_stays_none() -> None:
    # Round 4 of a cosine schedule over 6 rounds: lr·(1 + cos(π/2))/2, which has no short
    # binary form, so it must come back bit for bit.
    config = tiny_config(training={"rounds": 6, "lr_schedule": {"kind": "cosine", "horizon": 6}})
    setup = build_setup(config)
    task = make_strategy("fedavg", setup).configure(4, 0.0, [setup.fleet.devices[0]])[0]
    state = setup.build_model().state_dict()
    assert task.lr is not None and task.lr != config.training.lr
    back, _ = task_from_record(task_to_record(task, state))
    assert back.lr == task.lr
    # A task without its own rate (a PACT epoch) comes back without one.
    from leantrain.pact.epoch import epoch_tasks

    pact = epoch_tasks({0: 1.0}, purpose="pact-execute", epoch=1, level=0.0)[0]
    assert pact.lr is None
    again, _ = task_from_record(task_to_record(pact, state))
    assert again.lr is None
