"""The sub-model baselines: what the server sends, hand-computed aggregation, and whole runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import leantrain.distreal  # noqa: F401 - registers distreal and uniform
from conftest import tiny_config
from leantrain.engines import LocalExecutor
from leantrain.fl import ClientUpdate, build_setup
from leantrain.fl.run import run_strategy
from leantrain.fl.setup import FederatedSetup
from leantrain.fl.strategy import make_strategy
from leantrain.fl.submodels import class_capabilities, round_capability, uniform_rates
from leantrain.nn.submodel import TrainedMasks

SETUP: FederatedSetup = build_setup(tiny_config())


def _update(name: str, keep: dict[str, torch.Tensor], value: float, samples: int) -> ClientUpdate:
    """An update whose trained entries all hold ``value`` (as the client would report it)."""
    state = {k: v.clone() for k, v in SETUP.build_model().state_dict().items()}
    masks = TrainedMasks.of(state, SETUP.channel_groups, [keep])
    assert masks is not None
    for key, mask in masks.items():
        state[key][mask > 0] = value
    for key in state:
        if key not in masks and state[key].is_floating_point():
            state[key].fill_(value)
    return ClientUpdate(name, 0, "ok", state=state, masks=masks, num_samples=samples)


@pytest.mark.parametrize("name", ["feddropout", "heterofl", "fjord", "distreal", "uniform"])
def test_overlapping_sub_models_average_entry_by_entry(name: str) -> None:
    strategy = make_strategy(name, SETUP)
    global_state = {k: torch.zeros_like(v) for k, v in SETUP.build_model().state_dict().items()}
    a = {"features.0": torch.tensor([0, 1]), "features.3": torch.tensor([0, 1, 2])}
    b = {"features.0": torch.tensor([1, 2]), "features.3": torch.tensor([2, 3])}
    new = strategy.aggregate(1, global_state, [_update("a", a, 1.0, 2), _update("b", b, 3.0, 6)])
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
    running = new["features.1.running_mean"]
    if name == "heterofl":
        assert float(running.abs().max()) == 0.0  # sBN: running statistics are not averaged
    else:
        assert float(running[1]) == pytest.approx(2.5) and float(running[5]) == 0.0


def test_feddropout_sizes_a_random_sub_model_to_the_capability_at_round_start() -> None:
    strategy = make_strategy("feddropout", SETUP)
    rates = uniform_rates(SETUP)
    for device in SETUP.fleet.devices:
        options = strategy.instruct(2, device, 0.37).options
        capability = round_capability(SETUP, device, 0.37)
        fitting = [r for r, cost in rates if cost <= capability]
        assert options["rate"] == (fitting[0] if fitting else rates[-1][0])
        counts = SETUP.channel_groups.keep_counts([options["rate"]] * 2)
        assert [len(v) for v in options["keep"].values()] == list(counts)
        assert options["cost"] == pytest.approx(SETUP.submodel_cost.ratio(counts))
    # A random subset, fixed per (round, device) by the seed.
    device = SETUP.fleet.devices[-1]
    assert strategy.instruct(2, device, 0.37) == strategy.instruct(2, device, 0.37)


def test_heterofl_and_fjord_use_nested_widths_per_class() -> None:
    capabilities = class_capabilities(SETUP)
    assert capabilities["fast"] > capabilities["mid"] > capabilities["slow"]
    heterofl = make_strategy("heterofl", SETUP)
    fjord = make_strategy("fjord", SETUP)
    widths = {}
    for device in SETUP.fleet.devices:
        keep = heterofl.instruct(1, device, 0.0).options["keep"]
        assert all(indices == list(range(len(indices))) for indices in keep.values())
        widths[device.device_class] = len(keep["features.0"])
        rates = fjord.instruct(1, device, 0.0).options["rates"]
        assert rates == sorted(rates) and rates[-1] == uniform_rates(SETUP)[-1][0]
        assert rates[0] == heterofl.class_rates[device.device_class]
    assert widths["fast"] >= widths["mid"] >= widths["slow"]
    assert widths["slow"] < 16


def test_heterofl_evaluates_with_static_batch_norm() -> None:
    heterofl = make_strategy("heterofl", SETUP)
    state = SETUP.build_model().state_dict()
    evaluated = heterofl.evaluation_state(state)
    assert not torch.equal(evaluated["features.1.running_mean"], state["features.1.running_mean"])
    assert torch.equal(evaluated["features.0.weight"], state["features.0.weight"])
    assert torch.equal(
        heterofl.evaluation_state(state)["features.1.running_var"],
        evaluated["features.1.running_var"],
    )


@pytest.mark.parametrize("name", ["feddropout", "heterofl", "fjord"])
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
