"""Engines: where clients run. ``local`` is embedded; ``flower`` runs on Flower (SPEC 6).

The Flower engine is imported on first use: Flower and Ray are heavy, and a local run needs
neither.
"""

from __future__ import annotations

from collections.abc import Callable

from leantrain.engines.engine import Engine
from leantrain.engines.local import LocalEngine, LocalExecutor

__all__ = ["ENGINES", "Engine", "LocalEngine", "LocalExecutor", "make_engine"]


def _flower() -> Engine:
    from leantrain.engines.flower import FlowerEngine

    return FlowerEngine()


#: Engine name to a function building it.
ENGINES: dict[str, Callable[[], Engine]] = {"local": LocalEngine, "flower": _flower}


def make_engine(name: str) -> Engine:
    """Build the engine ``name``.

    Raises:
        KeyError: No engine of that name.
    """
    return ENGINES[name]()
