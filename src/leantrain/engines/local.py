"""The ``local`` engine: every client runs in this process, one after another
(docs/runtime.md, 'Engines and executors')."""

from __future__ import annotations

from leantrain.engines.engine import Engine
from leantrain.fl import ClientExecutor, FederatedSetup
from leantrain.fl.inprocess import LocalExecutor

__all__ = ["LocalEngine", "LocalExecutor"]


class LocalEngine(Engine):
    """Clients (of a federated run or of a PACT epoch) run in this process."""

    def client_executor(self, setup: FederatedSetup) -> ClientExecutor:
        return LocalExecutor(setup)
