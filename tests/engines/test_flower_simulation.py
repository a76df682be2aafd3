"""The Flower engine on Ray: the same global model as the local engine, robust to failing and
silent ClientApps, through the CLI too. Ray starts in about 10 s, so these tests share one
simulation where they can (three starts in all)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import tomli_w
import torch
from typer.testing import CliRunner

from conftest import SMALL_DSE, TINY_RUN, tiny_config
from leantrain.cli import app
from leantrain.config import RunConfig
from leantrain.distreal import explore
from leantrain.engines import LocalExecutor
from leantrain.engines.flower import (
    FlowerEngine,
)
from leantrain.fl import FederatedSetup, build_setup
from leantrain.fl.faults import draw_fault
from leantrain.fl.run import run_strategy
from leantrain.fl.strategy import make_strategy
from leantrain.pact import Decision, evaluate
from leantrain.pact.execute import execute_plan
from leantrain.pact.profile import ProfileOptions, profile

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="class")
def engine() -> Iterator[FlowerEngine]:
    """One engine, so one Ray simulation, for the tests of a class."""
    flower = FlowerEngine()
    yield flower
    flower.close()


def _final_state(directory: Path, rounds: int = 2) -> dict[str, torch.Tensor]:
    path = directory / "checkpoints" / f"round_{rounds:05d}.pt"
    state: dict[str, torch.Tensor] = torch.load(path, weights_only=False)["global_state"]
    return state


def _assert_same_model(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].double(), b[key].double(), rtol=0.0, atol=1e-5), key


def _rounds(directory: Path) -> list[dict[str, object]]:
    lines = (directory / "rounds.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _faults_drawn(config: RunConfig, setup: FederatedSetup, rounds: Sequence[int]) -> set[str]:
    strategy = make_strategy("fedavg", setup)
    return {
        fault
        for r in rounds
        for device in strategy.select(r)
        if (fault := draw_fault(config.faults, config.seed, r, device.index)) is not None
    }


class TestOneSimulation:
    """Both runs use one engine's simulation, closed before the tests that start their own (one
    Ray simulation at a time per process)."""

    def test_fedavg_equals_the_local_engine_with_failing_and_silent_clients(
        self, engine: FlowerEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        config = tiny_config(
            training={"rounds": 2, "devices_per_round": 8},
            faults={"rate": 0.15, "kinds": ["exception", "hang"]},
            # Four ClientApps at once: one hanging ClientApp leaves three for the others. The
            # server waits 30 s of wall clock: the hanging one answers only after that, while a
            # healthy tiny update takes a few seconds even on two busy cores (at 10 s a loaded
            # machine once let a healthy client miss the wait, which no result should depend on).
            flower={"timeout_s": 30.0, "client_cpus": 0.5},
        )
        setup = build_setup(config)
        # In round 2, two devices raise and one hangs.
        assert _faults_drawn(config, setup, [1, 2]) == {"exception", "hang"}
        run_strategy(setup, "fedavg", LocalExecutor, tmp_path / "local")
        with caplog.at_level(logging.WARNING, logger="leantrain.flower"):
            run_strategy(setup, "fedavg", engine.client_executor, tmp_path / "flower")
        _assert_same_model(_final_state(tmp_path / "local"), _final_state(tmp_path / "flower"))
        local, flower = _rounds(tmp_path / "local"), _rounds(tmp_path / "flower")
        assert [r["participants"] for r in local] == [r["participants"] for r in flower]
        reasons = flower[1]["reasons"]
        raised = "exception: ClientAppError: InjectedFault: injected fault on {} in round 2"
        assert reasons == {
            "fast-2": raised.format("fast-2"),
            "mid-1": "no answer within 30 s",
            "mid-3": raised.format("mid-3"),
        }
        assert "round 2 mid-1: no answer within 30 s" in caplog.text
        assert "round 2 fast-2: InjectedFault" in caplog.text

    def test_distreal_equals_the_local_engine(self, engine: FlowerEngine, tmp_path: Path) -> None:
        front = explore(build_setup(tiny_config(distreal={"dse": SMALL_DSE})))
        path = front.save(tmp_path / "front.json")
        config = tiny_config(
            training={"rounds": 2}, distreal={"dse": SMALL_DSE, "front": str(path)}
        )
        setup = build_setup(config)
        run_strategy(setup, "distreal", LocalExecutor, tmp_path / "local")
        run_strategy(setup, "distreal", engine.client_executor, tmp_path / "flower")
        _assert_same_model(_final_state(tmp_path / "local"), _final_state(tmp_path / "flower"))
        # Each device chose its sub-models inside its ClientApp, exactly as in-process.
        local = (tmp_path / "local" / "selections.jsonl").read_text()
        assert local == (tmp_path / "flower" / "selections.jsonl").read_text()
        costs = {
            c
            for entry in map(json.loads, local.splitlines())
            for log in entry["devices"].values()
            for _, c in log
        }
        assert len(costs) > 1


def test_train_on_flower_from_the_command_line(tmp_path: Path) -> None:
    raw = {**TINY_RUN, "training": {**TINY_RUN["training"], "rounds": 2}}
    config_path = tmp_path / "run.toml"
    config_path.write_text(tomli_w.dumps(raw))
    out = tmp_path / "flower"
    result = CliRunner().invoke(
        app, ["train", str(config_path), "--engine", "flower", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    local = tmp_path / "local"
    run_strategy(build_setup(tiny_config(training={"rounds": 2})), "fedavg", LocalExecutor, local)
    names = {p.name for p in out.iterdir()}
    assert {"rounds.jsonl", "summary.json", "config.toml", "accuracy.png", "energy.png"} <= names
    _assert_same_model(_final_state(local), _final_state(out))


def test_a_pact_plan_executes_on_flower_as_in_process(tmp_path: Path) -> None:
    setup = build_setup(tiny_config())
    problem = profile(setup, ProfileOptions(levels=(0.0, 0.5), epochs=5, holdout=1)).problem
    names = [node.name for node in problem.node]
    plan = evaluate(
        problem,
        [Decision(0, dict.fromkeys(names, 1.0)), Decision(1, dict.fromkeys(names[:6], 0.5))],
        solver="hand",
    )
    here = execute_plan(plan, problem, setup)
    with (
        contextlib.closing(FlowerEngine()) as engine,
        contextlib.closing(engine.client_executor(setup)) as executor,
    ):
        there = execute_plan(plan, problem, setup, executor=executor)
    assert [e.samples for e in there.epochs] == [e.samples for e in here.epochs]
    for mine, theirs in zip(there.epochs, here.epochs, strict=True):
        assert mine.realised_loss == pytest.approx(theirs.realised_loss, abs=1e-6)
        assert mine.parameters == theirs.parameters
