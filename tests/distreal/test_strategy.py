"""The ``distreal`` and ``uniform`` strategies end to end on the tiny digits fleet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SMALL_DSE, tiny_config
from leantrain.config import RunConfig
from leantrain.distreal import Front, explore
from leantrain.engines import LocalExecutor
from leantrain.fl import build_setup
from leantrain.fl.run import run_strategy
from leantrain.fl.strategy import make_strategy


def _config(**distreal: object) -> RunConfig:
    return tiny_config(distreal={"dse": SMALL_DSE, **distreal})


def test_distreal_explores_keeps_its_front_and_trains_sub_models(tmp_path: Path) -> None:
    setup = build_setup(_config())
    summary = run_strategy(setup, "distreal", LocalExecutor, tmp_path)
    front = Front.load(tmp_path / "front.json")
    assert (tmp_path / "front.png").is_file()
    assert front.points[-1].cost == 1.0
    records = [json.loads(line) for line in (tmp_path / "rounds.jsonl").read_text().splitlines()]
    assert summary.final_accuracy is not None and summary.final_accuracy > 0.15
    assert any(r["extra"]["mean_cost_ratio"] < 1.0 for r in records)
    logged = [json.loads(line) for line in (tmp_path / "selections.jsonl").read_text().splitlines()]
    costs = {round(c, 9) for entry in logged for log in entry["devices"].values() for _, c in log}
    front_costs = {round(p.cost, 9) for p in front.points}
    assert costs <= front_costs, "devices only train front points"
    assert len(costs) > 1, "availability and speed differences must lead to different choices"


def test_a_configured_front_is_used_and_checked(tmp_path: Path) -> None:
    setup = build_setup(_config())
    front = explore(setup)
    path = front.save(tmp_path / "given.json")
    strategy = make_strategy("distreal", build_setup(_config(front=str(path))))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    strategy.prepare(run_dir)
    assert Front.load(run_dir / "front.json").points == front.points
    instruction = strategy.instruct(1, setup.fleet.devices[0], 0.0)
    assert instruction.policy == "distreal"
    assert [row[0] for row in instruction.options["front"]] == [p.cost for p in front.points]


def test_uniform_trains_only_the_uniform_vectors(tmp_path: Path) -> None:
    setup = build_setup(_config())
    strategy = make_strategy("uniform", setup)
    rows = strategy.instruct(1, setup.fleet.devices[0], 0.0).options["front"]
    # The grid of 4 levels stops at the default kept-filter floor (min_keep 0.5): no 0.75.
    assert [row[1] for row in rows] == [[r, r] for r in (0.5, 0.25, 0.0)]
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)
    summary = run_strategy(setup, "uniform", LocalExecutor, tmp_path)
    records = [json.loads(line) for line in (tmp_path / "rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in records] == [1, 2, 3]
    assert summary.final_accuracy == records[-1]["accuracy"]
    # Devices train only the uniform vectors, and slow or busy ones train smaller sub-models.
    logged = [json.loads(line) for line in (tmp_path / "selections.jsonl").read_text().splitlines()]
    costs = {round(c, 9) for entry in logged for log in entry["devices"].values() for _, c in log}
    assert costs <= {round(row[0], 9) for row in rows}
    assert any(cost < 1.0 for cost in costs)
    assert any(r["extra"]["mean_cost_ratio"] < 1.0 for r in records)


def test_same_seed_same_distreal_rounds(tmp_path: Path) -> None:
    setup = build_setup(_config())
    front = explore(setup).save(tmp_path / "front.json")
    lines = []
    for name in ("a", "b"):
        setup = build_setup(_config(front=str(front)))
        run_strategy(setup, "distreal", LocalExecutor, tmp_path / name)
        lines.append((tmp_path / name / "rounds.jsonl").read_text())
        lines.append((tmp_path / name / "selections.jsonl").read_text())
    assert lines[0] == lines[2] and lines[1] == lines[3]


@pytest.mark.parametrize("overrun", ["partial", "drop"])
def test_overrun_policy_reaches_the_devices(overrun: str) -> None:
    setup = build_setup(_config(overrun=overrun))
    strategy = make_strategy("uniform", setup)
    assert strategy.instruct(1, setup.fleet.devices[0], 0.0).options["overrun"] == overrun
