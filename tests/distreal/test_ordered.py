"""``distreal-ordered``, leantrain's variant beyond the paper: the first k_l channels of every
group, in the device policy, in the convergence proxy and in its own front."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from conftest import SMALL_DSE, tiny_config
from leantrain.config import RunConfig
from leantrain.distreal import Front, explore
from leantrain.distreal.policy import DistrealPolicy, front_option
from leantrain.distreal.proxy import ConvergenceProxy
from leantrain.engines import LocalExecutor
from leantrain.errors import InputError
from leantrain.fl import build_setup
from leantrain.fl.policy import BatchDecision, LocalProgress, PolicyContext
from leantrain.fl.run import run_strategy
from leantrain.fl.strategy import make_strategy
from leantrain.fleet import ConstantTrace, Device
from leantrain.nn.groups import channel_groups
from leantrain.nn.submodel import SlicedTrainer, first_keep
from nn.masked_oracle import masked_step


def _config(**distreal: object) -> RunConfig:
    return tiny_config(distreal={"dse": SMALL_DSE, **distreal})


def test_ordered_policy_keeps_the_first_k_channels_of_every_group() -> None:
    setup = build_setup(_config())
    groups = setup.channel_groups
    vectors = [(0.5, 0.25), (0.25, 0.5), (0.0, 0.0)]
    rows = front_option([(setup.submodel_cost.ratio_of(d), d) for d in vectors])
    context = PolicyContext(setup, torch.Generator().manual_seed(0))
    policy = DistrealPolicy({"front": rows, "masks": "ordered"}, context)
    device = Device("edge-0", 0, "edge", 1.0e8, 1.0, 1e9, 1e8, 1e8, 0.0, 0.0, ConstantTrace(1.0))
    for remaining in (100, 150, 200, 400):  # budgets that pick each sub-model
        progress = LocalProgress(0, 40, 0.0, 1.0, device, 10, remaining, 1.0e5)
        decision = policy.decide(progress)
        assert isinstance(decision, BatchDecision)
        if decision.keep is None:
            continue
        point = next(p for p in policy.front if p.cost == decision.cost_ratio)
        counts = groups.keep_counts(point.dropout)
        for group, count in zip(groups.groups, counts, strict=True):
            assert decision.keep[group.name].tolist() == list(range(count))
    with pytest.raises(ValueError, match="mask kind"):
        DistrealPolicy({"front": rows, "masks": "shuffled"}, context)


def test_sliced_steps_on_ordered_masks_equal_masked_steps() -> None:
    """The nested sub-networks are sliced exactly as the masked oracle trains them (float64)."""
    torch.manual_seed(0)
    setup = build_setup(_config())
    model = setup.build_model().to(torch.float64)
    groups = channel_groups(model, setup.data.train.input_shape)
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(8, *setup.data.train.input_shape, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 10, (8,), generator=generator)
    sliced, masked = copy.deepcopy(model), copy.deepcopy(model)
    opt_s = torch.optim.SGD(sliced.parameters(), lr=0.1, momentum=0.9)
    opt_m = torch.optim.SGD(masked.parameters(), lr=0.1, momentum=0.9)
    trainer = SlicedTrainer(sliced, groups, scale_outputs=True)
    for rate in (0.5, 0.25, 0.75):
        keep = first_keep(groups, groups.keep_counts([rate] * len(groups)))
        loss_s = trainer.step(opt_s, x, y, keep)
        loss_m = masked_step(masked, opt_m, x, y, groups, keep, scale_outputs=True)
        # float64: the two summation orders agree to a few 1e-14 (tests/nn/test_submodel.py).
        assert loss_s == pytest.approx(loss_m, rel=1e-12, abs=0)
    for key, value in sliced.state_dict().items():
        torch.testing.assert_close(value, masked.state_dict()[key], atol=1e-12, rtol=0)
    # Nested masks never train the last channel of a group at these rates.
    for group in groups.groups:
        weight = f"{group.name}.weight"
        assert torch.equal(sliced.state_dict()[weight][-1], model.state_dict()[weight][-1])


def test_ordered_proxy_trains_the_first_channels_and_has_its_own_fingerprint() -> None:
    setup = build_setup(_config())
    dse = setup.config.distreal.dse
    groups = setup.channel_groups
    random = ConvergenceProxy(setup, dse, groups)
    ordered = ConvergenceProxy(setup, dse, groups, ordered=True)
    assert random.fingerprint != ordered.fingerprint  # caches of the two never mix
    counts = groups.keep_counts([0.5, 0.25])
    for batch in range(3):
        keep = ordered._keep(counts, 0, batch)
        assert {k: v.tolist() for k, v in keep.items()} == {
            g.name: list(range(c)) for g, c in zip(groups.groups, counts, strict=True)
        }
    shuffled = [random._keep(counts, 0, batch) for batch in range(3)]
    assert any(
        keep[g.name].tolist() != list(range(c))
        for keep in shuffled
        for g, c in zip(groups.groups, counts, strict=True)
    )


def test_distreal_ordered_explores_its_own_front_and_refuses_a_random_one(tmp_path: Path) -> None:
    setup = build_setup(_config())
    run_dir = tmp_path / "ordered"
    summary = run_strategy(setup, "distreal-ordered", LocalExecutor, run_dir)
    assert summary.final_accuracy is not None
    front = Front.load(run_dir / "front.json")
    assert front.settings["masks"] == "ordered"
    random_front = explore(setup)
    assert random_front.settings["masks"] == "random"
    path = random_front.save(tmp_path / "random.json")
    strategy = make_strategy("distreal-ordered", build_setup(_config(ordered_front=str(path))))
    (tmp_path / "other").mkdir()
    with pytest.raises(InputError, match="random masks"):
        strategy.prepare(tmp_path / "other")
    instruction = make_strategy("distreal-ordered", setup).instruct(1, setup.fleet.devices[0], 0.0)
    assert instruction.options["masks"] == "ordered"
