"""The PACT problem file (docs/pact.md, 'The problem file'): fleet, model profile per pruning
level, loss predictor, target and deadline, as strictly validated pydantic models loaded from
TOML."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Annotated, Any, Literal, overload

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leantrain.errors import InputError
from leantrain.io import read_toml

__all__ = [
    "DEFAULT_MARGIN",
    "FLOOR_TOLERANCE",
    "MARGIN_CAP",
    "CurveSection",
    "ModelSection",
    "NodeSection",
    "OptionsSection",
    "Problem",
    "TargetSection",
    "load_problem",
    "parse_problem",
]

#: k of the planning margin: plans aim at ℓ* − k·σ (docs/pact.md, 'Planning margin').
DEFAULT_MARGIN = 1.0

#: Plans never aim below this share of ℓ*: a σ as large as the target says the predictor cannot
#: resolve it, and a deeper target would only buy epochs.
MARGIN_CAP = 0.5

#: Relative slack of the epoch floors' tests (docs/pact.md, 'Epoch floors'): a set's samples
#: summed in another order may differ in the last bits.
FLOOR_TOLERANCE = 1e-12

Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetSection(_Strict):
    """What the training must reach: loss ℓ* by deadline T."""

    loss: Positive
    deadline_s: Positive


class ModelSection(_Strict):
    """The model profile per pruning level ρ (ascending, first 0).

    Attributes:
        levels: Pruning ratios ρ ∈ [0, 1), strictly ascending, the first one 0.
        flops_per_sample: φ(ρ), training FLOPs per sample.
        bytes: S(ρ), model bytes sent each way per epoch.
        memory_bytes: m(ρ), training memory; a node trains only if m(ρ) ≤ its memory.
    """

    levels: list[Annotated[float, Field(ge=0.0, lt=1.0)]] = Field(min_length=1)
    flops_per_sample: list[Positive]
    bytes: list[Positive]
    memory_bytes: list[Positive]

    @model_validator(mode="after")
    def _shape(self) -> ModelSection:
        if self.levels[0] != 0.0:
            raise ValueError("levels: the first pruning level must be 0")
        if any(b <= a for a, b in itertools.pairwise(self.levels)):
            raise ValueError("levels: must be strictly ascending")
        for name in ("flops_per_sample", "bytes", "memory_bytes"):
            if len(getattr(self, name)) != len(self.levels):
                raise ValueError(f"{name}: needs one entry per level ({len(self.levels)})")
        return self


class CurveSection(_Strict):
    """The loss predictor: per level ℓ_ρ(s) = c + a·(s + s0)^(−b), and the jumps: pruning to
    level j a model whose level-0-equivalent loss is ℓ0 gives
    ℓ0 + jump[j] + jump_slope[j]·(ℓ0 − initial_loss) (J(ρi→ρj) = jump[j] − jump[i] without
    slopes; docs/pact.md, 'Loss prediction').

    Attributes:
        a, b, c, s0: Curve parameters per level (a, b > 0; c, s0 ≥ 0).
        jump: Loss added when pruning to each level a model at the initial loss,
            non-decreasing.
        jump_slope: β per level (> −1): how much the jump grows per unit of loss at pruning
            time; None is 0 everywhere. The jumps must stay non-decreasing over the levels down
            to the lowest asymptote min c as well, so that pruning further never lowers the
            loss.
        initial_loss: The loss before the first epoch, at level 0.
        family: The curves' family: ``power`` (the default, ℓ = c + a·(s + s0)^(−b)) or
            ``log-logistic`` (ℓ = c + a/(1 + (s/s0)^b), s0 > 0: a plateau at the start, a floor
            c; docs/pact.md, 'Loss prediction').
        participation: γ of the progress P(D) = N·(D/N)^γ an epoch of D effective samples makes
            (docs/pact.md, 'Participation'): one value for every level, or one per level (the
            epoch's level, after any pruning, sets its γ); 1 (the default) is P(D) = D.
        fraction_law: How a node's data fraction f enters the effective samples: "samples"
            (the default, q·f·d: a fraction acts like that share of the data) or "steps"
            (q·f^(1/γ)·d: progress linear in the fraction, the local steps of a FedAvg round;
            docs/pact.md, 'Participation'). The two agree when γ = 1.
        full_samples: N, the effective samples of a whole-fleet epoch; None uses Σ q·d over the
            problem's nodes. Only used when ``participation`` < 1.
        sigma: σ, the predictor's error on held-out points (``profile`` writes its RMSE); the
            solvers plan to ℓ* − k·σ (``options.margin`` = k; docs/pact.md, 'Planning margin').
        progress_sigma: σ_p, the standard deviation of the log of realised over predicted
            progress (``profile --margin-model progress`` writes it); the solvers plan as if
            every epoch progressed only exp(−k·σ_p) times as far (docs/pact.md, 'Planning
            margin'). 0, the default, is no such margin.
        subset_floor: κ of the subset floor (docs/pact.md, 'The subset floor'): an epoch of D
            effective samples at level ρ cannot bring the loss below c_ρ + κ_ρ·(N/D − 1); one
            value for every level or one per level; 0 (the default) is no floor.
    """

    a: list[Positive]
    b: list[Positive]
    c: list[NonNegative]
    s0: list[NonNegative]
    jump: list[NonNegative]
    jump_slope: list[Annotated[float, Field(gt=-1.0)]] | None = None
    initial_loss: Positive
    family: Literal["power", "log-logistic"] = "power"
    participation: float | list[float] = 1.0
    fraction_law: Literal["samples", "steps"] = "samples"
    full_samples: Positive | None = None
    sigma: NonNegative = 0.0
    progress_sigma: NonNegative = 0.0
    subset_floor: float | list[float] = 0.0

    def stretched(self, scale: float) -> CurveSection:
        """These curves with every epoch advancing ``scale`` times as far: ℓ′(s) = ℓ(scale·s),
        i.e. s0′ = s0/scale, and a′ = a·scale^(−b) for a power law (a log-logistic curve's s0
        is its scale; its a is not)."""
        if scale == 1.0:
            return self
        power = self.family == "power"
        return self.model_copy(
            update={
                "a": [
                    a * scale ** (-b) if power else a for a, b in zip(self.a, self.b, strict=True)
                ],
                "s0": [s0 / scale for s0 in self.s0],
            }
        )

    @model_validator(mode="after")
    def _family(self) -> CurveSection:
        if self.family == "log-logistic" and not all(s0 > 0.0 for s0 in self.s0):
            raise ValueError("s0: the log-logistic family needs every s0 > 0 (its scale)")
        return self

    @field_validator("participation")
    @classmethod
    def _gamma(cls, value: float | list[float]) -> float | list[float]:
        # Checked here rather than by a constrained type, whose error under the union would name
        # the union's member instead of the range.
        values = value if isinstance(value, list) else [value]
        if not values or not all(0.0 < gamma <= 1.0 for gamma in values):
            raise ValueError("every γ must lie in (0, 1]")
        return value

    @field_validator("subset_floor")
    @classmethod
    def _kappa(cls, value: float | list[float]) -> float | list[float]:
        values = value if isinstance(value, list) else [value]
        if not values or not all(0.0 <= kappa < math.inf for kappa in values):
            raise ValueError("every κ must be finite and at least 0")
        return value


class OptionsSection(_Strict):
    """Allowed data fractions (each node trains f·d_n samples per epoch), the epoch cap, the
    planning margin k: plans aim at ℓ* − k·σ (docs/pact.md, 'Planning margin'), and the least share
    of a whole-fleet epoch every epoch and the final one train (docs/pact.md, 'Epoch floors')."""

    data_fractions: list[Annotated[float, Field(ge=0.0, le=1.0)]] = Field(min_length=1)
    max_epochs: Annotated[int, Field(ge=1)] = 60
    margin: NonNegative = DEFAULT_MARGIN
    min_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    final_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0

    @model_validator(mode="after")
    def _fractions(self) -> OptionsSection:
        if self.data_fractions != sorted(set(self.data_fractions)):
            raise ValueError("data_fractions: must be strictly ascending")
        if not any(f > 0.0 for f in self.data_fractions):
            raise ValueError("data_fractions: needs at least one fraction above 0")
        return self


class NodeSection(_Strict):
    """One node of the fleet."""

    name: str = Field(min_length=1)
    flops: Positive
    power_w: NonNegative
    memory_bytes: Positive
    bandwidth_bps: Positive
    tx_power_w: NonNegative = 0.0
    samples: Annotated[int, Field(ge=0)]
    quality: Positive = 1.0


class Problem(_Strict):
    """A whole PACT problem."""

    target: TargetSection
    model: ModelSection
    curve: CurveSection
    options: OptionsSection
    node: list[NodeSection] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Problem:
        levels = len(self.model.levels)
        for name in ("a", "b", "c", "s0", "jump"):
            if len(getattr(self.curve, name)) != levels:
                raise ValueError(f"curve.{name}: needs one entry per level ({levels})")
        for name in ("participation", "subset_floor"):
            value = getattr(self.curve, name)
            if isinstance(value, list) and len(value) != levels:
                raise ValueError(
                    f"curve.{name}: needs one value, or one entry per level ({levels})"
                )
        jump = self.curve.jump
        if any(b < a for a, b in itertools.pairwise(jump)):
            raise ValueError("curve.jump: must be non-decreasing (pruning never lowers the loss)")
        slope = self.curve.jump_slope
        if slope is not None:
            if len(slope) != levels:
                raise ValueError(f"curve.jump_slope: needs one entry per level ({levels})")
            drop = min(self.curve.c) - self.curve.initial_loss
            low = [j + s * drop for j, s in zip(jump, slope, strict=True)]
            if any(b < a for a, b in itertools.pairwise(low)):
                raise ValueError(
                    "curve.jump_slope: the jumps at the lowest asymptote, jump + jump_slope·"
                    "(min c − initial_loss), must be non-decreasing too (pruning never lowers "
                    "the loss)"
                )
        names = [node.name for node in self.node]
        if len(set(names)) != len(names):
            raise ValueError("node: names must be unique")
        return self

    @property
    def planning_loss(self) -> float:
        """The loss the solvers plan to: ℓ* − k·σ, but not below ℓ*/2 (:data:`MARGIN_CAP`; ℓ*
        when σ = 0)."""
        if self.curve.sigma == 0.0 or self.options.margin == 0.0:
            return self.target.loss
        lowered = self.target.loss - self.options.margin * self.curve.sigma
        return max(lowered, MARGIN_CAP * self.target.loss)

    @property
    def planning_progress(self) -> float:
        """The share of the predicted progress the solvers count on: exp(−k·σ_p) (1 when
        σ_p = 0)."""
        if self.curve.progress_sigma == 0.0 or self.options.margin == 0.0:
            return 1.0
        return math.exp(-self.options.margin * self.curve.progress_sigma)

    @property
    def has_margin(self) -> bool:
        """Whether the solvers plan with a margin (k > 0 and σ or σ_p > 0)."""
        return self.options.margin > 0.0 and (
            self.curve.sigma > 0.0 or self.curve.progress_sigma > 0.0
        )

    def for_planning(self, loss: float | None = None, progress: float | None = None) -> Problem:
        """The problem the solvers search: target ``loss`` (default ℓ* − k·σ), every epoch
        advancing ``progress`` (default exp(−k·σ_p)) times as far as predicted, and no further
        margin (itself when there is no margin and nothing else is asked for)."""
        loss = self.planning_loss if loss is None else loss
        progress = self.planning_progress if progress is None else progress
        if loss == self.target.loss and progress == 1.0 and not self.has_margin:
            return self
        curve = self.curve.stretched(progress)
        return self.model_copy(
            update={
                "target": self.target.model_copy(update={"loss": loss}),
                "curve": curve.model_copy(update={"sigma": 0.0, "progress_sigma": 0.0}),
            }
        )

    @property
    def levels(self) -> list[float]:
        """The pruning levels ρ."""
        return list(self.model.levels)

    @property
    def full_samples(self) -> float:
        """N of the progress model: ``curve.full_samples``, or Σ q·d over the nodes (at least
        1, so that a fleet without data still has a scale)."""
        if self.curve.full_samples is not None:
            return self.curve.full_samples
        return max(1.0, sum(node.quality * node.samples for node in self.node))

    @property
    def epoch_samples(self) -> float:
        """The least effective samples of every epoch: ``options.min_share`` × N (docs/pact.md,
        'Epoch floors'; 0 when there is no floor)."""
        return self.options.min_share * self.full_samples

    @property
    def final_samples(self) -> float:
        """The least effective samples of a plan's final epoch: the larger of
        ``options.final_share`` and ``options.min_share``, times N (docs/pact.md,
        'Epoch floors'; 0 when there is no floor)."""
        return max(self.options.final_share, self.options.min_share) * self.full_samples

    @overload
    def epoch_floor_met(self, samples: float) -> bool: ...
    @overload
    def epoch_floor_met(self, samples: NDArray[np.float64]) -> NDArray[np.bool_]: ...
    def epoch_floor_met(self, samples: float | NDArray[np.float64]) -> bool | NDArray[np.bool_]:
        """Whether epochs of ``samples`` effective samples (a number or an array) train at least
        :attr:`epoch_samples`; the relative :data:`FLOOR_TOLERANCE` absorbs sums taken in
        another order."""
        return samples >= self.epoch_samples * (1.0 - FLOOR_TOLERANCE)

    @overload
    def final_floor_met(self, samples: float) -> bool: ...
    @overload
    def final_floor_met(self, samples: NDArray[np.float64]) -> NDArray[np.bool_]: ...
    def final_floor_met(self, samples: float | NDArray[np.float64]) -> bool | NDArray[np.bool_]:
        """Whether a final epoch of ``samples`` effective samples (a number or an array) trains
        at least :attr:`final_samples` (same tolerance)."""
        return samples >= self.final_samples * (1.0 - FLOOR_TOLERANCE)

    @property
    def gammas(self) -> list[float]:
        """γ of each level's progress model (``curve.participation``, one value or one per
        level)."""
        gamma = self.curve.participation
        return list(gamma) if isinstance(gamma, list) else [gamma] * len(self.model.levels)

    @property
    def kappas(self) -> list[float]:
        """κ of each level's subset floor (``curve.subset_floor``, one value or one per level;
        docs/pact.md, 'The subset floor')."""
        kappa = self.curve.subset_floor
        return list(kappa) if isinstance(kappa, list) else [kappa] * len(self.model.levels)

    def fraction_power(self, level: int) -> float:
        """p of a node's effective samples q·f^p·d at ``level``: 1 under ``curve.fraction_law``
        "samples", 1/γ of the level under "steps" (docs/pact.md, 'Participation')."""
        if self.curve.fraction_law == "samples":
            return 1.0
        return 1.0 / self.gammas[level]

    @property
    def fractions(self) -> list[float]:
        """The allowed data fractions above 0 (a fraction of 0 means the node does not train)."""
        return [f for f in self.options.data_fractions if f > 0.0]

    def level_index(self, pruning: float) -> int:
        """The index of pruning ratio ``pruning`` among the levels.

        Raises:
            ValueError: It is not one of the levels.
        """
        for index, level in enumerate(self.model.levels):
            if level == pruning:
                return index
        raise ValueError(f"pruning {pruning} is not one of the levels {self.model.levels}")

    def with_target(self, *, loss: float | None = None, deadline_s: float | None = None) -> Problem:
        """A copy with another loss target or deadline (for relaxations and sensitivity)."""
        update: dict[str, float] = {}
        if loss is not None:
            update["loss"] = loss
        if deadline_s is not None:
            update["deadline_s"] = deadline_s
        return self.model_copy(update={"target": self.target.model_copy(update=update)})


def _field_path(location: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in location:
        parts.append(f"[{item}]" if isinstance(item, int) else ("." if parts else "") + item)
    return "".join(parts) or "<root>"


def parse_problem(raw: dict[str, Any], source: str | Path = "<problem>") -> Problem:
    """Validate a problem mapping.

    Raises:
        InputError: The first problem found, naming ``source`` and the field.
    """
    try:
        return Problem.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        field = _field_path(tuple(first["loc"]))
        if ": " in message and field in ("model", "options", "<root>"):
            # A whole-section check names its own field first ("levels: ...").
            name, message = message.split(": ", 1)
            field = name if field == "<root>" else f"{field}.{name}"
        return _raise(source, field, message)


def _raise(source: str | Path, field: str, message: str) -> Problem:
    raise InputError(source, field, message)


def load_problem(path: str | Path) -> Problem:
    """Read and validate a PACT problem file (TOML).

    Raises:
        InputError: The file is missing, is not TOML, or holds an invalid field.
    """
    path = Path(path)
    return parse_problem(read_toml(path), path)
