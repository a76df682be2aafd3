"""``leantrain execute``: a hand-made plan on the profiled tiny digits problem runs with real
training, prunes physically, lowers the loss, writes execution.json; re-planning; exit codes."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import tomli_w
from typer.testing import CliRunner

from conftest import TINY_RUN
from leantrain.cli import app
from leantrain.errors import InputError
from leantrain.fl import FederatedSetup
from leantrain.pact import Decision, LossPredictor, Plan, Problem, evaluate, make_solver
from leantrain.pact.execute import (
    ExecutionResult,
    check_plan,
    execute_plan,
    progress_scale,
    read_execution,
    remaining_problem,
    write_execution,
)
from leantrain.pact.profile import ProfileOptions, ProfileResult, profile

# Every test here trains on one thread, on the tiny fleet (``tiny_setup``).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def setup(tiny_setup: FederatedSetup) -> FederatedSetup:
    return tiny_setup


@pytest.fixture(scope="module")
def profiled(setup: FederatedSetup) -> ProfileResult:
    return profile(setup, ProfileOptions(levels=(0.0, 0.5), epochs=5, holdout=1))


@pytest.fixture(scope="module")
def problem(profiled: ProfileResult) -> Problem:
    return profiled.problem


def _decisions(problem: Problem) -> list[Decision]:
    """Every node on all data at level 0, then pruned to 0.5, then 8 nodes on half their data."""
    names = [node.name for node in problem.node]
    return [
        Decision(0, dict.fromkeys(names, 1.0)),
        Decision(1, dict.fromkeys(names, 1.0)),
        Decision(1, dict.fromkeys(names[:8], 0.5)),
    ]


def _hand_plan(problem: Problem) -> Plan:
    return evaluate(problem, _decisions(problem), solver="hand")


@pytest.fixture(scope="module")
def executed(problem: Problem, setup: FederatedSetup) -> ExecutionResult:
    return execute_plan(_hand_plan(problem), problem, setup)


def test_the_plan_runs_with_real_training(executed: ExecutionResult, problem: Problem) -> None:
    plan = _hand_plan(problem)
    first, pruned, last = executed.epochs
    assert [e.pruning for e in executed.epochs] == [0.0, 0.5, 0.5]
    # Physically smaller after the pruning epoch, with the profiled cost.
    assert pruned.parameters < first.parameters and last.parameters == pruned.parameters
    assert first.flops_per_sample == problem.model.flops_per_sample[0]
    assert pruned.flops_per_sample == problem.model.flops_per_sample[1]
    assert first.loss_after_pruning is None and pruned.loss_after_pruning is not None
    assert last.loss_after_pruning is None
    # The realised loss falls epoch after epoch, from the initial model's.
    losses = [executed.initial_loss] + [e.realised_loss for e in executed.epochs]
    assert all(b < a for a, b in itertools.pairwise(losses)), losses
    assert executed.initial_loss == pytest.approx(problem.curve.initial_loss, rel=1e-9)
    # Predictions are the plan's; time and energy are the plan formulas of the decisions,
    # checked against the figures written out from the nodes' parameters (docs/pact.md,
    # 'The model'); rel 1e-12 covers summing in another order (a few ulp).
    for epoch, planned, decision in zip(
        executed.epochs, plan.epochs, _decisions(problem), strict=True
    ):
        assert epoch.predicted_loss == planned.loss_after
        time_s, energy_j, samples = _by_hand(problem, decision)
        assert epoch.time_s == epoch.predicted_time_s
        assert epoch.time_s == pytest.approx(time_s, rel=1e-12)
        assert planned.end_s - planned.start_s == pytest.approx(time_s, rel=1e-12)
        assert epoch.energy_j == epoch.predicted_energy_j == planned.energy_j
        assert epoch.energy_j == pytest.approx(energy_j, rel=1e-12)
        assert epoch.effective_samples == pytest.approx(samples, rel=1e-12)
        assert math.isfinite(epoch.one_step_loss) and epoch.rejected == ()
    assert executed.epochs[0].one_step_loss == plan.epochs[0].loss_after
    nodes = {node.name: node.samples for node in problem.node}
    assert last.samples == {name: math.floor(0.5 * nodes[name] + 0.5) for name in last.nodes}
    assert executed.time_s == pytest.approx(plan.duration_s)
    assert executed.energy_j == pytest.approx(plan.energy_j)


def _by_hand(problem: Problem, decision: Decision) -> tuple[float, float, float]:
    """Epoch time, energy and effective samples of ``decision`` from the nodes' parameters."""
    nodes = {node.name: node for node in problem.node}
    phi = problem.model.flops_per_sample[decision.level]
    size = problem.model.bytes[decision.level]
    # Under the fraction law "steps" (profile's default) a fraction counts as f^(1/γ).
    gamma = problem.gammas[decision.level]
    power = 1.0 / gamma if problem.curve.fraction_law == "steps" else 1.0
    times, energies, samples = [], [], []
    for name, f in decision.fractions.items():
        node = nodes[name]
        compute = f * node.samples * phi / node.flops
        times.append(compute + 2 * 8 * size / node.bandwidth_bps)
        energies.append(node.power_w * compute + node.tx_power_w * 8 * size / node.bandwidth_bps)
        samples.append(node.quality * f**power * node.samples)
    return max(times), sum(energies), sum(samples)


def test_execution_is_deterministic(
    executed: ExecutionResult, problem: Problem, setup: FederatedSetup
) -> None:
    again = execute_plan(_hand_plan(problem), problem, setup)
    assert [e.realised_loss for e in again.epochs] == [e.realised_loss for e in executed.epochs]


def test_execution_json_and_figure(executed: ExecutionResult, tmp_path: Path) -> None:
    written, picture = write_execution(executed, tmp_path / "out")
    data = json.loads(written.read_text())
    assert len(data["epochs"]) == 3
    for entry, epoch in zip(data["epochs"], executed.epochs, strict=True):
        assert entry["index"] == epoch.index and entry["pruning"] == epoch.pruning
        assert entry["nodes"] == epoch.nodes
        assert entry["predicted_loss"] == epoch.predicted_loss
        assert entry["realised_loss"] == epoch.realised_loss
        assert entry["time_s"] == epoch.time_s and entry["energy_j"] == epoch.energy_j
    totals = data["totals"]
    assert totals["energy_j"] == pytest.approx(sum(e.energy_j for e in executed.epochs))
    assert totals["final_loss"] == executed.final_loss
    assert totals["target_met"] == (executed.final_loss <= executed.target_loss)
    assert set(totals["loss_error"]) == {"mean_abs", "max_abs", "mean_rel", "max_rel"}
    assert picture.read_bytes()[:4] == b"\x89PNG"
    # The file reads back through its model, and writing that model gives the same text.
    back = read_execution(written)
    assert [e.realised_loss for e in back.epochs] == [e.realised_loss for e in executed.epochs]
    assert back.text() == written.read_text()
    broken = tmp_path / "broken.json"
    broken.write_text(written.read_text().replace('"replan": false', '"replan": "no"'))
    with pytest.raises(InputError) as caught:
        read_execution(broken)
    assert caught.value.field == "replan"
    # A file written before stop_at_target existed reads as one that ran every planned epoch.
    older = tmp_path / "older.json"
    older.write_text(written.read_text().replace('"stop_at_target": false,', ""))
    assert "stop_at_target" not in older.read_text()
    assert read_execution(older).stop_at_target is False


def test_remaining_problem_renumbers_the_levels(problem: Problem) -> None:
    rest = remaining_problem(problem, 1, 0.9, 1.0, 2)
    assert isinstance(rest, Problem)
    assert rest.levels == [0.0]
    assert rest.model.flops_per_sample == problem.model.flops_per_sample[1:]
    assert rest.curve.a == problem.curve.a[1:] and rest.curve.jump == [0.0]
    assert rest.curve.initial_loss == 0.9
    assert rest.target.deadline_s == problem.target.deadline_s - 1.0
    assert rest.options.max_epochs == problem.options.max_epochs - 2
    # The next prediction starts from the observed loss on the current level's curve.
    samples = 500.0
    ours = LossPredictor.of(rest).step(0.9, 0, 0, samples)
    assert ours == LossPredictor.of(problem).step(0.9, 1, 1, samples)
    whole = remaining_problem(problem, 0, 1.5, 0.0, 0)
    assert isinstance(whole, Problem) and whole.levels == problem.levels
    # The profiled jumps depend on the loss (jump_slope): from the observed loss 1.5 the
    # remaining problem's jumps are those of the whole problem at that loss.
    for level in range(len(problem.levels)):
        ours = LossPredictor.of(whole).after_jump(1.5, 0, level)
        assert ours == pytest.approx(LossPredictor.of(problem).after_jump(1.5, 0, level))
    assert "deadline" in str(remaining_problem(problem, 0, 1.5, problem.target.deadline_s, 1))
    assert "max_epochs" in str(remaining_problem(problem, 0, 1.5, 0.0, 99))


def test_the_online_refit_shrinks_the_realised_ratios_towards_the_profile() -> None:
    assert progress_scale([]) == 1.0  # no epoch yet: the profile
    # Two epochs that both moved 4x the predicted progress weigh as much as the profile (prior
    # of 2 pseudo-epochs): λ = exp(2·ln 4 / 4) = 2.
    assert progress_scale([4.0, 4.0]) == pytest.approx(2.0, rel=1e-12)
    assert progress_scale([4.0] * 98) == pytest.approx(4.0**0.98, rel=1e-12)
    assert progress_scale([1e9]) == pytest.approx(20.0 ** (1 / 3), rel=1e-12)  # clipped at 20


def test_a_refitted_remaining_problem_advances_lambda_times_as_far(problem: Problem) -> None:
    plain = remaining_problem(problem, 0, 1.5, 0.0, 0)
    faster = remaining_problem(problem, 0, 1.5, 0.0, 0, progress_scale=2.0)
    assert isinstance(plain, Problem) and isinstance(faster, Problem)
    # ℓ′(s) = ℓ(2s): one epoch of D on the refitted curves lands where an epoch of twice its
    # progress lands on the profile's, up to float rounding of a·λ^(−b) and s0/λ.
    profiled = LossPredictor.of(plain)
    for level in range(len(problem.levels)):
        twice = profiled.samples_for(2.0 * profiled.progress(300.0, level), level)
        ours = LossPredictor.of(faster).step(1.5, 0, level, 300.0)
        theirs = profiled.step(1.5, 0, level, twice)
        assert ours == pytest.approx(theirs, rel=1e-9)
        scaled = LossPredictor.of(plain).step(1.5, 0, level, 300.0, scale=2.0)
        assert scaled == pytest.approx(theirs, rel=1e-9)
    with pytest.raises(ValueError, match="progress_scale"):
        remaining_problem(problem, 0, 1.5, 0.0, 0, progress_scale=0.0)


def test_the_remaining_problem_keeps_the_participation_model(problem: Problem) -> None:
    raw = problem.model_dump()
    raw["curve"]["participation"] = 0.3
    raw["curve"]["fraction_law"] = "steps"
    from leantrain.pact import parse_problem

    partial = parse_problem(raw)
    rest = remaining_problem(partial, 1, 0.9, 1.0, 2)
    assert isinstance(rest, Problem)
    assert rest.curve.participation == 0.3 and rest.curve.fraction_law == "steps"
    assert rest.full_samples == partial.full_samples
    ours = LossPredictor.of(rest).step(0.9, 0, 0, 200.0)
    assert ours == LossPredictor.of(partial).step(0.9, 1, 1, 200.0)


def test_remaining_levels_are_shares_of_the_current_model() -> None:
    from pact_cases import hand_raw

    from leantrain.pact import parse_problem

    raw = hand_raw()
    raw["model"]["levels"] = [0.0, 0.25, 0.5]
    for key in ("flops_per_sample", "bytes", "memory_bytes"):
        raw["model"][key] = [*raw["model"][key], raw["model"][key][-1] / 2]
    for key in ("a", "b", "c", "s0"):
        raw["curve"][key] = [*raw["curve"][key], raw["curve"][key][-1]]
    raw["curve"]["jump"] = [0.0, 0.4, 1.0]
    rest = remaining_problem(parse_problem(raw), 1, 1.0, 0.0, 0)
    assert isinstance(rest, Problem)
    assert rest.levels == [0.0, pytest.approx(1.0 / 3.0)]  # 0.5 of the model is 1/3 of 0.75
    assert rest.curve.jump == [0.0, pytest.approx(0.6)]


def test_replanning_runs(problem: Problem, setup: FederatedSetup) -> None:
    result = execute_plan(_hand_plan(problem), problem, setup, replan=True, epsilon=0.05)
    assert result.replan and result.epochs
    assert all(
        b.pruning >= a.pruning for a, b in zip(result.epochs, result.epochs[1:], strict=False)
    )
    fresh = [e for e in result.epochs if e.planned_after == e.index - 1 and e.replanned]
    assert fresh, result.notes
    # The online refit: each epoch's realised/predicted progress, and λ from all so far.
    ratios = [e.progress_ratio for e in result.epochs if e.progress_ratio is not None]
    assert ratios and all(r >= 0.0 for r in ratios)
    for k, epoch in enumerate(result.epochs):
        seen = [e.progress_ratio for e in result.epochs[: k + 1] if e.progress_ratio is not None]
        assert epoch.progress_scale == pytest.approx(progress_scale(seen), rel=1e-12)
    for epoch in fresh:
        # A plan solved right before the epoch predicts from the observed loss (re-anchored on
        # the current level's curve): its prediction is the one-step prediction.
        assert epoch.predicted_loss == pytest.approx(epoch.one_step_loss, rel=1e-9)
    # Every plan in force met the deadline from the time elapsed (the formulas are exact), and a
    # fallback only continues such a plan: the deadline holds whatever re-planning found.
    assert result.deadline_met and result.time_s <= problem.target.deadline_s
    assert len(result.epochs) <= problem.options.max_epochs
    # Execution stops when the target is met, or says why it stopped before.
    known = ("the target is met", "no re-planning", "re-planning found no feasible plan")
    assert all(any(k in note for k in known) for note in result.notes), result.notes
    assert result.target_met or any("stopping" in n or "no re-planning" in n for n in result.notes)


def test_stop_at_target_leaves_the_epochs_after_the_target_unrun(
    executed: ExecutionResult, problem: Problem, setup: FederatedSetup
) -> None:
    # A target the hand plan meets after its second epoch (its own realised loss: the same
    # process trains the same epochs bit for bit, test_execution_is_deterministic).
    reached = problem.with_target(loss=executed.epochs[1].realised_loss)
    stopped = execute_plan(_hand_plan(reached), reached, setup, stop_at_target=True)
    assert stopped.stop_at_target and not stopped.replan
    assert [e.realised_loss for e in stopped.epochs] == [
        e.realised_loss for e in executed.epochs[:2]
    ]
    assert stopped.target_met
    assert stopped.energy_j == math.fsum(e.energy_j for e in executed.epochs[:2])
    assert stopped.notes[-1] == "epoch 1: the target is met; the 1 planned epochs left are not run"
    # Without the option every planned epoch runs, target met or not.
    assert len(execute_plan(_hand_plan(reached), reached, setup).epochs) == 3
    assert not executed.stop_at_target


def test_a_plan_of_half_the_fleet_per_epoch_meets_its_target_on_digits(
    problem: Problem, setup: FederatedSetup
) -> None:
    # docs/pact-profile-execute.md, 'How good is the predictor?': on this data-starved fleet
    # (4 fast devices of 120 images) the default plan, one fast device per epoch and a final
    # epoch of a quarter of the fleet, realises 0.367 for a target of 0.237. With every epoch at
    # half the fleet's work (options.min_share, docs/pact.md 'Epoch floors') the plan stays where
    # the predictor holds: measured 0.198 on one thread, a margin of 16% below the target that
    # float differences between CPUs do not cross.
    floored = problem.model_copy(
        update={"options": problem.options.model_copy(update={"min_share": 0.5})}
    )
    plan = make_solver("pact").solve(floored)
    assert plan.feasible
    assert all(len(e.fractions) >= 2 for e in plan.epochs)
    result = execute_plan(plan, floored, setup)
    assert result.target_met and result.final_loss <= floored.target.loss


def test_plan_and_config_must_match(problem: Problem, setup: FederatedSetup) -> None:
    plan = _hand_plan(problem)
    first = plan.epochs[0]
    ghost = replace(plan, epochs=(replace(first, fractions={"ghost-0": 1.0}),))
    with pytest.raises(InputError, match="not a device of the config's fleet") as caught:
        check_plan(ghost, problem, setup, plan_source="p.json")
    assert caught.value.field == "epochs[0].fractions"
    odd = replace(plan, epochs=(replace(first, pruning=0.3),))
    with pytest.raises(InputError, match="not one of the profile's levels"):
        check_plan(odd, problem, setup)
    other = problem.model_copy(
        update={"node": [problem.node[0].model_copy(update={"samples": 7}), *problem.node[1:]]}
    )
    with pytest.raises(InputError, match="samples"):
        check_plan(plan, other, setup)


runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path, profiled: ProfileResult, problem: Problem) -> tuple[Path, Path, Path]:
    config = tmp_path / "tiny.toml"
    config.write_text(tomli_w.dumps(TINY_RUN))
    problem_path = profiled.save(tmp_path / "problem.toml")
    plan_path = _hand_plan(problem).save(tmp_path / "plan.json")
    return plan_path, config, problem_path


def test_cli_execute(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    plan, config, _ = files
    out = tmp_path / "run"
    arguments = ["execute", str(plan), str(config), "--out", str(out)]
    result = runner.invoke(app, arguments)  # the problem is found beside the plan
    assert result.exit_code == 0, result.output
    data = json.loads((out / "execution.json").read_text())
    assert len(data["epochs"]) == 3 and (out / "execution.png").is_file()
    assert "realised loss" in result.stdout and "final loss" in result.stdout
    again = runner.invoke(app, arguments)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert data["stop_at_target"] is False
    stopping = runner.invoke(app, [*arguments, "--force", "--stop-at-target"])
    assert stopping.exit_code == 0, stopping.output
    assert "stoppedatthetarget" in "".join(stopping.stdout.split())  # rich wraps the title
    assert json.loads((out / "execution.json").read_text())["stop_at_target"] is True


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("fractions", {"ghost-0": 1.0}, "not a device of the config's fleet"),
        ("pruning", 0.3, "not one of the profile's levels"),
    ],
)
def test_cli_execute_rejects_a_mismatched_plan(
    files: tuple[Path, Path, Path], tmp_path: Path, field: str, value: object, fragment: str
) -> None:
    plan, config, problem = files
    data = json.loads(plan.read_text())
    data["epochs"][0][field] = value
    plan.write_text(json.dumps(data))
    result = runner.invoke(
        app,
        [
            "execute",
            str(plan),
            str(config),
            "--problem",
            str(problem),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "plan.json" in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "o" / "execution.json").exists()
