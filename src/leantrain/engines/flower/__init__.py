"""The Flower engine (docs/flower.md): leantrain's strategies as a Flower ServerApp/ClientApp.

* :class:`FlowerEngine` (``--engine flower``): Flower's simulation on Ray, one virtual SuperNode
  per device; the round loop runs in the caller's process and reaches the ClientApps through the
  simulation's grid (:mod:`~leantrain.engines.flower.link`).
* :data:`~leantrain.engines.flower.client_app.client_app` and
  :data:`~leantrain.engines.flower.server_app.server_app`: the apps a real deployment starts
  with Flower's SuperLink and SuperNodes (see ``docs/flower.md``).
* :mod:`~leantrain.engines.flower.records`: leantrain's tasks and updates as Flower records.

Every name here is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leantrain.lazy import lazy_exports

if TYPE_CHECKING:
    from leantrain.engines.flower.engine import FlowerEngine, backend_config
    from leantrain.engines.flower.executor import ClientAppError, FlowerClientExecutor
    from leantrain.engines.flower.link import (
        DirectLink,
        FlowerEngineError,
        GridLink,
        SimulationLink,
    )
    from leantrain.engines.flower.nodes import DeviceNodes, Outcome
    from leantrain.engines.flower.records import (
        config_from_record,
        config_to_record,
        task_from_record,
        task_to_record,
        update_from_record,
        update_to_record,
    )

__all__ = [
    "ClientAppError",
    "DeviceNodes",
    "DirectLink",
    "FlowerClientExecutor",
    "FlowerEngine",
    "FlowerEngineError",
    "GridLink",
    "Outcome",
    "SimulationLink",
    "backend_config",
    "config_from_record",
    "config_to_record",
    "task_from_record",
    "task_to_record",
    "update_from_record",
    "update_to_record",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "engine": ["FlowerEngine", "backend_config"],
        "executor": ["ClientAppError", "FlowerClientExecutor"],
        "link": ["DirectLink", "FlowerEngineError", "GridLink", "SimulationLink"],
        "nodes": ["DeviceNodes", "Outcome"],
        "records": [
            "config_from_record",
            "config_to_record",
            "task_from_record",
            "task_to_record",
            "update_from_record",
            "update_to_record",
        ],
    },
)
