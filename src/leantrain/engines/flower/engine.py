"""The ``flower`` engine: every strategy as a Flower ServerApp/ClientApp on the Ray simulation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from flwr.clientapp import ClientApp
from flwr.serverapp import Grid

from leantrain.engines.engine import Engine
from leantrain.engines.flower.client_app import client_app as leantrain_client_app
from leantrain.engines.flower.executor import FlowerClientExecutor
from leantrain.engines.flower.link import GridLink, SimulationLink
from leantrain.fl import ClientExecutor, FederatedSetup

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


class _Kept(GridLink):
    """The engine's simulation as seen by one executor: closing the executor keeps it running."""

    def __init__(self, link: GridLink) -> None:
        self.link = link

    def call(self, function: Callable[[Grid], T]) -> T:
        return self.link.call(function)


class FlowerEngine(Engine):
    """One virtual SuperNode per device of the fleet, simulated on Ray; the round loop (or the
    PACT plan) runs in this process and reaches the ClientApps through the simulation's grid.

    The simulation starts with the first executor and serves every later one with the same
    number of devices and backend settings (``compare`` starts Ray once for all its strategies);
    :meth:`close` stops it.

    Args:
        client_app: The ClientApp the SuperNodes run (leantrain's own by default).
    """

    def __init__(self, client_app: ClientApp | None = None) -> None:
        self.client_app = client_app or leantrain_client_app
        self._simulation: SimulationLink | None = None
        self._settings = ""

    def _link(self, setup: FederatedSetup) -> GridLink:
        settings = json.dumps([len(setup.fleet.devices), backend_config(setup)], sort_keys=True)
        if self._simulation is None or settings != self._settings:
            self.close()
            devices = len(setup.fleet.devices)
            self._simulation = SimulationLink(self.client_app, devices, backend_config(setup))
            self._settings = settings
        return _Kept(self._simulation)

    def client_executor(self, setup: FederatedSetup) -> ClientExecutor:
        return FlowerClientExecutor(self._link(setup), setup)

    def close(self) -> None:
        if self._simulation is not None:
            self._simulation.close()
            self._simulation = None
