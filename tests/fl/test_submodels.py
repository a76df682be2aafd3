"""Tests of leantrain.fl.submodels and what every sub-model strategy shares: entry-by-entry
aggregation of overlapping sub-models, capabilities from the configuration only, the two tiers at
the deadline, and whole runs with sub-models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from submodel_cases import SETUP, make_update

from conftest import tiny_config, tiny_raw
from leantrain.config import MarkovTraceConfig, PeriodicTraceConfig, parse_config
from leantrain.engines import LocalExecutor
from leantrain.fl import build_setup
from leantrain.fl.run import run_strategy
from leantrain.fl.setup import FederatedSetup
from leantrain.fl.strategy import make_strategy
from leantrain.fl.submodels import class_capabilities, configured_availability, uniform_rates

SUB_MODEL_BASELINES = [
    "feddropout",
    "feddropout-partial",
    "heterofl",
    "heterofl-partial",
    "fjord",
    "fjord-partial",
]


@pytest.mark.parametrize("name", [*SUB_MODEL_BASELINES, "distreal", "distreal-ordered", "uniform"])
def test_overlapping_sub_models_average_entry_by_entry(name: str) -> None:
    strategy = make_strategy(name, SETUP)
    global_state = {k: torch.zeros_like(v) for k, v in SETUP.build_model().state_dict().items()}
    a = {"features.0": torch.tensor([0, 1]), "features.3": torch.tensor([0, 1, 2])}
    b = {"features.0": torch.tensor([1, 2]), "features.3": torch.tensor([2, 3])}
    new = strategy.aggregate(
        1, global_state, [make_update("a", a, 1.0, 2), make_update("b", b, 3.0, 6)]
    )
    conv0 = new["features.0.weight"]
    assert float(conv0[0].max()) == float(conv0[0].min()) == 1.0  # only a
    assert float(conv0[1, 0, 0, 0]) == pytest.approx((2 * 1.0 + 6 * 3.0) / 8)  # both
    assert float(conv0[2, 0, 0, 0]) == 3.0  # only b
    assert float(conv0[3:].abs().max()) == 0.0  # nobody: the global value
    conv1 = new["features.3.weight"]
    assert float(conv1[0, 0, 0, 0]) == 1.0  # a kept out 0 and in 0
    assert float(conv1[2, 1, 0, 0]) == pytest.approx(2.5)  # both kept out 2 and in 1
    assert float(conv1[3, 2, 0, 0]) == 3.0  # b only
    assert float(conv1[3, 0, 0, 0]) == 0.0  # b kept out 3 but not in 0; a not out 3
    classifier = new["classifier.1.weight"]  # in-features: 16 per channel of features.3
    assert float(classifier[0, 0]) == 1.0 and float(classifier[0, 16 * 2]) == 2.5
    assert float(classifier[0, 16 * 5]) == 0.0
    assert float(new["classifier.1.bias"][0]) == pytest.approx(2.5)  # trained by both
    # One BatchNorm treatment for every method: running statistics are averaged like weights.
    running = new["features.1.running_mean"]
    assert float(running[1]) == pytest.approx(2.5) and float(running[5]) == 0.0


def test_class_capabilities_follow_the_class_speeds() -> None:
    capabilities = class_capabilities(SETUP)
    assert list(capabilities) == [c.name for c in SETUP.config.fleet.classes]
    assert capabilities["fast"] > capabilities["mid"] > capabilities["slow"] > 0.0


def _expected_capability(setup: FederatedSetup, name: str, availability: float) -> float:
    """FLOP/s × configured mean availability × (T − transfers) / median full workload."""
    device = setup.fleet.of_class(name)[0]
    median = int(np.median([len(p) for p in setup.partitions]))
    work = median * setup.full_cost.train_flops_per_sample
    transfers = device.download_time(setup.state_bytes) + device.upload_time(setup.state_bytes)
    return device.flops * availability * (setup.deadline_s - transfers) / work


def test_class_capabilities_use_the_configured_mean_availability_and_the_deadline() -> None:
    # fast and mid: periodic U[0.2, 1] (mean 0.6); slow: constant 1.0.
    capabilities = class_capabilities(SETUP)
    for name, availability in (("fast", 0.6), ("mid", 0.6), ("slow", 1.0)):
        expected = _expected_capability(SETUP, name, availability)
        # Tolerance: the same float operations in another order (a few ulps).
        assert capabilities[name] == pytest.approx(expected, rel=1e-12)
    # Half the deadline slack leaves less than half the compute time (the transfers stay), so
    # every capability falls below half (the old sizing ignored the slack).
    tight = build_setup(tiny_config(training={"deadline_slack": 0.5}))
    for name, capability in class_capabilities(tight).items():
        assert 0.0 < capability < capabilities[name] / 2


def test_class_capabilities_use_no_realised_availability() -> None:
    """Another seed redraws every periodic trace (and the partition); the capabilities stay those
    of the configuration, so the widths know nothing of future availability."""
    other = build_setup(parse_config({**tiny_raw(), "seed": 11}))
    assert any(
        a.trace.at(t) != b.trace.at(t)
        for a, b in zip(SETUP.fleet.devices, other.fleet.devices, strict=True)
        for t in (0.1, 0.5, 0.9)
    )
    for name, capability in class_capabilities(other).items():
        availability = 1.0 if name == "slow" else 0.6
        expected = _expected_capability(other, name, availability)
        assert capability == pytest.approx(expected, rel=1e-12)


def test_configured_availability_of_each_trace_kind() -> None:
    periodic = PeriodicTraceConfig(period_s=2.0, low=0.2, high=1.0)
    assert configured_availability(periodic, SETUP, "fast") == pytest.approx(0.6)
    # Two-state busy/idle chain, dwell 10 steps in each: stationary (1/2, 1/2).
    markov = MarkovTraceConfig(levels=[0.2, 1.0], transition=[[0.9, 0.1], [0.1, 0.9]], step_s=1.0)
    assert configured_availability(markov, SETUP, "fast") == pytest.approx(0.6, rel=1e-12)
    # Asymmetric: leaves busy with 0.1, idle with 0.3, so π = (0.75, 0.25).
    skewed = MarkovTraceConfig(levels=[0.2, 1.0], transition=[[0.9, 0.1], [0.3, 0.7]], step_s=1.0)
    assert configured_availability(skewed, SETUP, "fast") == pytest.approx(
        0.75 * 0.2 + 0.25 * 1.0, rel=1e-12
    )


def _tight_setup() -> FederatedSetup:
    """The tiny fleet with a deadline that leaves the slow class (constant availability) time
    for only part of its narrowest sub-model's workload."""
    raw = tiny_raw()
    loose = build_setup(parse_config(raw))
    slow = loose.fleet.of_class("slow")[0]
    transfers = slow.download_time(loose.state_bytes) + slow.upload_time(loose.state_bytes)
    narrowest = uniform_rates(loose)[-1][1]
    samples = len(loose.partitions[slow.index])
    workload_s = samples * narrowest * loose.full_cost.train_flops_per_sample / slow.flops
    raw["training"]["deadline_s"] = transfers + 0.5 * workload_s
    return build_setup(parse_config(raw))


@pytest.mark.parametrize("name", SUB_MODEL_BASELINES)
def test_a_paper_style_device_that_misses_the_deadline_is_dropped(name: str) -> None:
    setup = _tight_setup()
    strategy = make_strategy(name, setup)
    slow = setup.fleet.of_class("slow")[0]
    tasks = strategy.configure(1, 0.0, [slow])
    executor = LocalExecutor(setup)
    try:
        (update,) = executor.run(tasks, setup.build_model().state_dict())
    finally:
        executor.close()
    if name.endswith("-partial"):
        # Strengthened: stops in time and sends the mini-batches it trained (about half).
        assert update.status == "ok" and update.state is not None
        batches = -(-len(setup.partitions[slow.index]) // setup.config.training.batch_size)
        assert 0 < update.num_batches < batches
        assert update.arrival_s <= setup.deadline_s
    else:
        # Paper-style: misses T, computes until the deadline and is dropped.
        assert update.status != "ok" and update.state is None
        assert update.reason == "deadline" and update.arrival_s == float("inf")
        assert update.compute_s > 0.0


def test_uniform_rates_are_the_grid_with_falling_cost() -> None:
    rates = uniform_rates(SETUP)
    levels = SETUP.config.distreal.dse.levels
    assert [rate for rate, _ in rates] == [index / levels for index in range(levels)]
    costs = [cost for _, cost in rates]
    assert costs[0] == pytest.approx(1.0)  # rate 0 is the full model
    assert costs == sorted(costs, reverse=True)


@pytest.mark.parametrize("name", SUB_MODEL_BASELINES)
def test_baselines_run_end_to_end_with_sub_models(name: str, tmp_path: Path) -> None:
    summary = run_strategy(SETUP, name, LocalExecutor, tmp_path)
    records = [json.loads(line) for line in (tmp_path / "rounds.jsonl").read_text().splitlines()]
    assert len(records) == 3 and summary.final_accuracy is not None
    assert summary.final_accuracy > 0.15
    assert all(0.0 < r["extra"]["mean_cost_ratio"] <= 1.0 for r in records)
    assert any(r["extra"]["mean_cost_ratio"] < 1.0 for r in records)
    logged = [json.loads(line) for line in (tmp_path / "selections.jsonl").read_text().splitlines()]
    assert [entry["round"] for entry in logged] == [1, 2, 3]
    for entry in logged:
        for times_and_costs in entry["devices"].values():
            times = [t for t, _ in times_and_costs]
            assert times == sorted(times)
