"""A PACT epoch on the client runtime: the sample-weighted average of the nodes' passes, with
failed and non-finite nodes rejected and empty ones silently absent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest
import torch

from leantrain.fl import ClientExecutor, ClientTask, ClientUpdate, FederatedSetup
from leantrain.fl.client import run_local_update
from leantrain.fl.inprocess import LocalExecutor
from leantrain.nn.state import clone_state
from leantrain.pact.epoch import epoch_tasks, run_epoch

pytestmark = pytest.mark.usefixtures("one_thread")


class Faulty(LocalExecutor):
    """The local executor with injected faults per device index."""

    def __init__(self, setup: FederatedSetup, faults: Mapping[int, str]) -> None:
        super().__init__(setup)
        self.faults = dict(faults)
        self.seen: list[ClientTask] = []

    def run(
        self, tasks: Sequence[ClientTask], global_state: Mapping[str, torch.Tensor]
    ) -> list[ClientUpdate]:
        self.seen.extend(tasks)
        faulted = [replace(t, fault=self.faults.get(t.device_index)) for t in tasks]
        return super().run(faulted, global_state)


def test_tasks_select_samples_and_level_in_fleet_order() -> None:
    tasks = epoch_tasks({5: 0.5, 1: 1.0}, purpose="pact-profile", epoch=2, level=0.25)
    assert [t.device_index for t in tasks] == [1, 5]
    for task in tasks:
        assert task.samples is not None and task.samples.epoch == 2
        assert task.samples.purpose == "pact-profile" and task.model_level == 0.25
        assert task.deadline_s is None and task.policy == "full" and task.round == 3
    assert [t.samples.fraction for t in tasks if t.samples] == [1.0, 0.5]


def test_an_epoch_is_the_sample_weighted_average_of_the_passes(
    tiny_setup: FederatedSetup,
) -> None:
    setup = tiny_setup
    model = setup.build_model(0.5)
    before = clone_state(model.state_dict())
    fractions = {0: 1.0, 4: 0.5, 6: 0.0, 8: 1.0, 10: 0.5}
    executor = Faulty(setup, {8: "nan", 10: "exception"})
    outcome = run_epoch(model, executor, fractions, purpose="pact-execute", epoch=1, level=0.5)
    names = {i: setup.device(i).name for i in fractions}
    assert outcome.rejected == (names[8], names[10])  # not the node without a sample
    assert outcome.samples[names[6]] == 0 and outcome.samples[names[10]] == 0
    # Independently: each accepted pass on its own, then Σ w·x / Σ w in float64, in fleet order
    # (the same operations as the average: the result is bit-identical).
    tasks = epoch_tasks({0: 1.0, 4: 0.5}, purpose="pact-execute", epoch=1, level=0.5)
    passes = [run_local_update(setup, t, before, setup.build_model(0.5)) for t in tasks]
    assert [outcome.samples[p.device] for p in passes] == [p.num_samples for p in passes]
    for key, old in before.items():
        states = [p.state[key] for p in passes if p.state is not None]
        if not old.is_floating_point():
            assert torch.equal(model.state_dict()[key], torch.stack([old, *states]).amax(0))
            continue
        numerator = torch.zeros(old.shape, dtype=torch.float64)
        for p, state in zip(passes, states, strict=True):
            numerator += float(p.num_samples) * state.to(torch.float64)
        total = sum(float(p.num_samples) for p in passes)
        expected = (numerator / total).to(old.dtype)
        assert torch.equal(model.state_dict()[key], expected), key


def test_an_epoch_where_nobody_trains_keeps_the_model(tiny_setup: FederatedSetup) -> None:
    model = tiny_setup.build_model()
    before = clone_state(model.state_dict())
    executor: ClientExecutor = LocalExecutor(tiny_setup)
    outcome = run_epoch(model, executor, {0: 0.0, 1: 0.0}, purpose="pact-execute", epoch=0)
    assert outcome.rejected == () and set(outcome.samples.values()) == {0}
    for key, value in before.items():
        assert torch.equal(model.state_dict()[key], value)
