"""DISTREAL (docs/distreal.md): per-layer random filter dropout, its design-space exploration
and the on-device selection of the dropout vector; every name is imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leantrain.lazy import lazy_exports

if TYPE_CHECKING:
    from leantrain.distreal.cache import EvaluationCache
    from leantrain.distreal.dse import DseProgress, explore, model_identity
    from leantrain.distreal.front import (
        Front,
        FrontPoint,
        ModelIdentity,
        dropout_grid,
        grid_genes,
        non_dominated,
        uniform_points,
    )
    from leantrain.distreal.hypervolume import hypervolume
    from leantrain.distreal.plot import plot_front
    from leantrain.distreal.policy import DistrealPolicy
    from leantrain.distreal.pool import ProxyPool
    from leantrain.distreal.proxy import ConvergenceProxy
    from leantrain.distreal.strategy import Distreal, DistrealOrdered, UniformDropout

__all__ = [
    "ConvergenceProxy",
    "Distreal",
    "DistrealOrdered",
    "DistrealPolicy",
    "DseProgress",
    "EvaluationCache",
    "Front",
    "FrontPoint",
    "ModelIdentity",
    "ProxyPool",
    "UniformDropout",
    "dropout_grid",
    "explore",
    "grid_genes",
    "hypervolume",
    "model_identity",
    "non_dominated",
    "plot_front",
    "uniform_points",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "cache": ["EvaluationCache"],
        "dse": ["DseProgress", "explore", "model_identity"],
        "front": [
            "Front",
            "FrontPoint",
            "ModelIdentity",
            "dropout_grid",
            "grid_genes",
            "non_dominated",
            "uniform_points",
        ],
        "hypervolume": ["hypervolume"],
        "plot": ["plot_front"],
        "policy": ["DistrealPolicy"],
        "pool": ["ProxyPool"],
        "proxy": ["ConvergenceProxy"],
        "strategy": ["Distreal", "DistrealOrdered", "UniformDropout"],
    },
)
