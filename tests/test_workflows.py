"""The application layer both front ends share: value checks named for each front end, the
planning flow's outputs and diagnosis, the execute flow's problem lookup, and the demo's compact
summary."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from typer.testing import CliRunner

from conftest import tiny_config
from leantrain import workflows
from leantrain.cli import app
from leantrain.config import RunConfig
from leantrain.engines.flower.server_app import RUN_CONFIG
from leantrain.errors import InputError
from leantrain.fl import build_setup
from leantrain.pact import read_plan
from leantrain.workflows import ARGUMENTS, COMMAND_LINE

SMALL = Path(__file__).resolve().parents[1] / "examples" / "pact" / "small.toml"

runner = CliRunner()


def _problem(tmp_path: Path, **target: float) -> Path:
    raw: dict[str, Any] = tomllib.loads(SMALL.read_text())
    raw["target"].update(target)
    path = tmp_path / "problem.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def test_each_front_end_names_the_values_its_own_way(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "rounds.jsonl").write_text("")
    lines = []
    for origin in (ARGUMENTS, COMMAND_LINE, RUN_CONFIG):
        with pytest.raises(InputError) as caught:
            workflows.guard_run_dir(tmp_path / "run", resume=False, origin=origin)
        lines.append(caught.value.line())
    run = tmp_path / "run"
    assert lines == [
        f"arguments: out: {run} already holds files; resume that run (resume) or choose another "
        "out",
        f"command line: --out: {run} already holds files; resume that run (--resume) or choose "
        "another --out",
        f"flwr run --run-config: out: {run} already holds files; resume that run (resume=true) "
        "or choose another out",
    ]
    workflows.guard_run_dir(tmp_path / "run", resume=True)  # resuming is allowed
    workflows.guard_run_dir(tmp_path / "empty", resume=False)  # so is a new directory
    assert COMMAND_LINE.name("data_fractions") == "--fractions"
    assert COMMAND_LINE.name("warmup_epochs") == "--warmup-epochs"
    with pytest.raises(InputError, match="unknown engine 'ray'; known: flower, local"):
        workflows.engine("ray")
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(InputError, match="epsilon: must be a positive number"):
            workflows.check_epsilon(bad)


def test_the_plan_flow_writes_the_plan_naming_its_problem(tmp_path: Path) -> None:
    problem = _problem(tmp_path)
    outcome = workflows.plan(problem, solver="full", out=tmp_path / "p.json", compare=True)
    assert outcome.relaxation is None and outcome.plan.feasible
    written = read_plan(tmp_path / "p.json")
    assert written.notes["problem"] == str(problem.resolve())
    assert written.energy_j == outcome.plan.energy_j
    assert outcome.picture == tmp_path / "p.png" and outcome.picture.is_file()
    assert outcome.comparison is not None
    assert set(outcome.comparison.plans) | set(outcome.comparison.skipped) == set(
        workflows.solver_names()
    )
    assert outcome.comparison.plans["full"].energy_j == outcome.plan.energy_j
    assert (tmp_path / "p-compare.png").is_file()
    with pytest.raises(InputError, match=r"p\.json already exists"):
        workflows.plan(problem, solver="full", out=tmp_path / "p.json")
    with pytest.raises(InputError, match="unknown solver 'lp'; known: pact, exact"):
        workflows.plan(problem, solver="lp", out=tmp_path / "q.json")


def test_an_infeasible_plan_carries_its_diagnosis(tmp_path: Path) -> None:
    problem = _problem(tmp_path, deadline_s=0.5)
    outcome = workflows.plan(problem, solver="full", out=tmp_path / "p.json")
    assert outcome.relaxation is not None and outcome.relaxation.binding == "deadline"
    assert outcome.picture is None and not (tmp_path / "p.png").exists()
    notes = json.loads((tmp_path / "p.json").read_text())["notes"]
    assert notes["binding"] == "deadline"
    assert notes["relaxation"] == outcome.relaxation.message
    assert notes["problem"] == str(problem.resolve())
    assert str(outcome.relaxation.error()).startswith("infeasible: deadline binds")


def test_a_baselines_diagnosis_says_when_pact_meets_the_problem(tmp_path: Path) -> None:
    # By 10 s only pruning or fewer nodes meet the target: full misses it, pact does not.
    problem = _problem(tmp_path, deadline_s=10.0)
    outcome = workflows.plan(problem, solver="full", out=tmp_path / "p.json")
    assert outcome.relaxation is not None and outcome.relaxation.binding == "deadline"
    assert outcome.relaxation.message.endswith("; the pact solver meets the original problem")
    assert json.loads((tmp_path / "p.json").read_text())["notes"]["relaxation"] == (
        outcome.relaxation.message
    )
    assert workflows.plan(problem, solver="pact", out=tmp_path / "q.json").relaxation is None


def test_the_execute_flow_needs_the_plans_problem(tmp_path: Path) -> None:
    problem = _problem(tmp_path)
    workflows.plan(problem, solver="full", out=tmp_path / "plan.json")
    plan = tmp_path / "plan.json"
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "plan.json").write_text(
        plan.read_text().replace(str(problem.resolve()), str(tmp_path / "gone.toml"))
    )
    with pytest.raises(InputError) as caught:
        workflows.execute(
            moved / "plan.json", tiny_config(), "run.toml", None, tmp_path / "x", origin=RUN_CONFIG
        )
    assert caught.value.field == "problem" and "gone.toml" in caught.value.message
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "execution.json").write_text("{}")
    with pytest.raises(
        InputError, match=r"execution\.json already exists; overwrite it with force"
    ):
        workflows.execute(plan, tiny_config(), "run.toml", None, tmp_path / "x", origin=RUN_CONFIG)


def test_the_demo_prints_a_compact_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None
) -> None:
    tiny = tiny_config(training={"rounds": 1})

    def demo_config() -> RunConfig:
        return tiny

    monkeypatch.setattr(workflows, "demo_config", demo_config)
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # The strategies' table, the report, one line for the plan, one naming its files and one
    # for its execution: the plan's epochs stay in plan.json and plan.png.
    assert len(lines) < 20, result.stdout
    assert not any("loss after" in line for line in lines)
    plan = read_plan(out / "plan.json")
    assert len(plan.epochs) > 5  # what the terminal no longer shows
    problem = workflows.demo_problem()
    summary = [line for line in lines if line.startswith("pact plan (")]
    assert summary == [
        f"pact plan ({plan.status}): energy {plan.energy_j:.6g} J, duration "
        f"{plan.duration_s:.6g} s (deadline {problem.target.deadline_s:g} s), final loss "
        f"{plan.final_loss:.6g} (target {problem.target.loss:g}), {len(plan.epochs)} epochs, "
        f"solved in {plan.solve_time_s:.3g} s"
    ]
    assert (out / "plan.png").is_file() and (out / "report.md").is_file()
    # The plan was executed with real training: every epoch, predicted against realised.
    executed = json.loads((out / "execution.json").read_text())
    assert len(executed["epochs"]) == len(plan.epochs)
    assert all(e["realised_loss"] > 0.0 for e in executed["epochs"])
    assert (out / "execution.png").is_file()
    assert any(line.startswith("PACT plan executed: ") for line in lines)
    assert json.loads((out / "summary.json").read_text()).keys() == set(tiny.strategies)


def test_the_packaged_demo_problem_shows_the_joint_decisions() -> None:
    """The demo's PACT problem (a real profile with a binding target and deadline) plans
    pruning, several nodes and partial data: what PACT decides jointly (issue 12, item 6)."""
    from leantrain.pact import make_solver

    problem = workflows.demo_problem()
    plan = make_solver("pact").solve(problem)
    assert plan.feasible
    assert len({epoch.pruning for epoch in plan.epochs}) >= 2
    assert max(len(epoch.fractions) for epoch in plan.epochs) >= 2
    assert any(f < 1.0 for epoch in plan.epochs for f in epoch.fractions.values())
    # The problem's nodes are the devices of the config it was profiled from and runs on.
    setup_names = [d.name for d in build_setup(workflows.demo_pact_config()).fleet.devices]
    assert [node.name for node in problem.node] == setup_names
