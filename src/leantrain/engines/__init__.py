"""Engines: where clients run (docs/flower.md). ``local`` is embedded; ``flower`` runs on Flower.

Engines are found by name through :data:`ENGINES` (:mod:`leantrain.registry`): Flower and Ray
are imported only when the ``flower`` engine is built, and torch only when an engine is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leantrain.lazy import lazy_exports
from leantrain.registry import ENGINES

if TYPE_CHECKING:
    from leantrain.engines.engine import Engine
    from leantrain.engines.local import LocalEngine, LocalExecutor

__all__ = ["ENGINES", "Engine", "LocalEngine", "LocalExecutor", "make_engine"]

__getattr__, __dir__ = lazy_exports(
    __name__, {"engine": ("Engine",), "local": ("LocalEngine", "LocalExecutor")}
)


def make_engine(name: str) -> Engine:
    """Build the engine registered as ``name`` in :data:`ENGINES`.

    Raises:
        UnknownNameError: No engine of that name (a KeyError; the message lists the known ones).
    """
    return ENGINES.get(name)()
