"""DISTREAL's run-time selection: the largest feasible R, on hand-made budgets and across a
change of availability in the middle of a round."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_config
from leantrain.distreal.policy import (
    DistrealPolicy,
    FrontOption,
    budget,
    front_option,
    select_point,
)
from leantrain.fl import build_setup
from leantrain.fl.policy import BatchDecision, LocalProgress, PolicyContext, Stop
from leantrain.fleet import ConstantTrace, CsvTrace, Device

FRONT = [
    FrontOption(0.1, (0.75, 0.75)),
    FrontOption(0.3, (0.5, 0.5)),
    FrontOption(0.6, (0.25, 0.0)),
    FrontOption(1.0, (0.0, 0.0)),
]


@pytest.mark.parametrize(
    ("beta", "cost", "fits"),
    [
        (0.05, 0.1, False),
        (0.1, 0.1, True),
        (0.3, 0.3, True),
        (0.59, 0.3, True),
        (0.6, 0.6, True),
        (0.99, 0.6, True),
        (1.0, 1.0, True),
        (7.0, 1.0, True),
    ],
)
def test_selection_takes_the_largest_cost_within_the_budget(
    beta: float, cost: float, fits: bool
) -> None:
    point, ok = select_point(FRONT, beta)
    assert (point.cost, ok) == (cost, fits)


def _device(trace: ConstantTrace | CsvTrace, flops: float = 1.0e9) -> Device:
    return Device("edge-0", 0, "edge", flops, 1.0, 1e9, 1e8, 1e8, 0.0, 0.0, trace)


def _progress(device: Device, now: float, deadline: float | None, remaining: int) -> LocalProgress:
    return LocalProgress(0, 4, now, deadline, device, 10, remaining, 1.0e7)


def test_budget_is_speed_times_time_left_over_remaining_full_work() -> None:
    device = _device(ConstantTrace(0.5))
    # s = 0.5e9 FLOP/s, τ = 2 s, remaining full work = 100 samples × 1e7 FLOPs = 1e9.
    assert budget(_progress(device, 0.0, 2.0, 100)) == pytest.approx(1.0)
    assert budget(_progress(device, 1.0, 2.0, 100)) == pytest.approx(0.5)
    assert budget(_progress(device, 3.0, 2.0, 100)) == 0.0
    assert budget(_progress(device, 0.0, None, 100)) == float("inf")


def _policy(overrun: str = "partial") -> DistrealPolicy:
    setup = build_setup(tiny_config())
    groups = setup.channel_groups
    rows = front_option(
        [(setup.submodel_cost.ratio_of(d), d) for d in [(0.75, 0.75), (0.5, 0.5), (0.0, 0.0)]]
    )
    context = PolicyContext(setup, torch.Generator().manual_seed(0))
    assert len(groups) == 2
    return DistrealPolicy({"front": rows, "overrun": overrun}, context)


def test_policy_follows_a_drop_of_availability_mid_round() -> None:
    policy = _policy()
    costs = [point.cost for point in policy.front]
    # Full speed until t = 1 s, then a quarter.
    device = _device(CsvTrace([0.0, 1.0], [1.0, 0.25]), flops=1.0e8)
    deadline, samples, per_sample = 4.0, 10, 2.0e6
    now, remaining, chosen = 0.0, 200, []
    for batch in range(20):
        progress = LocalProgress(batch, 20, now, deadline, device, samples, remaining, per_sample)
        decision = policy.decide(progress)
        if isinstance(decision, Stop):
            break
        beta = device.speed(now) * (deadline - now) / (remaining * per_sample)
        expected = max((c for c in costs if c <= beta), default=costs[0])
        if beta >= 1.0:
            expected = 1.0
        assert decision.cost_ratio == pytest.approx(expected)
        if expected < 1.0:
            assert decision.keep is not None
            kept = [len(v) for v in decision.keep.values()]
            assert kept == list(
                policy.context.groups.keep_counts(
                    next(p.dropout for p in policy.front if p.cost == expected)
                )
            )
        chosen.append((now, decision.cost_ratio))
        now = progress.finish_of(samples * decision.flops_per_sample)
        remaining -= samples
    before = [c for t, c in chosen if t < 1.0]
    after = [c for t, c in chosen if t >= 1.0]
    assert before and after
    assert max(after) < max(before), "the device must pick cheaper sub-models after the drop"


def test_full_model_when_the_budget_allows_and_overrun_policies() -> None:
    policy = _policy()
    fast = _device(ConstantTrace(1.0), flops=1.0e12)
    decision = policy.decide(_progress(fast, 0.0, 10.0, 100))
    assert isinstance(decision, BatchDecision) and decision.keep is None
    assert decision.cost_ratio == 1.0
    slow = _device(ConstantTrace(1.0), flops=1.0e3)
    # Even the cheapest point cannot finish the next mini-batch: partial stops and sends...
    stop = policy.decide(_progress(slow, 0.0, 1.0, 100))
    assert isinstance(stop, Stop) and not stop.discard
    # ...drop discards what was trained.
    stop = _policy("drop").decide(_progress(slow, 0.0, 1.0, 100))
    assert isinstance(stop, Stop) and stop.discard


def test_cheapest_point_is_trained_when_nothing_fits_but_the_batch_ends_in_time() -> None:
    policy = _policy()
    device = _device(ConstantTrace(1.0), flops=1.0e8)
    # β = 1e8 · 0.5 / (1000 · 1e7) = 0.005, below every point; one mini-batch at the cheapest
    # point still ends before the deadline.
    decision = policy.decide(LocalProgress(0, 100, 0.0, 0.5, device, 10, 1000, 1.0e7))
    assert isinstance(decision, BatchDecision)
    assert decision.cost_ratio == pytest.approx(policy.front[0].cost)
