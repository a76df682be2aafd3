"""Tests of leantrain.fl.schedule and of the round's learning rate reaching the clients."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from conftest import tiny_config
from leantrain.errors import InputError
from leantrain.fl import build_setup
from leantrain.fl.client import run_local_update
from leantrain.fl.schedule import round_lr
from leantrain.fl.strategy import make_strategy


def _torch_rates(scheduler_of: type, rounds: int, **options: object) -> list[float]:
    """The rate each round trains with under a PyTorch scheduler stepped once per round after
    the round is configured (as Flower's HeteroFL server does)."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2)
    scheduler = scheduler_of(optimizer, **options)
    rates = []
    for _ in range(rounds):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_multistep_follows_pytorchs_multisteplr_stepped_per_round() -> None:
    training = tiny_config(
        training={
            "rounds": 12,
            "lr": 0.2,
            "lr_schedule": {"kind": "multistep", "milestones": [3, 7], "gamma": 0.5},
        }
    ).training
    ours = [round_lr(training, r) for r in range(1, 13)]
    expected = _torch_rates(torch.optim.lr_scheduler.MultiStepLR, 12, milestones=[3, 7], gamma=0.5)
    # Powers of 1/2 times 0.2: PyTorch's repeated products and our gamma**m agree exactly.
    assert ours == expected
    assert ours[:3] == [0.2] * 3 and ours[3] == 0.1 and ours[7] == 0.05  # round 4 after 3 steps


def test_cosine_follows_pytorchs_cosine_annealing_then_holds() -> None:
    training = tiny_config(
        training={"rounds": 10, "lr": 0.2, "lr_schedule": {"kind": "cosine", "horizon": 8}}
    ).training
    ours = [round_lr(training, r) for r in range(1, 10)]
    expected = _torch_rates(torch.optim.lr_scheduler.CosineAnnealingLR, 9, T_max=8)
    # PyTorch updates the rate recursively, we use the closed form: they agree to rounding
    # (a few ulps after 8 steps; 1e-12 relative is far below any meaningful difference).
    assert ours == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert ours[0] == 0.2 and ours[8] == 0.0
    # Without a horizon the schedule spans the run's rounds.
    default = tiny_config(training={"rounds": 4, "lr_schedule": {"kind": "cosine"}}).training
    assert round_lr(default, 3) == pytest.approx(default.lr / 2, rel=1e-12)


def test_without_a_schedule_every_round_trains_with_lr() -> None:
    training = tiny_config().training
    assert {round_lr(training, r) for r in range(1, 50)} == {training.lr}
    with pytest.raises(ValueError, match="from 1"):
        round_lr(training, 0)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"kind": "multistep"}, "needs 'milestones'"),
        ({"kind": "multistep", "milestones": [5, 5]}, "strictly increasing"),
        ({"kind": "cosine", "milestones": [5]}, "multistep schedule only"),
        ({"kind": "step"}, "multistep"),
    ],
)
def test_bad_schedules_are_input_errors(schedule: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as caught:
        tiny_config(training={"lr_schedule": schedule})
    assert caught.value.field.startswith("training.lr_schedule")
    assert message in caught.value.message


def test_each_rounds_tasks_carry_the_scheduled_rate_and_clients_train_with_it() -> None:
    config = tiny_config(
        training={"rounds": 6, "lr_schedule": {"kind": "multistep", "milestones": [2, 4]}}
    )
    setup = build_setup(config)
    for name in ("fedavg", "heterofl", "uniform"):
        strategy = make_strategy(name, setup)
        for round_index in range(1, 7):
            tasks = strategy.configure(round_index, 0.0, strategy.select(round_index))
            assert {t.lr for t in tasks} == {round_lr(config.training, round_index)}, name
    # The client trains with the task's rate: a task at 0.01 under lr 0.1 gives the update of a
    # run configured with lr 0.01 (bit for bit: the same computation).
    task = make_strategy("fedavg", setup).configure(5, 0.0, [setup.fleet.devices[2]])[0]
    assert task.lr == pytest.approx(0.001)
    state = setup.build_model().state_dict()
    scheduled = run_local_update(setup, task, state)
    plain_setup = build_setup(tiny_config(training={"lr": task.lr}))
    plain = run_local_update(plain_setup, replace(task, lr=None), state)
    at_lr = run_local_update(setup, replace(task, lr=None), state)
    assert scheduled.state is not None and plain.state is not None and at_lr.state is not None
    assert all(torch.equal(scheduled.state[k], plain.state[k]) for k in state)
    assert not all(torch.equal(scheduled.state[k], at_lr.state[k]) for k in state)
