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
from typing import Any

from leantrain.errors import InputError
from leantrain.io import atomic_write_text
from leantrain.nn.groups import ChannelGroups
from leantrain.nn.submodel import SubModelCost

__all__ = [
    "Front",
    "FrontPoint",
    "ModelIdentity",
    "dropout_grid",
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


@dataclass(frozen=True)
class ModelIdentity:
    """What a front is valid for: the model and its channel groups.

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

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "groups": list(self.groups),
            "channels": list(self.channels),
        }

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> ModelIdentity:
        """Inverse of :meth:`to_json`."""
        shape = tuple(int(v) for v in raw["input_shape"])
        if len(shape) != 3:
            raise ValueError("input_shape must have three entries")
        return ModelIdentity(
            model=str(raw["model"]),
            input_shape=(shape[0], shape[1], shape[2]),
            num_classes=int(raw["num_classes"]),
            groups=tuple(str(v) for v in raw["groups"]),
            channels=tuple(int(v) for v in raw["channels"]),
        )


def dropout_grid(levels: int) -> tuple[float, ...]:
    """The rates 0, 1/G, …, (G−1)/G."""
    return tuple(index / levels for index in range(levels))


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
    groups: ChannelGroups, cost: SubModelCost, levels: int, quality: Sequence[float] | None = None
) -> list[FrontPoint]:
    """The uniform vectors (one rate for every group) on the grid, by ascending R."""
    grid = dropout_grid(levels)
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
        """A JSON-ready mapping; points are rows ``[R, Q, [d...]]``."""

        def rows(points: Sequence[FrontPoint]) -> list[list[Any]]:
            return [[p.cost, _json_float(p.quality), list(p.dropout)] for p in points]

        return {
            "format": FORMAT,
            "model": self.identity.to_json(),
            "settings": dict(self.settings),
            "points": rows(self.points),
            "uniform": rows(self.uniform),
            "evaluated": rows(self.evaluated),
        }

    def save(self, path: str | Path) -> Path:
        """Write the front as JSON, atomically."""
        return atomic_write_text(Path(path), json.dumps(self.to_json(), indent=1) + "\n")

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> Front:
        """Inverse of :meth:`to_json`.

        Raises:
            ValueError, KeyError, TypeError: The mapping is not a front.
        """
        if raw.get("format") != FORMAT:
            raise ValueError(f"not a leantrain front (format should be {FORMAT!r})")

        def points(rows: Sequence[Any]) -> tuple[FrontPoint, ...]:
            return tuple(
                FrontPoint(
                    float(r[0]),
                    math.nan if r[1] is None else float(r[1]),
                    tuple(float(v) for v in r[2]),
                )
                for r in rows
            )

        identity = ModelIdentity.from_json(raw["model"])
        front = Front(
            identity,
            points(raw["points"]),
            dict(raw.get("settings", {})),
            points(raw.get("evaluated", [])),
            points(raw.get("uniform", [])),
        )
        for point in (*front.points, *front.uniform, *front.evaluated):
            if len(point.dropout) != len(identity.groups):
                raise ValueError("a dropout vector's length differs from the number of groups")
        return front

    @staticmethod
    def load(path: str | Path, expected: ModelIdentity | None = None) -> Front:
        """Read a front; check it belongs to ``expected`` when given.

        Raises:
            InputError: The file is unreadable, not a front, or made for another model.
        """
        path = Path(path)
        try:
            front = Front.from_json(json.loads(path.read_text(encoding="utf-8")))
        except OSError as error:
            raise InputError(path, "<file>", f"cannot read: {error.strerror}") from None
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise InputError(path, "<front>", f"not a valid front: {error}") from None
        if expected is not None and front.identity != expected:
            raise InputError(
                path,
                "model",
                f"front was explored for {front.identity.model} with groups "
                f"{list(front.identity.channels)}, not {expected.model} with "
                f"{list(expected.channels)}",
            )
        return front


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else value
