"""Where local updates run: the seam between the round loop and an engine.

The round loop and PACT's epochs (:mod:`leantrain.pact.epoch`) only see this interface; the
in-process :class:`~leantrain.fl.inprocess.LocalExecutor` and the engines of ``leantrain.engines``
(local, Flower) implement it (docs/runtime.md, 'Engines and executors'). An executor never raises
for a client's failure: it returns a ``failed`` update.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import torch

from leantrain.fl.task import ClientTask, ClientUpdate

__all__ = ["ClientExecutor"]


class ClientExecutor(ABC):
    """Runs a round's client tasks and collects their updates."""

    @abstractmethod
    def run(
        self, tasks: Sequence[ClientTask], global_state: Mapping[str, torch.Tensor]
    ) -> list[ClientUpdate]:
        """Run every task on ``global_state``; one update per task, in task order."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release what the executor holds (processes, connections)."""
