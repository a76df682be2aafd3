"""The Flower engine's executors: a round's local updates and PACT's node epochs as messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from flwr.app import RecordDict
from flwr.serverapp import Grid
from torch import nn

from leantrain.engines.flower.link import GridLink
from leantrain.engines.flower.nodes import DeviceNodes, Outcome
from leantrain.engines.flower.records import (
    node_result_from_record,
    node_task_to_record,
    task_to_record,
    update_from_record,
)
from leantrain.fl import ClientExecutor, ClientTask, ClientUpdate, FederatedSetup
from leantrain.fl.client import failed_update, unanswered_update
from leantrain.pact.nodes import NodeResult, NodeTask, NodeTrainer

__all__ = ["ClientAppError", "FlowerClientExecutor", "FlowerNodeTrainer"]


class ClientAppError(RuntimeError):
    """A ClientApp raised, or sent a reply the server cannot read."""


class _OnSuperNodes:
    """Work sent to the devices' SuperNodes through ``link``, which it closes.

    Args:
        link: The way to the ServerApp's grid.
        setup: The run's setup.
    """

    def __init__(self, link: GridLink, setup: FederatedSetup) -> None:
        self.link = link
        self.setup = setup

        def connect(grid: Grid) -> DeviceNodes:
            nodes = DeviceNodes(grid, setup)
            nodes.connect()
            return nodes

        self.nodes = link.call(connect)

    def _exchange(
        self, work: Sequence[tuple[int, RecordDict]], message_type: str, group: str
    ) -> list[Outcome]:
        return self.link.call(lambda _: self.nodes.exchange(work, message_type, group))

    def close(self) -> None:
        self.link.close()


class FlowerClientExecutor(_OnSuperNodes, ClientExecutor):
    """Runs each round's local updates in the devices' ClientApps (see :class:`_OnSuperNodes`)."""

    def run(
        self, tasks: Sequence[ClientTask], global_state: Mapping[str, torch.Tensor]
    ) -> list[ClientUpdate]:
        if not tasks:
            return []
        work = [(task.device_index, task_to_record(task, global_state)) for task in tasks]
        group = f"round {tasks[0].round}"
        outcomes = self._exchange(work, "train", group)
        return [self._update(task, outcome) for task, outcome in zip(tasks, outcomes, strict=True)]

    def _update(self, task: ClientTask, outcome: Outcome) -> ClientUpdate:
        if outcome.content is None:
            if outcome.raised:
                return failed_update(self.setup, task, ClientAppError(outcome.reason))
            return unanswered_update(self.setup, task, outcome.reason)
        try:
            update = update_from_record(outcome.content)
        except (KeyError, TypeError, ValueError) as error:
            return failed_update(self.setup, task, ClientAppError(f"unreadable reply: {error}"))
        if update.device_index != task.device_index:
            wrong = ClientAppError(f"reply from device {update.device_index}")
            return failed_update(self.setup, task, wrong)
        return update


class FlowerNodeTrainer(_OnSuperNodes, NodeTrainer):
    """Runs PACT's node epochs in the devices' ClientApps (see :class:`_OnSuperNodes`)."""

    def train(self, model: nn.Module, tasks: Sequence[NodeTask]) -> list[NodeResult]:
        if not tasks:
            return []
        state = {key: value.detach() for key, value in model.state_dict().items()}
        work = [(task.device_index, node_task_to_record(task, state)) for task in tasks]
        group = f"epoch {tasks[0].epoch}"
        outcomes = self._exchange(work, "train.pact", group)
        return [self._result(task, outcome) for task, outcome in zip(tasks, outcomes, strict=True)]

    def _result(self, task: NodeTask, outcome: Outcome) -> NodeResult:
        name = self.setup.device(task.device_index).name
        if outcome.content is None:
            return NodeResult(name, 0, None, outcome.reason)
        try:
            return node_result_from_record(outcome.content)
        except (KeyError, TypeError, ValueError) as error:
            return NodeResult(name, 0, None, f"unreadable reply: {error}")
