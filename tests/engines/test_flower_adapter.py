"""The Flower engine's server and client logic, without Ray: leantrain's ClientApp (and the
deployed ServerApp) work through an in-process grid that behaves like Flower's (replies, error
replies, silence)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import tomli_w
import torch
from flwr.app import Context, Error, Message, RecordDict
from flwr.serverapp import Grid
from flwr.supercore.task_identity import TaskIdentity

from conftest import tiny_config, tiny_raw
from leantrain.config import parse_config
from leantrain.engines import LocalExecutor
from leantrain.engines.flower import DirectLink, FlowerClientExecutor
from leantrain.engines.flower.client_app import client_app
from leantrain.engines.flower.nodes import error_text
from leantrain.engines.flower.server_app import main as server_main
from leantrain.errors import InputError
from leantrain.fl import FederatedSetup, build_setup
from leantrain.fl.run import run_strategy
from leantrain.pact import Decision, evaluate
from leantrain.pact.epoch import epoch_tasks
from leantrain.pact.execute import execute_plan
from leantrain.pact.profile import ProfileOptions, profile


class LoopbackGrid(Grid):
    """Delivers each message to leantrain's ClientApp in-process, as node ``1000 + device``.

    Nodes in ``silent`` answer queries but never a task; a ClientApp exception becomes an error
    reply, as in Flower.
    """

    def __init__(self, devices: Iterable[int], silent: Iterable[int] = ()) -> None:
        self.devices = list(devices)
        self.silent = {1000 + d for d in silent}
        self.contexts = {
            1000 + d: Context(
                run_id=1,
                node_id=1000 + d,
                node_config={"partition-id": d},
                state=RecordDict(),
                run_config={},
            )
            for d in self.devices
        }
        self.sent: list[Message] = []
        self.replies: dict[str, Message] = {}

    def set_run(self, run: object) -> None:  # type: ignore[override]
        raise NotImplementedError

    @property
    def run(self) -> object:  # type: ignore[override]
        raise NotImplementedError

    def create_message(self, *args: object, **kwargs: object) -> Message:  # type: ignore[override]
        raise NotImplementedError

    def get_node_ids(self) -> Iterable[int]:
        return list(self.contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for message in messages:
            self.sent.append(message)
            message_id = f"m{len(self.sent)}"
            message.metadata.__dict__["_message_id"] = message_id
            ids.append(message_id)
            node = message.metadata.dst_node_id
            if node in self.silent and message.metadata.message_type != "query":
                continue
            try:
                reply = client_app(message, self.contexts[node])
            except Exception as error:
                reply = Message(Error(0, f"{type(error).__name__}: {error}"), reply_to=message)
            self.replies[message_id] = reply
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [self.replies.pop(i) for i in list(message_ids) if i in self.replies]

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        raise NotImplementedError


@pytest.fixture(autouse=True)
def task_identity() -> Iterator[None]:
    """Flower stamps messages with the run's identity, which its runtime sets."""
    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 0
    yield
    TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


def _setup(**sections: dict[str, object]) -> FederatedSetup:
    sections["training"] = {"rounds": 2, **sections.get("training", {})}
    return build_setup(tiny_config(**sections))


def _global_state(directory: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(directory / "checkpoints" / "round_00002.pt", weights_only=False)
    state: dict[str, torch.Tensor] = checkpoint["global_state"]
    return state


def test_the_client_app_trains_what_the_local_engine_trains(
    tmp_path: Path, one_thread: None
) -> None:
    setup = _setup()
    grid = LoopbackGrid(range(len(setup.fleet.devices)))
    run_strategy(setup, "fedavg-partial", LocalExecutor, tmp_path / "local")
    run_strategy(
        setup,
        "fedavg-partial",
        lambda s: FlowerClientExecutor(DirectLink(grid), s),
        tmp_path / "flower",
    )
    local, flower = _global_state(tmp_path / "local"), _global_state(tmp_path / "flower")
    assert local.keys() == flower.keys()
    for key in local:
        assert torch.equal(local[key], flower[key]), key
    assert (tmp_path / "local" / "rounds.jsonl").read_text() == (
        tmp_path / "flower" / "rounds.jsonl"
    ).read_text()
    kinds = {m.metadata.message_type for m in grid.sent}
    assert kinds == {"query", "train"}
    assert all("run" in m.content.config_records for m in grid.sent)


def test_raising_silent_and_missing_clients_sit_the_round_out(
    tmp_path: Path, one_thread: None, caplog: pytest.LogCaptureFixture
) -> None:
    setup = _setup(
        training={"devices_per_round": 12},
        faults={"rate": 0.3, "kinds": ["exception", "timeout", "hang"]},
        flower={"timeout_s": 0.01, "connect_timeout_s": 0.2},
    )
    # Device 11 has no SuperNode; device 10 never answers; faults make some raise.
    grid = LoopbackGrid(range(11), silent=[10])
    with caplog.at_level(logging.WARNING, logger="leantrain.flower"):
        summary = run_strategy(
            setup, "fedavg", lambda s: FlowerClientExecutor(DirectLink(grid), s), tmp_path
        )
    assert summary.rounds == 2
    rounds = (tmp_path / "rounds.jsonl").read_text().splitlines()
    assert len(rounds) == 2
    text = "\n".join(rounds)
    assert '"slow-3": "no SuperNode"' in text
    assert "no answer within" in text
    assert "ClientAppError" in text and "InjectedFault" in text
    assert "slow-3: no SuperNode" in caplog.text
    assert "no answer within" in caplog.text
    assert "devices have no SuperNode" in caplog.text


def test_a_node_config_without_a_device_is_refused_with_a_clear_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    setup = _setup(flower={"connect_timeout_s": 0.2})
    grid = LoopbackGrid(range(3))
    grid.contexts[1001].node_config["partition-id"] = 99
    with caplog.at_level(logging.WARNING, logger="leantrain.flower"):
        executor = FlowerClientExecutor(DirectLink(grid), setup)
    assert executor.nodes.node_of == {0: 1000, 2: 1002}
    assert "InputError: SuperNode node config: partition-id: must be the index" in caplog.text
    assert "10 of 12 devices have no SuperNode" in caplog.text


def test_pact_epochs_in_the_client_app_equal_in_process_ones(one_thread: None) -> None:
    setup = _setup(flower={"timeout_s": 0.2})
    state = setup.build_model(0.5).state_dict()
    fractions = {0: 1.0, 3: 0.5, 5: 0.0, 7: 1.0}
    tasks = epoch_tasks(fractions, purpose="pact-execute", epoch=1, level=0.5)
    grid = LoopbackGrid(range(len(setup.fleet.devices)), silent=[7])
    remote = FlowerClientExecutor(DirectLink(grid), setup).run(tasks, state)
    local = LocalExecutor(setup).run(tasks, state)
    # The ClientApp built the pruned architecture from the task: its states load into it.
    assert {m.metadata.message_type for m in grid.sent} == {"query", "train"}
    assert [r.device for r in remote] == [r.device for r in local]
    for mine, theirs in zip(remote[:2], local[:2], strict=True):
        assert mine.status == theirs.status == "ok"
        assert mine.num_samples == theirs.num_samples > 0
        assert mine.state is not None and theirs.state is not None
        for key, value in theirs.state.items():
            assert torch.equal(mine.state[key], value), key
        assert mine.state["features.0.weight"].shape[0] == 8  # 16 channels pruned by half
    assert remote[2] == local[2]  # no sample: a dropped update without state, at once
    assert remote[2].status == "dropped" and remote[2].num_samples == 0
    assert remote[3].state is None and remote[3].reason.startswith("no answer")
    assert local[3].status == "ok"


def test_error_text_keeps_the_clients_own_message() -> None:
    ray_style = (
        "<class 'ray.exceptions.RayTaskError(ClientAppException)'>:<'Traceback ...\n"
        "flwr.clientapp.client_app.ClientAppException: \n"
        "Exception ClientAppException occurred. Message: InjectedFault: boom'>"
    )
    assert error_text(ray_style) == "InjectedFault: boom"
    assert error_text(None) == "unknown error"
    assert error_text("x" * 400).endswith("...")


def _server_context(**run_config: str | bool) -> Context:
    return Context(run_id=1, node_id=0, node_config={}, state=RecordDict(), run_config=run_config)


def test_the_deployed_server_app_writes_the_local_engines_run(
    tmp_path: Path, one_thread: None
) -> None:
    raw = tiny_raw(training={"rounds": 2})
    config = tmp_path / "run.toml"
    config.write_text(tomli_w.dumps(raw))
    setup = build_setup(parse_config(raw))
    grid = LoopbackGrid(range(len(setup.fleet.devices)))
    out = tmp_path / "deployed"
    server_main(grid, _server_context(config=str(config), strategy="fedavg", out=str(out)))
    run_strategy(setup, "fedavg", LocalExecutor, tmp_path / "local")
    assert (out / "rounds.jsonl").read_text() == (tmp_path / "local" / "rounds.jsonl").read_text()
    assert {"summary.json", "config.toml", "accuracy.png", "energy.png"} <= {
        p.name for p in out.iterdir()
    }
    with pytest.raises(InputError, match="holds files"):
        server_main(grid, _server_context(config=str(config), out=str(out)))
    with pytest.raises(InputError, match="config"):
        server_main(grid, _server_context(out=str(tmp_path / "x")))
    with pytest.raises(InputError, match="unknown strategy"):
        server_main(grid, _server_context(config=str(config), strategy="nope"))


def test_the_deployed_server_app_executes_a_pact_plan(tmp_path: Path, one_thread: None) -> None:
    raw = tiny_raw()
    config = tmp_path / "run.toml"
    config.write_text(tomli_w.dumps(raw))
    setup = build_setup(parse_config(raw))
    profiled = profile(setup, ProfileOptions(levels=(0.0, 0.5), epochs=5, holdout=1))
    problem = profiled.problem
    problem_path = profiled.save(tmp_path / "problem.toml")
    names = [node.name for node in problem.node]
    plan = evaluate(
        problem,
        [Decision(0, dict.fromkeys(names, 1.0)), Decision(1, dict.fromkeys(names[:6], 0.5))],
        solver="hand",
    )
    plan_path = plan.save(tmp_path / "plan.json")
    grid = LoopbackGrid(range(len(setup.fleet.devices)))
    out = tmp_path / "executed"
    server_main(
        grid,
        _server_context(
            config=str(config), plan=str(plan_path), problem=str(problem_path), out=str(out)
        ),
    )
    executed = json.loads((out / "execution.json").read_text())
    here = execute_plan(plan, problem, setup)
    assert [e["realised_loss"] for e in executed["epochs"]] == pytest.approx(
        [e.realised_loss for e in here.epochs], abs=1e-6
    )
    assert {m.metadata.message_type for m in grid.sent} == {"query", "train"}
