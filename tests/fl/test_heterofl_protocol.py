"""The HeteroFL reproduction's protocol options on digits: width assignment by mix (``fix``,
``dynamic``), gradient clipping, count averaging, static BatchNorm, and a short end-to-end run
(docs/distreal.md, 'HeteroFL reproduction')."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from conftest import tiny_config
from leantrain.config import parse_mix
from leantrain.engines import LocalExecutor
from leantrain.errors import InputError
from leantrain.fl import WeightedUpdate, build_setup
from leantrain.fl.aggregate import count_average
from leantrain.fl.client import run_local_update, train_step
from leantrain.fl.evaluate import Evaluator, static_bn_state
from leantrain.fl.heterofl import fixed_mix_rates, mix_counts
from leantrain.fl.optim import build_optimizer
from leantrain.fl.run import run_strategy
from leantrain.fl.strategy import make_strategy
from leantrain.nn.submodel import SlicedTrainer, first_keep


def _widths(options: dict[str, object]) -> tuple[int, ...]:
    keep = options["keep"]
    assert isinstance(keep, dict)
    return tuple(len(indices) for indices in keep.values())


# --- mixes and width assignment ----------------------------------------------------------------


def test_mixes_parse_to_rates_and_proportions() -> None:
    assert parse_mix("c-d-e") == [(0.25, 1), (0.125, 1), (0.0625, 1)]
    assert parse_mix("a2-e1") == [(1.0, 2), (0.0625, 1)]
    for bad, message in [
        ("c-f", "letter a-e"),
        ("e-c", "widest"),
        ("c-c", "repeats"),
        ("c0", "no share"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_mix(bad)


@pytest.mark.parametrize(
    ("section", "field", "message"),
    [
        ({"heterofl": {"mode": "dynamic"}}, "heterofl", "needs 'mix'"),
        ({"heterofl": {"mix": "c-x"}}, "heterofl", "letter a-e"),
        ({"model": {"name": "digits-cnn", "global_rate": 0.5}}, "model", "heterofl-conv only"),
        (
            {"model": {"name": "heterofl-conv", "global_rate": 0.5}, "heterofl": {"mix": "c-e"}},
            "<root>",
            "global_rate is 0.5",
        ),
    ],
)
def test_bad_heterofl_settings_are_input_errors(
    section: dict[str, dict[str, object]], field: str, message: str
) -> None:
    with pytest.raises(InputError) as caught:
        tiny_config(**section)
    assert caught.value.field == field
    assert message in caught.value.message


def test_fix_assigns_widths_by_device_index_in_the_mix_proportions() -> None:
    # 12 devices, a2-e1: ⌊12 / 3⌋ = 4 per share, so devices 0-7 at a and 8-11 at e.
    assert fixed_mix_rates(parse_mix("a2-e1"), 12) == [1.0] * 8 + [0.0625] * 4
    # 10 devices, c-d-e: 3 of each, the remaining one at the last rate.
    assert fixed_mix_rates(parse_mix("c-d-e"), 10) == [1.0] * 3 + [0.5] * 3 + [0.25] * 4
    setup = build_setup(tiny_config(heterofl={"mode": "fix", "mix": "a2-e1"}))
    heterofl = make_strategy("heterofl", setup)
    channels = setup.channel_groups.channels  # digits-cnn: 16 and 32
    for round_index in (1, 2, 7):
        for device in setup.fleet.devices:
            options = heterofl.instruct(round_index, device, 0.0).options
            expected = channels if device.index < 8 else (1, 2)  # ⌈16/16⌉, ⌈32/16⌉
            assert _widths(options) == tuple(expected)


def test_dynamic_redraws_every_round_in_the_mix_proportions_without_a_deadline() -> None:
    setup = build_setup(tiny_config(heterofl={"mode": "dynamic", "mix": "a2-e1"}))
    heterofl = make_strategy("heterofl", setup)
    rounds = 150
    devices = setup.fleet.devices
    narrow = 0
    per_device: dict[int, set[tuple[int, ...]]] = {d.index: set() for d in devices}
    for round_index in range(1, rounds + 1):
        for device in devices:
            widths = _widths(heterofl.instruct(round_index, device, 0.0).options)
            assert widths in ((16, 32), (1, 2))
            narrow += widths == (1, 2)
            per_device[device.index].add(widths)
    draws = rounds * len(devices)
    # Binomial(1800, 1/3): sd = √(1800·(1/3)·(2/3)) = 20; the seeded draw is fixed, and 4 sd
    # bounds a wrong proportion (1/2 would give 900, 2/3 1200) far outside.
    assert abs(narrow - draws / 3) <= 4 * math.sqrt(draws * (1 / 3) * (2 / 3))
    assert all(len(seen) == 2 for seen in per_device.values())  # every device changes width
    # The draw is the round's, not the sample's: the same round gives the same widths.
    again = make_strategy("heterofl", setup)
    for device in devices:
        assert again.instruct(3, device, 9.0).options == heterofl.instruct(3, device, 0.0).options
    tasks = heterofl.configure(1, 0.0, heterofl.select(1))
    assert all(t.deadline_s is None and t.wait_limit_s == setup.timeout_s for t in tasks)


def test_mix_widths_are_the_ceiling_of_the_relative_rate() -> None:
    assert mix_counts((16, 32, 64, 128), 0.25) == (4, 8, 16, 32)
    assert mix_counts((10, 3), 0.125) == (2, 1)  # ⌈1.25⌉ = 2, ⌈0.375⌉ = 1
    assert mix_counts((16,), 1.0) == (16,)


def test_heterofl_partial_refuses_the_mix_modes() -> None:
    setup = build_setup(tiny_config(heterofl={"mode": "fix", "mix": "a-b"}))
    with pytest.raises(InputError) as caught:
        make_strategy("heterofl-partial", setup)
    assert caught.value.field == "heterofl.mode"


# --- gradient clipping --------------------------------------------------------------------------


def _batch(setup_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    setup = build_setup(tiny_config())
    data = setup.data.train
    return data.x[:setup_size].double(), data.y[:setup_size]


def test_a_clipped_full_step_equals_the_hand_computed_clipped_step_in_float64() -> None:
    inputs, targets = _batch()
    torch.manual_seed(0)
    model = build_setup(tiny_config()).build_model().double()
    reference = {k: v.clone() for k, v in model.named_parameters()}
    training = tiny_config(training={"lr": 0.5, "momentum": 0.0, "weight_decay": 0.0}).training
    # The gradient by hand: autograd on a copy, its total norm, and the scaled step.
    copy_model = build_setup(tiny_config()).build_model().double()
    copy_model.load_state_dict(model.state_dict())
    loss = nn.functional.cross_entropy(copy_model(inputs), targets)
    grads = torch.autograd.grad(loss, list(copy_model.parameters()))
    norm = torch.sqrt(torch.stack([(g**2).sum() for g in grads]).sum())
    bound = 0.01
    assert norm > 10 * bound  # the bound binds
    factor = bound / (norm + 1e-6)  # clip_grad_norm_'s coefficient (its 1e-6 guard included)
    expected = {
        name: reference[name] - 0.5 * factor * g
        for (name, _), g in zip(copy_model.named_parameters(), grads, strict=True)
    }

    train_step(model, build_optimizer(model.parameters(), training), inputs, targets, bound)

    for name, value in model.named_parameters():
        # Float64 throughout; the two computations differ only in the order of a few sums.
        assert torch.allclose(value, expected[name], rtol=0, atol=1e-14), name


def test_a_clipped_sliced_step_moves_the_sub_network_by_lr_times_the_bound() -> None:
    inputs, targets = _batch()
    setup = build_setup(tiny_config())
    model = setup.build_model().double()
    groups = setup.channel_groups
    keep = first_keep(groups, (4, 8))
    lr, bound = 0.5, 0.01
    training = tiny_config(training={"lr": lr, "momentum": 0.0, "weight_decay": 0.0}).training
    for clip, check in ((bound, "clipped"), (None, "free")):
        model.load_state_dict(setup.build_model().double().state_dict())
        before = [p.detach().clone() for p in model.parameters()]
        trainer = SlicedTrainer(model, groups, scale_outputs=False, clip_norm=clip)
        trainer.step(build_optimizer(model.parameters(), training), inputs, targets, keep)
        moved = torch.sqrt(
            torch.stack(
                [
                    ((p.detach() - b) ** 2).sum()
                    for p, b in zip(model.parameters(), before, strict=True)
                ]
            ).sum()
        )
        if check == "clipped":
            # Plain SGD moves the parameters by lr × the clipped gradient, whose norm is the
            # bound (up to clip_grad_norm_'s 1e-6 guard against a zero norm: 1e-4 relative).
            assert float(moved) == pytest.approx(lr * bound, rel=1e-4)
        else:
            assert float(moved) > 10 * lr * bound


def test_a_clipped_local_update_moves_at_most_steps_times_lr_times_the_bound() -> None:
    bound = 1e-3
    config = tiny_config(
        training={"momentum": 0.0, "weight_decay": 0.0, "clip_norm": bound},
        heterofl={"mode": "dynamic", "mix": "a-c"},
    )
    setup = build_setup(config)
    heterofl = make_strategy("heterofl", setup)
    state = setup.build_model().state_dict()
    names = [name for name, _ in setup.build_model().named_parameters()]
    for task in heterofl.configure(1, 0.0, setup.fleet.devices):
        update = run_local_update(setup, task, state)
        assert update.status == "ok" and update.state is not None
        moved = math.sqrt(
            sum(float(((update.state[k] - state[k]).double() ** 2).sum()) for k in names)
        )
        # Each step moves by lr × a gradient of norm ≤ bound; the triangle inequality bounds
        # the sum (1e-4 relative: float32 rounding of the small steps).
        assert moved <= update.num_batches * config.training.lr * bound * (1 + 1e-4)
        assert moved > 0


# --- aggregation and BatchNorm ------------------------------------------------------------------


def test_count_average_is_the_unweighted_mean_over_the_holders() -> None:
    old = {"w": torch.tensor([1.0, 2.0, 3.0]), "n": torch.tensor(4)}
    first = WeightedUpdate(
        {"w": torch.tensor([10.0, 20.0, 30.0]), "n": torch.tensor(5)},
        500.0,
        {"w": torch.tensor([True, True, False])},
    )
    second = WeightedUpdate(
        {"w": torch.tensor([30.0, 99.0, 99.0]), "n": torch.tensor(6)},
        1.0,
        {"w": torch.tensor([0.25, 0.0, 0.0])},
    )
    new = count_average(old, [first, second])
    # Entry 0: both hold it, (10 + 30) / 2 whatever the weights or shares; entry 1: only the
    # first; entry 2: nobody, so the old value. All exact in binary.
    assert torch.equal(new["w"], torch.tensor([20.0, 20.0, 3.0]))
    assert int(new["n"]) == 6


def test_static_bn_recomputes_the_statistics_over_the_data() -> None:
    setup = build_setup(tiny_config())
    model = setup.build_model()
    conv_layer, norm_layer = model.get_submodule("features.0"), model.get_submodule("features.1")
    assert isinstance(norm_layer, nn.BatchNorm2d)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["features.1.running_mean"].fill_(5.0)  # stale statistics to be replaced
    data = setup.data.train
    new = static_bn_state(model, state, data, batch_size=len(data))
    with torch.no_grad():
        model.load_state_dict(state)
        conv = conv_layer(data.x)
    # One batch of the whole set: the running mean is its mean and the running variance its
    # unbiased variance. Float32 sums over ~90,000 values in different orders agree to ~1e-6
    # relative; 1e-4 is far below the stale value's error.
    assert torch.allclose(
        new["features.1.running_mean"], conv.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-6
    )
    assert torch.allclose(
        new["features.1.running_var"], conv.var(dim=(0, 2, 3), unbiased=True), rtol=1e-4, atol=1e-6
    )
    unchanged = [k for k in state if "running" not in k and "num_batches" not in k]
    assert unchanged and all(torch.equal(new[k], state[k]) for k in unchanged)
    assert norm_layer.momentum == 0.1  # restored


# --- the whole protocol on digits ---------------------------------------------------------------


def test_a_short_heterofl_conv_run_with_every_option(tmp_path: Path) -> None:
    config = tiny_config(
        model={"name": "heterofl-conv", "global_rate": 0.125},
        training={
            "rounds": 3,
            "lr": 0.05,
            "momentum": 0.9,
            "weight_decay": 5e-4,
            "lr_schedule": {"kind": "multistep", "milestones": [2]},
            "clip_norm": 1.0,
        },
        heterofl={"mode": "dynamic", "mix": "d-e", "static_bn": True, "aggregation": "count"},
        distreal={"scale_outputs": False},
    )
    setup = build_setup(config)
    assert setup.channel_groups.channels == (8, 16, 32, 64)
    summary = run_strategy(setup, "heterofl", LocalExecutor, tmp_path / "run")
    assert summary.rounds == 3
    # Chance is 10%; three rounds of the tiny model learn far beyond it.
    assert summary.final_accuracy is not None and summary.final_accuracy > 0.3
    # The evaluated state is the one with static statistics: re-evaluating it reproduces the
    # recorded accuracy.
    from leantrain.fl.store import RunStore

    latest = RunStore(tmp_path / "run").latest()
    assert latest is not None
    strategy = make_strategy("heterofl", setup)
    accuracy, _ = Evaluator(setup.build_model(), setup.data.test)(
        strategy.evaluation_state(latest.global_state)
    )
    assert accuracy == summary.final_accuracy
