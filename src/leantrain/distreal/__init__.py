"""DISTREAL (SPEC 4): per-layer random filter dropout, its design-space exploration and the
on-device selection of the dropout vector."""

from __future__ import annotations

from leantrain.distreal.dse import (
    ConvergenceProxy,
    DseProgress,
    EvaluationCache,
    explore,
    hypervolume,
    model_identity,
)
from leantrain.distreal.front import (
    Front,
    FrontPoint,
    ModelIdentity,
    dropout_grid,
    non_dominated,
    uniform_points,
)
from leantrain.distreal.plot import plot_front
from leantrain.distreal.policy import DistrealPolicy
from leantrain.distreal.strategy import Distreal, UniformDropout

__all__ = [
    "ConvergenceProxy",
    "Distreal",
    "DistrealPolicy",
    "DseProgress",
    "EvaluationCache",
    "Front",
    "FrontPoint",
    "ModelIdentity",
    "UniformDropout",
    "dropout_grid",
    "explore",
    "hypervolume",
    "model_identity",
    "non_dominated",
    "plot_front",
    "uniform_points",
]
