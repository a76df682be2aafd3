"""The Pareto front of dropout vectors: resource requirement R against convergence proxy Q.

A front is what the DSE hands to the devices: points (R, Q, d) sorted by R, non-dominated, always
holding d = 0 (R = 1). A device picks the point with the largest R that fits its budget
(:meth:`Front.best_within`). Fronts are saved as JSON together with the identity of the model
they were explored for, so that a front is never applied to a different network.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, with_config

from leantrain.errors import InputError
from leantrain.files import read_json_model
from leantrain.io import atomic_write_text
from leantrain.nn.groups import ChannelGroups
from leantrain.nn.submodel import SubModelCost

__all__ = [
    "FORMAT",
    "Front",
    "FrontFile",
    "FrontPoint",
    "ModelIdentity",
    "dropout_grid",
    "grid_genes",
    "non_dominated",
    "uniform_points",
]

FORMAT = "leantrain.distreal.front/1"


@dataclass(frozen=True)
class FrontPoint:
    """One dropout vector with its cost and quality.

    Attributes:
        cost: R(d), training FLOPs of the sub-network relative to the full network.
        quality: Q(d), the convergence proxy (NaN where it was not measured).
        dropout: d, one rate per channel group.
    """

    cost: float
    quality: float
    dropout: tuple[float, ...]


@with_config(ConfigDict(extra="forbid"))
@dataclass(frozen=True)
class ModelIdentity:
    """What a front is valid for: the model and its channel groups; also the ``model`` section
    of a front file (:class:`FrontFile`), validated as it is.

    Attributes:
        model: The model's registry name.
        input_shape: ``(C, H, W)`` of one sample.
        num_classes: Number of logits.
        groups: Channel group names, in order.
        channels: C_l per group.
    """

    model: str
    input_shape: tuple[int, int, int]
    num_classes: int
    groups: tuple[str, ...]
    channels: tuple[int, ...]


def dropout_grid(levels: int) -> tuple[float, ...]:
    """The rates 0, 1/G, …, (G−1)/G."""
    return tuple(index / levels for index in range(levels))


#: Tolerance of the floor test d ≤ 1 − min_keep: rates and floors such as 5/6 and 1/6 are not
#: exact in binary, and a rate on the floor must stay in the grid.
_FLOOR_TOLERANCE = 1e-9


def grid_genes(levels: int, min_keep: float = 1.0 / 64) -> int:
    """How many grid rates respect the kept-filter floor: the genes g with
    g/G ≤ 1 − ``min_keep`` (docs/distreal.md, 'Design-space exploration'); at least one (d = 0).

    The default floor (1/64, at most the smallest step of any grid) keeps the whole grid.
    """
    allowed = sum(1 for rate in dropout_grid(levels) if rate <= 1.0 - min_keep + _FLOOR_TOLERANCE)
    return max(1, allowed)


def non_dominated(points: Iterable[FrontPoint]) -> list[FrontPoint]:
    """The points no other point beats (lower or equal R and higher or equal Q, one strictly),
    sorted by R ascending, duplicates of (R, Q) kept once (the first seen)."""
    # A sweep by ascending R (ties: best Q first) keeps each point that beats every cheaper one.
    candidates = sorted(points, key=lambda p: (p.cost, -p.quality))
    front: list[FrontPoint] = []
    best_quality = -math.inf
    for point in candidates:
        if point.quality > best_quality:
            front.append(point)
            best_quality = point.quality
    return front


def uniform_points(
    groups: ChannelGroups,
    cost: SubModelCost,
    levels: int,
    quality: Sequence[float] | None = None,
    *,
    min_keep: float = 1.0 / 64,
) -> list[FrontPoint]:
    """The uniform vectors (one rate for every group) on the grid within the kept-filter floor
    ``min_keep`` (:func:`grid_genes`), by ascending R."""
    grid = dropout_grid(levels)[: grid_genes(levels, min_keep)]
    points = [
        FrontPoint(
            cost.ratio_of([rate] * len(groups)),
            math.nan if quality is None else float(quality[index]),
            tuple([rate] * len(groups)),
        )
        for index, rate in enumerate(grid)
    ]
    return sorted(points, key=lambda p: p.cost)


@dataclass(frozen=True)
class Front:
    """A Pareto front, sorted by R ascending, whose last point is d = 0 (R = 1).

    Attributes:
        identity: The model the front belongs to.
        points: The front.
        settings: How it was obtained (DSE settings, seed), for the record.
        evaluated: Every evaluated point (the archive), for plots.
        uniform: The uniform-dropout curve, for plots.
    """

    identity: ModelIdentity
    points: tuple[FrontPoint, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)
    evaluated: tuple[FrontPoint, ...] = ()
    uniform: tuple[FrontPoint, ...] = ()

    def __post_init__(self) -> None:
        if not self.points:
            raise ValueError("a front needs at least one point")
        costs = [p.cost for p in self.points]
        if costs != sorted(costs):
            raise ValueError("front points must be sorted by R")
        if any(rate != 0.0 for rate in self.points[-1].dropout):
            raise ValueError("a front must end with d = 0")

    @property
    def cheapest(self) -> FrontPoint:
        """The point with the smallest R."""
        return self.points[0]

    def best_within(self, budget: float) -> FrontPoint | None:
        """The point with the largest R ≤ ``budget`` (d = 0 when budget ≥ 1), or None."""
        if budget >= 1.0:
            return self.points[-1]
        chosen = None
        for point in self.points:
            if point.cost <= budget:
                chosen = point
            else:
                break
        return chosen

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready mapping of the front file; points are rows ``[R, Q, [d...]]``."""
        return FrontFile.of(self).model_dump()

    def save(self, path: str | Path) -> Path:
        """Write the front as JSON, atomically."""
        return atomic_write_text(Path(path), json.dumps(self.to_json(), indent=1) + "\n")

    @staticmethod
    def load(path: str | Path, expected: ModelIdentity | None = None) -> Front:
        """Read a front; check it belongs to ``expected`` when given.

        Raises:
            InputError: The file is unreadable, not a front, or made for another model.
        """
        path = Path(path)
        front = read_json_model(path, FrontFile).front(path)
        if expected is not None and front.identity != expected:
            raise InputError(
                path,
                "model",
                f"front was explored for {front.identity.model} with groups "
                f"{list(front.identity.channels)}, not {expected.model} with "
                f"{list(expected.channels)}",
            )
        return front


#: One point as a JSON row: ``[R, Q or null, [d...]]``.
PointRow = tuple[float, float | None, list[float]]


class FrontFile(BaseModel):
    """A front file (docs/distreal.md, 'DISTREAL'): written by :meth:`Front.save`, read by
    :meth:`Front.load`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["leantrain.distreal.front/1"]
    model: ModelIdentity
    settings: dict[str, Any] = {}
    points: list[PointRow]
    uniform: list[PointRow] = []
    evaluated: list[PointRow] = []

    @staticmethod
    def of(front: Front) -> FrontFile:
        """The file form of ``front`` (NaN qualities become null)."""

        def rows(points: Sequence[FrontPoint]) -> list[PointRow]:
            return [(p.cost, _json_float(p.quality), list(p.dropout)) for p in points]

        return FrontFile(
            format=FORMAT,
            model=front.identity,
            settings=dict(front.settings),
            points=rows(front.points),
            uniform=rows(front.uniform),
            evaluated=rows(front.evaluated),
        )

    def front(self, path: Path) -> Front:
        """The :class:`Front` this file holds.

        Raises:
            InputError: A dropout vector does not match the groups, or the points do not form
                a front (unsorted, or not ending with d = 0).
        """
        width = len(self.model.groups)
        sections = (
            ("points", self.points),
            ("uniform", self.uniform),
            ("evaluated", self.evaluated),
        )
        for name, rows in sections:
            for index, row in enumerate(rows):
                if len(row[2]) != width:
                    raise InputError(
                        path, f"{name}[{index}]", f"the dropout vector needs {width} rates"
                    )
        try:
            return Front(
                self.model,
                _points(self.points),
                dict(self.settings),
                _points(self.evaluated),
                _points(self.uniform),
            )
        except ValueError as error:
            raise InputError(path, "points", str(error)) from None


def _points(rows: Sequence[PointRow]) -> tuple[FrontPoint, ...]:
    return tuple(
        FrontPoint(cost, math.nan if quality is None else quality, tuple(dropout))
        for cost, quality, dropout in rows
    )


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else value
