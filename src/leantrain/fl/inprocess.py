"""The executor that runs every client task in this process (the ``local`` engine's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from leantrain.fl.client import failed_update, run_local_update
from leantrain.fl.executor import ClientExecutor
from leantrain.fl.setup import FederatedSetup
from leantrain.fl.task import ClientTask, ClientUpdate

__all__ = ["LocalExecutor"]


class LocalExecutor(ClientExecutor):
    """Runs client tasks in-process, one after another, reusing one scratch model per
    architecture (pruning level) for all of them.

    Args:
        setup: The run's setup.
    """

    def __init__(self, setup: FederatedSetup) -> None:
        self.setup = setup
        self.models: dict[float, nn.Module] = {0.0: setup.build_model()}

    def model(self, level: float) -> nn.Module:
        """The scratch model of the architecture pruned to ``level`` (built on first use)."""
        if level not in self.models:
            self.models[level] = self.setup.build_model(level)
        return self.models[level]

    def run(
        self, tasks: Sequence[ClientTask], global_state: Mapping[str, torch.Tensor]
    ) -> list[ClientUpdate]:
        updates = []
        for task in tasks:
            try:
                model = self.model(task.model_level)
                updates.append(run_local_update(self.setup, task, global_state, model))
            except Exception as error:
                updates.append(failed_update(self.setup, task, error))
        return updates
