"""The engine interface: where a run's client work happens."""

from __future__ import annotations

from abc import ABC, abstractmethod

from leantrain.fl import ClientExecutor, FederatedSetup
from leantrain.pact.nodes import NodeTrainer

__all__ = ["Engine"]


class Engine(ABC):
    """Builds the executors that run a setup's client work.

    A federated run (``train``, ``compare``) needs a :class:`~leantrain.fl.ClientExecutor` for its
    local updates; a PACT plan (``execute``) a :class:`~leantrain.pact.nodes.NodeTrainer` for its
    nodes' local epochs. The caller closes what it gets, and the engine when it is done with it.
    """

    @abstractmethod
    def client_executor(self, setup: FederatedSetup) -> ClientExecutor:
        """An executor for the local updates of a federated run on ``setup``."""

    @abstractmethod
    def node_trainer(self, setup: FederatedSetup) -> NodeTrainer:
        """A trainer for the nodes' local epochs of a PACT plan on ``setup``."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release what the engine keeps across executors (a running simulation)."""
