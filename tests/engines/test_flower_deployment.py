"""A real Flower deployment on loopback: one SuperLink, two SuperNodes (one per device), leantrain's
ServerApp and ClientApp started by Flower's own commands, as docs/flower.md describes; and the
deployed ServerApp's PACT flow through the in-process grid of ``test_flower_adapter``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tomli_w
import torch
from test_flower_adapter import LoopbackGrid, _server_context, task_identity  # noqa: F401

from conftest import tiny_raw
from leantrain.config import parse_config
from leantrain.engines import LocalExecutor
from leantrain.engines.flower.server_app import main as server_main
from leantrain.fl import build_setup
from leantrain.fl.run import run_strategy
from leantrain.pact import Decision, evaluate, load_problem
from leantrain.pact.dp import PactSolver
from leantrain.pact.execute import execute_plan
from leantrain.pact.profile import ProfileOptions, profile
from leantrain.registry import SOLVERS

BIN = Path(sys.executable).parent
APP = Path(__file__).resolve().parents[2] / "deploy" / "flower"
Flwr = Callable[..., subprocess.CompletedProcess[str]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_healthy(port: int, processes: list[subprocess.Popen[bytes]], seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert all(p.poll() is None for p in processes), "a Flower process died at start-up"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing healthy on port {port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a daemon and the processes it started (its own session)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
            os.killpg(process.pid, signal.SIGKILL)  # leftover children of the group
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass
    process.wait()


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Flwr]:
    link, node_ports = _free_port(), [_free_port(), _free_port()]
    home = tmp_path / "flwr-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "loopback"\n\n[superlink.loopback]\n'
        f'address = "127.0.0.1:{link}"\ninsecure = true\n'
    )
    env = {
        **os.environ,
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_HOME": str(home),
        "HOME": str(tmp_path),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    processes: list[subprocess.Popen[bytes]] = []

    def start(log: str, *command: str) -> None:
        with (tmp_path / log).open("wb") as output:
            processes.append(
                subprocess.Popen(
                    [str(BIN / command[0]), *command[1:]],
                    env=env,
                    cwd=tmp_path,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    try:
        start(
            "superlink.log",
            "flower-superlink",
            "--insecure",
            "--host=127.0.0.1",
            f"--port={link}",
            "--disable-runtime-dependency-installation",
        )
        _wait_healthy(link, processes)
        for device, port in enumerate(node_ports):
            start(
                f"supernode-{device}.log",
                "flower-supernode",
                "--insecure",
                f"--superlink=127.0.0.1:{link}",
                f"--node-config=partition-id={device}",
                "--host=127.0.0.1",
                f"--port={port}",
            )
        for port in node_ports:
            _wait_healthy(port, processes)

        def flwr(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(BIN / "flwr"), *args],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )

        yield flwr
    finally:
        for process in reversed(processes):
            _stop(process)


def test_two_supernodes_train_like_the_local_engine(
    deployment: Flwr, tmp_path: Path, one_thread: None
) -> None:
    raw = tiny_raw(
        training={"rounds": 2, "devices_per_round": 2},
        fleet={"classes": [{"name": "edge", "count": 2, "flops": 4.0e8, "power_w": 5.0}]},
        flower={"timeout_s": 120.0},
    )
    config = tmp_path / "run.toml"
    config.write_text(tomli_w.dumps(raw))
    out = tmp_path / "deployed"
    submitted = deployment(
        "run",
        str(APP),
        "loopback",
        "--run-config",
        f'config="{config}" out="{out}"',
        "--format",
        "json",
    )
    run_id = str(json.loads(submitted.stdout)["run-id"])
    end = time.monotonic() + 240
    while True:
        listed = deployment("ls", "loopback", "--run-id", run_id, "--format", "json")
        run = json.loads(listed.stdout)["runs"][0]
        if run["status"].startswith("finished") or time.monotonic() > end:
            break
        time.sleep(1.0)
    if run["status"] != "finished:completed":
        log = deployment("log", run_id, "loopback", "--show").stdout
        pytest.fail(f"{run['status']}: {run.get('status-details')}\n{log}")

    rounds = [json.loads(line) for line in (out / "rounds.jsonl").read_text().splitlines()]
    assert [r["participants"] for r in rounds] == [["edge-0", "edge-1"]] * 2
    assert {"summary.json", "config.toml", "accuracy.png", "energy.png"} <= {
        p.name for p in out.iterdir()
    }
    local = tmp_path / "local"
    run_strategy(build_setup(parse_config(raw)), "fedavg", LocalExecutor, local)
    checkpoint = "checkpoints/round_00002.pt"
    mine = torch.load(out / checkpoint, weights_only=False)["global_state"]
    theirs = torch.load(local / checkpoint, weights_only=False)["global_state"]
    for key, value in theirs.items():
        assert torch.allclose(mine[key].double(), value.double(), rtol=0.0, atol=1e-5), key


@pytest.mark.usefixtures("task_identity")
def test_the_deployed_server_app_replans_at_the_plans_epsilon(
    tmp_path: Path, one_thread: None
) -> None:
    # The ServerApp used to re-plan at the default ε whatever ε the plan was made with.
    raw = tiny_raw()
    config = tmp_path / "run.toml"
    config.write_text(tomli_w.dumps(raw))
    setup = build_setup(parse_config(raw))
    profiled = profile(setup, ProfileOptions(levels=(0.0, 0.5), epochs=5, holdout=1))
    problem_path = profiled.save(tmp_path / "problem.toml")
    problem = load_problem(problem_path)
    names = [node.name for node in problem.node]
    plan = evaluate(
        problem,
        [Decision(0, dict.fromkeys(names[:3], 0.5)), Decision(0, dict.fromkeys(names[:3], 0.5))],
        solver="hand",
        epsilon=0.2,
    )
    assert plan.epochs[0].loss_after > problem.target.loss  # so that the server re-plans
    plan_path = plan.save(tmp_path / "plan.json")
    built: list[float] = []

    class Recording(PactSolver):
        """``pact``, noting the ε of every solver built."""

        def __init__(self, epsilon: float) -> None:
            built.append(epsilon)
            super().__init__(epsilon)

    out = tmp_path / "executed"
    SOLVERS.unregister("pact")
    SOLVERS.register("pact", Recording)
    try:
        server_main(
            LoopbackGrid(range(len(setup.fleet.devices))),
            _server_context(
                config=str(config),
                plan=str(plan_path),
                problem=str(problem_path),
                out=str(out),
                replan=True,
            ),
        )
        assert built and set(built) == {0.2}
        built.clear()
        here = execute_plan(plan, problem, setup, replan=True, epsilon=0.2)
    finally:
        SOLVERS.unregister("pact")
        SOLVERS.register("pact", "leantrain.pact.dp:PactSolver")
    executed = json.loads((out / "execution.json").read_text())
    assert [e["nodes"] for e in executed["epochs"]] == [e.nodes for e in here.epochs]
    # Float32 training in the ClientApps and here differ only in summation order: 1e-6 is
    # far below the spread between distinct plans' losses (> 1e-3 on this data).
    assert [e["realised_loss"] for e in executed["epochs"]] == pytest.approx(
        [e.realised_loss for e in here.epochs], abs=1e-6
    )
