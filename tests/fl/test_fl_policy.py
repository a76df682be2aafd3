"""Tests of leantrain.fl.policy: the FedAvg local policies decide per mini-batch from the
device's own clock."""

from __future__ import annotations

import pytest
import torch

from leantrain.fl.policy import (
    BatchDecision,
    LocalProgress,
    PolicyContext,
    Stop,
    make_policy,
)
from leantrain.fl.setup import FederatedSetup
from leantrain.registry import UnknownNameError


def _progress(setup: FederatedSetup, now_s: float, deadline_s: float | None) -> LocalProgress:
    flops = setup.full_cost.train_flops_per_sample
    return LocalProgress(0, 4, now_s, deadline_s, setup.device(0), 8, 32, flops)


def _decide(
    setup: FederatedSetup, name: str, now_s: float, deadline_s: float | None
) -> BatchDecision | Stop:
    context = PolicyContext(setup, torch.Generator().manual_seed(0))
    return make_policy(name, {}, context).decide(_progress(setup, now_s, deadline_s))


@pytest.mark.parametrize("name", ["full", "drop", "partial"])
def test_every_policy_trains_the_full_model_when_the_batch_fits(
    tiny_setup: FederatedSetup, name: str
) -> None:
    decision = _decide(tiny_setup, name, 0.0, 1e9)

    assert isinstance(decision, BatchDecision)
    assert decision.keep is None and decision.cost_ratio == 1.0
    assert decision.flops_per_sample == tiny_setup.full_cost.train_flops_per_sample


def test_a_batch_past_the_deadline_is_dropped_cut_or_trained_by_policy(
    tiny_setup: FederatedSetup,
) -> None:
    # The deadline is now: the next mini-batch cannot finish in time.
    assert isinstance(_decide(tiny_setup, "full", 5.0, 5.0), BatchDecision)
    drop = _decide(tiny_setup, "drop", 5.0, 5.0)
    assert drop == Stop("deadline", discard=True, busy_until_deadline=True)
    partial = _decide(tiny_setup, "partial", 5.0, 5.0)
    assert partial == Stop("deadline")


def test_an_unknown_policy_names_the_known_ones(tiny_setup: FederatedSetup) -> None:
    context = PolicyContext(tiny_setup, torch.Generator())

    with pytest.raises(UnknownNameError, match=r"known: .*partial"):
        make_policy("sometimes", {}, context)
