"""Engines: where clients run. ``local`` is embedded; ``flower`` runs on Flower."""

from __future__ import annotations

from collections.abc import Callable

from leantrain.engines.local import LocalExecutor
from leantrain.fl import ClientExecutor, FederatedSetup

__all__ = ["ENGINES", "LocalExecutor"]

#: Engine name to a factory building its executor for a setup.
ENGINES: dict[str, Callable[[FederatedSetup], ClientExecutor]] = {"local": LocalExecutor}
