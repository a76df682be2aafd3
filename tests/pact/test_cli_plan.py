"""``leantrain plan``: outputs, the comparison table, exit codes 2 and 3, no silent overwrite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from pact_cases import assert_recomputes, hand_raw, random_raw
from typer.testing import CliRunner

from leantrain.cli import app
from leantrain.pact import SOLVERS, load_problem, read_plan

runner = CliRunner()


def _write(tmp_path: Path, raw: dict[str, Any], name: str = "problem.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(raw))
    return path


def _one_line(result: Any, code: int, *fragments: str) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return str(lines[0])


def test_plan_writes_json_and_png(tmp_path: Path) -> None:
    problem = _write(tmp_path, random_raw(0))
    out = tmp_path / "out" / "p.json"
    result = runner.invoke(app, ["plan", str(problem), "--solver", "full", "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan = read_plan(out)
    assert plan.solver == "full" and plan.status == "feasible"
    assert_recomputes(load_problem(problem), plan)
    assert (tmp_path / "out" / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert "total" in result.stdout and "loss after" in result.stdout
    assert f"{plan.energy_j:.6g} J" in result.stdout


def test_plan_with_the_default_solver(tmp_path: Path) -> None:
    problem = _write(tmp_path, random_raw(1))
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", str(problem), "--out", str(out), "--epsilon", "0.05"])
    assert result.exit_code == 0, result.output
    plan = read_plan(out)
    assert plan.solver == "pact" and plan.epsilon == 0.05


def test_compare_lists_every_solver(tmp_path: Path) -> None:
    problem = _write(tmp_path, random_raw(0, nodes=3))
    out = tmp_path / "plan.json"
    result = runner.invoke(
        app, ["plan", str(problem), "--solver", "greedy", "--out", str(out), "--compare"]
    )
    assert result.exit_code == 0, result.output
    assert set(SOLVERS) == {"pact", "exact", "full", "prune-first", "greedy", "no-prune"}
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("│")}
    for name in SOLVERS:
        assert name in rows, name
    assert "optimal" in rows["exact"] and "infeasible" in rows["prune-first"]
    assert "1.000" in rows["pact"]  # energy relative to pact
    assert (tmp_path / "plan-compare.png").is_file()
    assert read_plan(out).solver == "greedy"


@pytest.mark.parametrize("solver", ["pact", "full"])
def test_infeasible_exits_3_naming_the_binding_constraint(tmp_path: Path, solver: str) -> None:
    raw = hand_raw()
    raw["target"] = {"loss": 0.4, "deadline_s": 1.0}
    problem = _write(tmp_path, raw)
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", str(problem), "--solver", solver, "--out", str(out)])
    line = _one_line(result, 3, "deadline", "deadline_s >= ")
    assert line.startswith("infeasible")
    written = json.loads(out.read_text())
    assert written["status"] == "infeasible" and written["notes"]["binding"] == "deadline"
    assert not (tmp_path / "plan.png").exists()


def test_memory_infeasible_exits_3(tmp_path: Path) -> None:
    raw = hand_raw()
    for node in raw["node"]:
        node["memory_bytes"] = 1.0e3
    problem = _write(tmp_path, raw)
    result = runner.invoke(
        app, ["plan", str(problem), "--solver", "greedy", "--out", str(tmp_path / "p.json")]
    )
    _one_line(result, 3, "memory")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[target\n", ("<toml>",)),
        ('[target]\nloss = "low"\n', ("target.loss",)),
    ],
)
def test_malformed_problem_exits_2(tmp_path: Path, text: str, fragments: tuple[str, ...]) -> None:
    problem = tmp_path / "bad.toml"
    problem.write_text(text)
    result = runner.invoke(
        app, ["plan", str(problem), "--solver", "full", "--out", str(tmp_path / "p.json")]
    )
    _one_line(result, 2, "bad.toml", *fragments)
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--solver", "nope"], "--solver"),
        (["--solver", "full", "--epsilon", "0"], "--epsilon"),
        (["--solver", "full", "--out", "plan.png"], "--out"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, options: list[str], fragment: str) -> None:
    problem = _write(tmp_path, hand_raw())
    result = runner.invoke(app, ["plan", str(problem), *options])
    _one_line(result, 2, fragment)


def test_no_overwrite_without_force(tmp_path: Path) -> None:
    problem = _write(tmp_path, hand_raw())
    out = tmp_path / "plan.json"
    arguments = ["plan", str(problem), "--solver", "full", "--out", str(out)]
    assert runner.invoke(app, arguments).exit_code == 0
    before = out.read_bytes()
    _one_line(runner.invoke(app, arguments), 2, "already exists", "--force")
    assert out.read_bytes() == before
    assert runner.invoke(app, [*arguments, "--force"]).exit_code == 0


def test_a_shrunk_margin_is_said_and_the_plan_written(tmp_path: Path) -> None:
    # Feasible for the target, not for the whole margin: the plan keeps less and says so.
    from leantrain.pact import make_solver, parse_problem

    raw = hand_raw()
    fastest = make_solver("pact").solve(parse_problem(raw))
    raw["target"]["deadline_s"] = fastest.duration_s * 1.0001
    raw["curve"]["sigma"] = 0.5 * raw["target"]["loss"]
    out = tmp_path / "plan.json"
    result = runner.invoke(app, ["plan", str(_write(tmp_path, raw)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan = read_plan(out)
    kept = plan.notes["margin_kept"]
    lines = [line for line in result.stdout.splitlines() if line.startswith("margin: ")]
    assert lines == [
        f"margin: no plan reaches loss {load_problem(tmp_path / 'problem.toml').planning_loss:.6g}"
        f" (the target less 1 x sigma {raw['curve']['sigma']:.6g}) by the deadline; planned to "
        f"{plan.notes['planned_to_loss']:.6g}, keeping {kept:.3g} x sigma"
    ]
