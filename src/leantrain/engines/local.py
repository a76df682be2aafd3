"""The ``local`` engine: every client runs in this process, one after another (SPEC 6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from leantrain.engines.engine import Engine
from leantrain.fl import ClientExecutor, ClientTask, ClientUpdate, FederatedSetup
from leantrain.fl.client import failed_update, run_local_update
from leantrain.pact.nodes import NodeTrainer
from leantrain.pact.profile import InProcessNodeTrainer

__all__ = ["LocalEngine", "LocalExecutor"]


class LocalExecutor(ClientExecutor):
    """Runs local updates in-process, reusing one scratch model for all of them.

    Args:
        setup: The run's setup.
    """

    def __init__(self, setup: FederatedSetup) -> None:
        self.setup = setup
        self.model = setup.build_model()

    def run(
        self, tasks: Sequence[ClientTask], global_state: Mapping[str, torch.Tensor]
    ) -> list[ClientUpdate]:
        updates = []
        for task in tasks:
            try:
                updates.append(run_local_update(self.setup, task, global_state, self.model))
            except Exception as error:
                updates.append(failed_update(self.setup, task, error))
        return updates


class LocalEngine(Engine):
    """Clients and PACT nodes run in this process."""

    def client_executor(self, setup: FederatedSetup) -> ClientExecutor:
        return LocalExecutor(setup)

    def node_trainer(self, setup: FederatedSetup) -> NodeTrainer:
        return InProcessNodeTrainer(setup)
