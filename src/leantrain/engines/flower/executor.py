"""The Flower engine's executor: a round's client tasks (an FL round's local updates, or a PACT
epoch's passes) as messages to the devices' SuperNodes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from flwr.serverapp import Grid

from leantrain.engines.flower.link import GridLink
from leantrain.engines.flower.nodes import DeviceNodes, Outcome
from leantrain.engines.flower.records import task_to_record, update_from_record
from leantrain.fl import ClientExecutor, ClientTask, ClientUpdate, FederatedSetup
from leantrain.fl.client import failed_update, unanswered_update

__all__ = ["ClientAppError", "FlowerClientExecutor"]


class ClientAppError(RuntimeError):
    """A ClientApp raised, or sent a reply the server cannot read."""


class FlowerClientExecutor(ClientExecutor):
    """Runs each round's client tasks in the devices' ClientApps, through ``link``, which it
    closes.

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

    def run(
        self, tasks: Sequence[ClientTask], global_state: Mapping[str, torch.Tensor]
    ) -> list[ClientUpdate]:
        if not tasks:
            return []
        work = [(task.device_index, task_to_record(task, global_state)) for task in tasks]
        group = f"round {tasks[0].round}"
        outcomes = self.link.call(lambda _: self.nodes.exchange(work, "train", group))
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

    def close(self) -> None:
        self.link.close()
