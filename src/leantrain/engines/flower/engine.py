"""The ``flower`` engine: every strategy as a Flower ServerApp/ClientApp on the Ray simulation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flwr.clientapp import ClientApp

from leantrain.engines.engine import Engine
from leantrain.engines.flower.client_app import client_app as leantrain_client_app
from leantrain.engines.flower.executor import FlowerClientExecutor, FlowerNodeTrainer
from leantrain.engines.flower.link import GridLink, SimulationLink
from leantrain.fl import ClientExecutor, FederatedSetup
from leantrain.pact.nodes import NodeTrainer

__all__ = ["FlowerEngine", "backend_config"]

T = TypeVar("T")


def backend_config(setup: FederatedSetup) -> dict[str, Any]:
    """Flower's Ray backend settings for a run: Ray on loopback, no dashboard, the configured
    CPUs per ClientApp, no GPU."""
    return {
        "init_args": {
            "_node_ip_address": "127.0.0.1",
            "include_dashboard": False,
            "log_to_driver": False,
        },
        "client_resources": {"num_cpus": setup.config.flower.client_cpus, "num_gpus": 0.0},
    }


class FlowerEngine(Engine):
    """One virtual SuperNode per device of the fleet, simulated on Ray; the round loop (or the
    PACT plan) runs in this process and reaches the ClientApps through the simulation's grid.

    Args:
        client_app: The ClientApp the SuperNodes run (leantrain's own by default).
    """

    def __init__(self, client_app: ClientApp | None = None) -> None:
        self.client_app = client_app or leantrain_client_app

    def _on_simulation(
        self, setup: FederatedSetup, build: Callable[[GridLink, FederatedSetup], T]
    ) -> T:
        """``build(link, setup)`` on a new simulation, which is stopped if that fails."""
        link = SimulationLink(self.client_app, len(setup.fleet.devices), backend_config(setup))
        try:
            return build(link, setup)
        except BaseException:
            link.close()
            raise

    def client_executor(self, setup: FederatedSetup) -> ClientExecutor:
        return self._on_simulation(setup, FlowerClientExecutor)

    def node_trainer(self, setup: FederatedSetup) -> NodeTrainer:
        return self._on_simulation(setup, FlowerNodeTrainer)
