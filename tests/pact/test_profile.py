"""``leantrain profile``: a problem measured from the tiny digits run that ``load_problem`` reads,
with the model profile of the physically pruned models, finite fit errors and monotone jumps."""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import torch
from torch import nn
from typer.testing import CliRunner

from conftest import TINY_RUN
from leantrain.cli import app
from leantrain.errors import InputError
from leantrain.fl import FederatedSetup
from leantrain.fl.samples import node_sample_indices
from leantrain.nn import model_cost
from leantrain.nn.pruning import prunable_widths, prune_model
from leantrain.pact import Decision, LossPredictor, load_problem
from leantrain.pact.plan import epoch_time
from leantrain.pact.predictor import Curve
from leantrain.pact.problem import DEFAULT_MARGIN
from leantrain.pact.profile import (
    DEFAULT_FINAL_SHARE,
    DEFAULT_MIN_SHARE,
    ProfileOptions,
    ProfileProgress,
    ProfileResult,
    fit_curve,
    held_out_sigma,
    profile,
    reference_epoch,
)
from leantrain.pact.profile.target import problem_raw

OPTIONS = ProfileOptions(levels=(0.0, 0.25, 0.5, 0.75), epochs=5, holdout=1, floor_draws=5)


# Every test here trains on one thread, on the tiny fleet (``tiny_setup``).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def setup(tiny_setup: FederatedSetup) -> FederatedSetup:
    return tiny_setup


@pytest.fixture(scope="module")
def result(setup: FederatedSetup) -> ProfileResult:
    return profile(setup, OPTIONS)


def test_problem_round_trips_through_load_problem(
    result: ProfileResult, setup: FederatedSetup, tmp_path: Path
) -> None:
    path = result.save(tmp_path / "problem.toml")
    assert load_problem(path) == result.problem
    text = path.read_text()
    assert text.startswith("# PACT problem profiled")
    assert "held-out RMSE" in text
    assert "# l(s) = c + a/(1 + (s/s0)^b) (log-logistic)" in text  # the default family
    problem = result.problem
    assert problem.levels == list(OPTIONS.levels)
    assert [node.name for node in problem.node] == [d.name for d in setup.fleet.devices]


def test_nodes_are_the_fleet(result: ProfileResult, setup: FederatedSetup) -> None:
    for node, device in zip(result.problem.node, setup.fleet.devices, strict=True):
        assert node.name == device.name
        assert node.flops == device.flops and node.power_w == device.power_w
        assert node.bandwidth_bps == device.upload_bps and node.tx_power_w == device.tx_power_w
        assert node.memory_bytes == device.memory_bytes
        assert node.samples == len(setup.partitions[device.index]) and node.quality == 1.0


def test_participation_and_margin_are_measured(result: ProfileResult) -> None:
    fit = result.participation
    assert fit is not None and len(OPTIONS.participation) == 3
    curve = result.problem.curve
    assert curve.participation == fit.gamma and 0.0 < fit.gamma <= 1.0
    assert curve.full_samples == result.samples_per_epoch
    # γ is the least-squares choice, so γ = 1 (progress ∝ samples) never fits better.
    assert fit.rmse <= fit.rmse_linear
    assert curve.sigma == held_out_sigma(result.levels) > 0.0
    assert result.problem.options.margin == DEFAULT_MARGIN
    assert result.problem.planning_loss < result.problem.target.loss
    # The epoch floors of docs/pact.md, 'Epoch floors': the options' values, written.
    assert result.problem.options.final_share == OPTIONS.final_share == DEFAULT_FINAL_SHARE
    assert result.problem.options.min_share == OPTIONS.min_share == DEFAULT_MIN_SHARE
    assert "Participation: γ =" in result.toml()


def test_a_gamma_per_level_is_fitted_on_each_levels_own_runs(
    result: ProfileResult, setup: FederatedSetup
) -> None:
    options = ProfileOptions(levels=(0.0, 0.5), epochs=5, holdout=1, participation_per_level=True)
    # Warm-up, level 0, level 0.5 from the initial model, and the participation runs twice.
    assert options.passes == 1 + 5 + (1 + 5) + 2 * 3 * 5
    measured = profile(setup, options)
    gammas = measured.problem.curve.participation
    assert isinstance(gammas, list) and len(gammas) == 2
    assert [fit.gamma for fit in measured.participation_levels] == gammas
    assert all(0.0 < gamma <= 1.0 for gamma in gammas)
    for fit in measured.participation_levels:
        assert fit.rmse <= fit.rmse_linear  # the least-squares γ, at every level
    # Level 0's runs and fit are those of the single-γ profile (other levels do not enter).
    assert result.participation is not None and measured.participation is not None
    assert gammas[0] == measured.participation.gamma == result.participation.gamma
    assert "Participation per level" in measured.toml()
    assert measured.problem.gammas == gammas


@pytest.mark.parametrize("draw", ["fixed", "redrawn"])
def test_participation_runs_train_a_fixed_or_redrawn_subset(
    setup: FederatedSetup, draw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leantrain.pact.profile.run as run_module

    everyone = {i for i, part in enumerate(setup.partitions) if len(part)}
    subsets: list[frozenset[int]] = []
    train_epoch = run_module.run_epoch

    def recording(model: nn.Module, executor: object, fractions: dict[int, float], **kw: object):  # type: ignore[no-untyped-def]
        # A participation epoch: not a whole-fleet pass, nor a probe of the subset floor.
        if set(fractions) != everyone and kw.get("purpose") == "pact-profile":
            subsets.append(frozenset(fractions))
        return train_epoch(model, executor, fractions, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module, "run_epoch", recording)
    options = ProfileOptions(
        levels=(0.0,), epochs=5, holdout=1, participation=(0.25,), participation_draw=draw
    )
    measured = profile(setup, options)
    assert measured.participation is not None
    assert len(subsets) == options.epochs
    count = round(0.25 * len(everyone))
    assert all(len(subset) == count for subset in subsets)
    # fixed: one subset for every epoch; redrawn: a new one (the first epoch's is the same).
    assert (len(set(subsets)) == 1) == (draw == "fixed")


def test_central_profiling_measures_no_participation(setup: FederatedSetup) -> None:
    central = ProfileOptions(levels=(0.0,), method="central", epochs=5, holdout=1)
    assert central.passes == 1 + 5  # warm-up and one level, no participation runs
    # Pruned levels train from the initial model: warm-up and passes each.
    assert OPTIONS.passes == 1 + 5 + 3 * (1 + 5) + 3 * 5 + 4 * 3 * 5  # and the floor probes
    measured = profile(setup, central)
    assert measured.participation is None and measured.problem.curve.participation == 1.0


def test_cost_falls_with_the_level(result: ProfileResult) -> None:
    model = result.problem.model
    for series in (model.flops_per_sample, model.bytes, model.memory_bytes):
        assert all(b < a for a, b in itertools.pairwise(series)), series


def test_flops_are_those_of_the_physically_pruned_model(
    result: ProfileResult, setup: FederatedSetup
) -> None:
    shape = setup.data.train.input_shape
    full = setup.build_model()
    widths = prunable_widths(full)
    assert widths == {"features.0": 16, "features.3": 32}
    for level in result.levels:
        pruned = prune_model(setup.build_model(), level.pruning, widths, shape)
        cost = model_cost(pruned, shape)
        assert cost.train_flops_per_sample == level.flops_per_sample
        assert cost.state_bytes == level.state_bytes
        batch = setup.config.training.batch_size
        assert cost.training_memory_bytes(batch, 0) == level.memory_bytes  # momentum 0
        # Channels are physically gone: the weights are smaller, and the model still runs.
        conv = dict(pruned.named_modules())["features.3"]
        assert isinstance(conv, nn.Conv2d)
        assert conv.weight.shape[0] == level.widths["features.3"] == int(32 * (1 - level.pruning))
        assert pruned(torch.zeros(2, *shape)).shape == (2, 10)
        assert sum(p.numel() for p in pruned.parameters()) == level.parameters


def test_fit_errors_are_reported_and_finite(result: ProfileResult) -> None:
    for level in result.levels:
        fit = level.fit
        for value in (fit.fit_rmse, fit.holdout_rmse, fit.holdout_max_rel_error):
            assert math.isfinite(value) and value >= 0.0
        observed = np.array(level.losses[:-1])
        predicted = np.array([fit.curve.loss(s) for s in level.samples[:-1]])
        assert math.isclose(
            fit.fit_rmse, float(np.sqrt(np.mean((predicted - observed) ** 2))), rel_tol=1e-9
        )
        held = fit.curve.loss(level.samples[-1])
        assert math.isclose(fit.holdout_rmse, abs(held - level.losses[-1]), rel_tol=1e-9)
    # Every level is observed from the initial model on (pruned for ρ > 0), a pass apart.
    n = result.samples_per_epoch
    for level in result.levels:
        assert list(level.samples) == [k * n for k in range(OPTIONS.warmup_epochs + 6)]
    assert result.levels[0].losses[0] == result.initial_loss


def test_jumps_are_non_decreasing_and_measured(result: ProfileResult) -> None:
    curve = result.problem.curve
    jump, slope = curve.jump, curve.jump_slope
    assert slope is not None and jump[0] == 0.0 and slope[0] == 0.0
    assert all(b >= a for a, b in itertools.pairwise(jump))
    low = min(curve.c) - curve.initial_loss
    at_low = [j + s * low for j, s in zip(jump, slope, strict=True)]
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(at_low)) and min(at_low) >= -1e-12
    for level in result.levels[1:]:
        # The curve is observed from the initial model pruned, at 0, N, 2N, ...; the jump from
        # the warm-up model.
        assert level.samples[0] == 0.0 and len(level.samples) == len(result.levels[0].samples)
        # Measured at the warm-up model and the level-0 run half-way and at its end.
        assert len(level.jump_points) == 3
        assert level.jump_points[0] == pytest.approx((result.warmup_loss, level.jump_measured))
        losses = [loss for loss, _ in level.jump_points]
        assert losses[1:] == [result.levels[0].losses[i] for i in (3, 6)]  # after passes 2, 5
    assert result.levels[-1].jump_measured > 0.0  # pruning 75% of a trained model hurts


def test_jump_lines_are_recovered_and_kept_monotone(result: ProfileResult) -> None:
    from dataclasses import replace

    from leantrain.pact.profile.run import _fit_jumps

    initial = result.initial_loss
    low = min(level.fit.curve.c for level in result.levels) - initial  # < 0
    # (jump, slope) with the jump halved at the lowest asymptote; the last level dips.
    truth = [(j, j / (2.0 * -low)) for j in (0.0, 0.1, 0.3, 0.2)]
    levels = [
        replace(level, jump_points=tuple((x, j + b * (x - initial)) for x in (1.9, 1.2, 0.8)))
        for level, (j, b) in zip(result.levels, truth, strict=True)
    ]
    fitted = _fit_jumps(levels, initial)
    # Exact lines are recovered (float64 least squares on three points: 1e-9).
    for level, (j, b) in zip(fitted[:3], truth[:3], strict=True):
        assert level.jump == pytest.approx(j, abs=1e-9)
        assert level.jump_slope == pytest.approx(b, abs=1e-9)
    # The last level's line lies below the one before at the initial loss: the running maximum
    # lifts it there, so pruning further never lowers the loss.
    assert fitted[3].jump == pytest.approx(fitted[2].jump, abs=1e-12)
    assert fitted[3].jump_slope == pytest.approx(fitted[2].jump_slope, abs=1e-9)


def test_steep_jump_lines_are_kept_down_to_the_slope_bound(result: ProfileResult) -> None:
    # Heavy pruning of a trained model hurts much more than of an untrained one: the demo fleet
    # measured β ≈ −0.85 at pruning 0.75 (docs/pact-profile-execute.md, 'Jumps'). Such a line is
    # written as measured; a steeper one is capped at SLOPE_MIN (> −1: pruning stays increasing
    # in the loss).
    from dataclasses import replace

    from leantrain.pact.profile.run import SLOPE_MIN, _fit_jumps

    initial = result.initial_loss
    truth = [(0.0, 0.0), (0.01, -0.3), (0.01, -0.85), (0.01, -1.4)]
    levels = [
        replace(level, jump_points=tuple((x, j + b * (x - initial)) for x in (1.9, 1.2, 0.8)))
        for level, (j, b) in zip(result.levels, truth, strict=True)
    ]
    fitted = _fit_jumps(levels, initial)
    assert [level.jump_slope for level in fitted[1:3]] == pytest.approx([-0.3, -0.85], abs=1e-9)
    assert fitted[3].jump_slope == pytest.approx(SLOPE_MIN, abs=1e-9)
    assert -1.0 < SLOPE_MIN <= -0.85


def test_default_target_and_deadline(result: ProfileResult) -> None:
    problem = result.problem
    n = float(sum(node.samples for node in problem.node))
    assert n == result.samples_per_epoch
    predictor = LossPredictor.of(problem)
    assert problem.target.loss == predictor.trajectory([0] * 5, [n] * 5)[-1]
    everyone = Decision(0, {node.name: 1.0 for node in problem.node})
    assert result.reference == everyone  # every node fits the whole model
    assert result.full_epoch_time_s == epoch_time(problem, everyone)
    assert problem.target.deadline_s == pytest.approx(2.0 * 5 * result.full_epoch_time_s)
    assert problem.options.max_epochs == 15
    assert problem.options.data_fractions == [0.0, 0.5, 1.0]
    assert problem.curve.initial_loss == result.initial_loss > problem.target.loss


def test_reference_epoch_is_where_the_fleet_fits() -> None:
    from pact_cases import hand_raw

    from leantrain.pact import parse_problem

    raw = hand_raw()  # levels 0 and 0.5; A holds 300 samples, B 500; both have 2e6 bytes
    raw["node"][1]["memory_bytes"] = 7.0e5  # B fits level 0.5 only
    assert reference_epoch(parse_problem(raw)) == Decision(1, {"A": 1.0, "B": 1.0})
    raw["node"][1]["samples"] = 0  # a tie: the least pruned level, without the empty node
    assert reference_epoch(parse_problem(raw)) == Decision(0, {"A": 1.0})
    for node in raw["node"]:
        node["memory_bytes"] = 1.0
    assert reference_epoch(parse_problem(raw)) is None


def test_fit_curve_recovers_a_known_curve() -> None:
    truth = Curve(a=40.0, b=0.6, c=0.2, s0=300.0)
    samples = [0.0, *(1000.0 * k for k in range(1, 10))]
    fit = fit_curve(samples, [truth.loss(s) for s in samples], scale=1000.0, holdout=2)
    assert fit.fit_rmse < 1e-6 and fit.holdout_rmse < 1e-4 and fit.holdout_max_rel_error < 1e-3
    for s in (0.0, 5000.0, 20000.0):
        assert fit.curve.loss(s) == pytest.approx(truth.loss(s), rel=1e-3)


def test_fit_curve_rejects_what_it_cannot_fit() -> None:
    with pytest.raises(ValueError, match="not all finite"):
        fit_curve([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, math.nan, 0.5, 0.4, 0.3], scale=1.0)
    with pytest.raises(ValueError, match="at least 5 points"):
        fit_curve([0.0, 1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 0.7, 0.5, 0.4], scale=1.0, holdout=1)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (ProfileOptions(levels=(0.25, 0.5)), "levels"),
        (ProfileOptions(levels=(0.0, 0.5, 0.5)), "levels"),
        (ProfileOptions(levels=(0.0, 1.0)), "levels"),
        (ProfileOptions(epochs=5, holdout=2), "epochs"),
        (ProfileOptions(holdout=0), "holdout"),
        (ProfileOptions(warmup_epochs=-1), "warmup_epochs"),
        (ProfileOptions(data_fractions=(0.0,)), "data_fractions"),
        (ProfileOptions(data_fractions=(0.5, 0.2)), "data_fractions"),
        (ProfileOptions(target_epochs=0), "target_epochs"),
        (ProfileOptions(deadline_factor=0.0), "deadline_factor"),
        (ProfileOptions(max_epochs=0), "max_epochs"),
        (ProfileOptions(fraction_law="nodes"), "fraction_law"),  # type: ignore[arg-type]
        (ProfileOptions(curve_family="cubic"), "curve_family"),  # type: ignore[arg-type]
        (ProfileOptions(final_share=1.5), "final_share"),
        (ProfileOptions(min_share=-0.5), "min_share"),
        (ProfileOptions(margin_model="quantile"), "margin_model"),  # type: ignore[arg-type]
        (ProfileOptions(margin=-1.0), "margin"),
        (ProfileOptions(margin=math.nan), "margin"),
    ],
)
def test_bad_options_are_input_errors(options: ProfileOptions, field: str) -> None:
    with pytest.raises(InputError) as caught:
        options.check()
    # The library names the option's value, never a command-line flag.
    assert caught.value.field == field
    assert "--" not in caught.value.line()


def test_too_few_epochs_say_which_values() -> None:
    with pytest.raises(InputError, match=r"epochs must be >= holdout \+ 4 = 6 .*got 5"):
        ProfileOptions(epochs=5, holdout=2).check()


def test_node_samples_are_a_seeded_prefix(setup: FederatedSetup) -> None:
    part = setup.partitions[0]
    half = node_sample_indices(setup, 0, 0.5, "pact-execute", 3)
    full = node_sample_indices(setup, 0, 1.0, "pact-execute", 3)
    assert len(half) == len(part) // 2 and len(full) == len(part)
    assert list(full[: len(half)]) == list(half) and set(full) == set(part)
    assert list(half) == list(node_sample_indices(setup, 0, 0.5, "pact-execute", 3))
    assert list(half) != list(node_sample_indices(setup, 0, 0.5, "pact-execute", 4))


runner = CliRunner()


def test_cli_profile_writes_the_problem_and_refuses_to_overwrite(tmp_path: Path) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(tomli_w.dumps(TINY_RUN))
    out = tmp_path / "problem.toml"
    arguments = ["profile", str(config), "--out", str(out), "--levels", "0,0.5"]
    arguments += ["--fraction-law", "steps", "--final-share", "0.5", "--min-share", "0.125"]
    arguments += ["--margin", "0.5"]
    result = runner.invoke(app, [*arguments, "--epochs", "5", "--holdout", "1"])
    assert result.exit_code == 0, result.output
    problem = load_problem(out)
    assert problem.levels == [0.0, 0.5]
    assert problem.curve.fraction_law == "steps"
    assert (problem.options.final_share, problem.options.min_share) == (0.5, 0.125)
    assert problem.options.margin == 0.5
    assert (tmp_path / "problem.png").read_bytes()[:4] == b"\x89PNG"
    assert "held-out RMSE" in result.stdout and "default target" in result.stdout
    again = runner.invoke(app, [*arguments, "--epochs", "5", "--holdout", "1"])
    assert again.exit_code == 2 and "--force" in again.stderr
    assert "Traceback" not in again.output


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--levels", "0,x"], "levels"),
        (["--levels", "0.1,0.5"], "levels"),
        (["--method", "magic"], "--method"),
        (["--fraction-law", "nodes"], "--fraction-law"),
        (["--curve-family", "cubic"], "--curve-family"),
        (["--final-share", "2"], "--final-share"),
        (["--floor-draws", "-1"], "--floor-draws"),
        (["--replicates", "0"], "--replicates"),
        (["--margin-model", "quantile"], "--margin-model"),
        (["--margin", "-1"], "--margin"),
        (["--out", "p.png"], "--out"),
    ],
)
def test_cli_profile_bad_options_exit_2(tmp_path: Path, options: list[str], fragment: str) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(tomli_w.dumps(TINY_RUN))
    result = runner.invoke(
        app, ["profile", str(config), "--out", str(tmp_path / "p.toml"), *options]
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]


def test_cli_profile_defaults_are_the_options_defaults() -> None:
    # The command spells its defaults out (importing ProfileOptions there would load torch).
    import inspect

    from leantrain.cli.commands import profile_command

    parameters = inspect.signature(profile_command).parameters
    defaults = ProfileOptions()
    names = (
        "min_share",
        "final_share",
        "fraction_law",
        "curve_family",
        "floor_draws",
        "replicates",
        "margin_model",
        "margin",
    )
    for name in names:
        assert parameters[name].default == getattr(defaults, name), name


def test_the_subset_floor_is_fitted_per_level_to_probes_from_its_last_model(
    result: ProfileResult,
) -> None:
    floors = result.subset_floor
    assert len(floors) == len(OPTIONS.levels)
    for level, floor in zip(result.levels, floors, strict=True):
        # floor_draws probes per participation share, each one FedAvg epoch of that share.
        assert len(floor.probes) == len(OPTIONS.participation) * OPTIONS.floor_draws
        assert len({round(samples) for samples, _ in floor.probes}) >= 2  # grows with the share
        # They start from the level's last model (its run's last loss).
        assert floor.start_loss == level.losses[-1]
    kappas = [floor.kappa for floor in floors]
    assert all(kappa >= 0.0 for kappa in kappas)
    assert result.problem.kappas == (kappas if any(kappas) else [0.0] * len(kappas))
    assert "Subset floor per level" in result.toml()


def test_by_default_no_floor_is_measured_or_written(setup: FederatedSetup) -> None:
    options = ProfileOptions(levels=(0.0,), epochs=5, holdout=1)
    assert options.floor_draws == 0 and options.passes == 1 + 5 + 3 * 5
    measured = profile(setup, options)
    assert measured.subset_floor == () and measured.problem.curve.subset_floor == 0.0
    with pytest.raises(InputError, match="floor_draws"):
        ProfileOptions(floor_draws=-1).check()


def test_replicates_pool_their_runs_and_widen_sigma(setup: FederatedSetup) -> None:
    # Two replicates at level 0 and 0.5: the curves are fitted to the mean losses, the spread at
    # the held-out points joins σ, and the passes (and the progress) double.
    from leantrain.pact.profile.run import _measure, _replicate_spread
    from leantrain.seeding import stream_seed

    options = ProfileOptions(levels=(0.0, 0.5), epochs=5, holdout=1, replicates=2)
    single = ProfileOptions(levels=(0.0, 0.5), epochs=5, holdout=1)
    assert options.passes == 2 * single.passes
    events = []
    pooled = profile(setup, options, progress=events.append)
    assert [e.done for e in events] == list(range(1, options.passes + 1))
    assert {e.total for e in events} == {options.passes}
    # The first replicate is the one-replicate profile; the second runs at a derived seed.
    first = _measure(setup, single, "t", None, None, 0)
    seed = stream_seed(setup.config.seed, "pact-profile-replicate", 1) % 2**31
    from leantrain.fl.setup import build_setup

    other = build_setup(setup.config.model_copy(update={"seed": seed}))
    second = _measure(other, single, "t", None, None, 0)
    for index, level in enumerate(pooled.levels):
        a, b = first.levels[index].losses, second.levels[index].losses
        assert a != b  # another seed trains otherwise
        # The mean of two float64 values, the same operations: equal up to 1e-12.
        mean = [(x + y) / 2 for x, y in zip(a, b, strict=True)]
        assert level.losses == pytest.approx(mean, rel=1e-12)
        assert len(level.jump_points) == len(first.levels[index].jump_points) * 2
    spread = _replicate_spread([first, second], holdout=1)
    assert spread > 0.0
    assert pooled.replicate_spread == pytest.approx(spread, rel=1e-12)
    sigma = math.hypot(held_out_sigma(pooled.levels), spread)
    assert pooled.problem.curve.sigma == pytest.approx(sigma, rel=1e-12)
    # σ_p: log(s_eq / s) of each replicate's held-out loss on the pooled curve, the mean's
    # square plus the sample variance between the two (rel 1e-9: the same float64 formulas,
    # summed in another order).
    means, variances = [], []
    for index, level in enumerate(pooled.levels):
        positions = [level.fit.curve.position(r.levels[index].losses[-1]) for r in (first, second)]
        logs = [math.log(p / level.samples[-1]) for p in positions if math.isfinite(p)]
        assert len(logs) == 2  # above the floors here
        means.append(((logs[0] + logs[1]) / 2) ** 2)
        variances.append((logs[0] - logs[1]) ** 2 / 2)
    expected = math.sqrt(sum(means) / len(means) + sum(variances) / len(variances))
    assert pooled.progress_sigma == pytest.approx(expected, rel=1e-9) and expected > 0.0
    assert pooled.problem.curve.progress_sigma == 0.0  # the margin stays in loss by default
    # With margin_model = "progress" the problem carries σ_p in place of σ.
    raw, _ = problem_raw(
        setup,
        dataclasses.replace(options, margin_model="progress"),
        pooled.levels,
        pooled.initial_loss,
        "t",
        progress_sigma=pooled.progress_sigma,
    )
    assert raw["curve"]["progress_sigma"] == pooled.progress_sigma and "sigma" not in raw["curve"]
    assert "2 replicates (the config" in pooled.toml()
    with pytest.raises(InputError, match="replicates"):
        ProfileOptions(replicates=0).check()


def test_one_replicate_has_no_spread(result: ProfileResult) -> None:
    assert result.replicate_spread == 0.0
    assert result.problem.curve.sigma == pytest.approx(held_out_sigma(result.levels), rel=1e-15)
    assert "replicates (the config" not in result.toml()


def test_replicates_with_pooled_data_of_other_sizes_are_an_input_error(
    setup: FederatedSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pooled point by point, the replicates must see as many samples per pass; it is checked
    # before the second replicate trains.
    from leantrain.fl.setup import build_setup
    from leantrain.pact.profile import run
    from leantrain.pact.profile.passes import pooled_training_data

    size = len(pooled_training_data(setup))
    data = setup.config.data.model_copy(update={"train_limit": size - 10})
    smaller = build_setup(setup.config.model_copy(update={"data": data}))
    monkeypatch.setattr(run, "build_setup", lambda config, source: smaller)
    options = ProfileOptions(levels=(0.0,), epochs=5, holdout=1, replicates=2)
    events: list[ProfileProgress] = []
    with pytest.raises(InputError, match="differ in size") as caught:
        profile(setup, options, progress=events.append)
    assert caught.value.field == "replicates"
    assert len(events) == options.passes // 2  # the first replicate only
