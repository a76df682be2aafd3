"""The engine interface: where a run's client work happens."""

from __future__ import annotations

from abc import ABC, abstractmethod

from leantrain.fl import ClientExecutor, FederatedSetup

__all__ = ["Engine"]


class Engine(ABC):
    """Builds the executors that run a setup's client work.

    One executor kind serves every flow: a federated run's local updates (``train``,
    ``compare``) and a PACT plan's epochs (``execute``, whose tasks select samples and a pruning
    level, :class:`~leantrain.fl.task.SampleSelection`). The caller closes what it gets, and the
    engine when it is done with it.
    """

    @abstractmethod
    def client_executor(self, setup: FederatedSetup) -> ClientExecutor:
        """An executor for the client tasks of a run on ``setup``."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release what the engine keeps across executors (a running simulation)."""
