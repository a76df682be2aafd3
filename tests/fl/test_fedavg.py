"""Tests of leantrain.fl.fedavg: the local policy each FedAvg baseline asks of every device."""

from __future__ import annotations

import pytest
from submodel_cases import SETUP

from leantrain.fl.strategy import make_strategy


@pytest.mark.parametrize(
    ("name", "policy", "has_deadline"),
    [("fedavg", "full", False), ("fedavg-drop", "drop", True), ("fedavg-partial", "partial", True)],
)
def test_every_device_gets_the_baselines_policy(name: str, policy: str, has_deadline: bool) -> None:
    strategy = make_strategy(name, SETUP)

    assert strategy.has_deadline is has_deadline
    for device in SETUP.fleet.devices:
        instruction = strategy.instruct(3, device, 40.0)
        assert (instruction.policy, instruction.options) == (policy, {})
