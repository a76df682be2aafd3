"""Run configuration: pydantic models loaded from TOML
(docs/world-model.md, 'The run config (TOML)').

Every field is validated and unknown keys are rejected. :func:`load_config` turns any problem into
an :class:`~leantrain.errors.InputError` naming the file and the dotted field, which the CLI prints
as one line with exit code 2. Relative paths in a config are resolved against the config file's
directory, and data directories and trace files must exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from leantrain.errors import InputError
from leantrain.io import read_toml
from leantrain.registry import MODELS, PARTITIONERS, SOURCES, STRATEGIES, Registry

__all__ = [
    "HETEROFL_RATES",
    "ConstantTraceConfig",
    "CsvTraceConfig",
    "DataConfig",
    "DeviceClassConfig",
    "DistrealConfig",
    "DseConfig",
    "FaultConfig",
    "FleetConfig",
    "FlowerConfig",
    "HeteroflConfig",
    "LrScheduleConfig",
    "MarkovTraceConfig",
    "ModelConfig",
    "PeriodicTraceConfig",
    "RunConfig",
    "TraceConfig",
    "TrainingConfig",
    "load_config",
    "parse_config",
    "parse_mix",
]


def _registered(registry: Registry[Any]) -> AfterValidator:
    """A validator accepting the names ``registry`` knows (checked without importing them)."""

    def check(name: str) -> str:
        if name not in registry:
            raise ValueError(f"unknown {registry.kind} '{name}'; known: {', '.join(registry)}")
        return name

    return AfterValidator(check)


Fraction = Annotated[float, Field(gt=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors and values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(StrictModel):
    """Where the data comes from and how it is split across devices.

    Attributes:
        source: ``mnist`` (bundled), ``digits`` (scikit-learn), ``cifar10`` (directory of the
            python batches), ``femnist`` (LEAF json directory) or ``npz`` (a file with
            ``x_train``, ``y_train``, ``x_test``, ``y_test`` and optionally ``writer_train``).
        path: Directory or file for ``cifar10``, ``femnist`` and ``npz``.
        partition: ``iid``, ``dirichlet`` (label skew with concentration ``alpha``), ``shards``
            (``shards_per_device`` label-sorted shards each) or ``natural`` (one writer per device).
        train_limit: Use only this many training samples (a seeded random subset).
        test_limit: Evaluate on only this many test samples (a seeded random subset).
        subset_seed: The seed of the ``train_limit`` / ``test_limit`` subsets; by default the
            run's seed. Fixing it keeps the same data under several seeds, so they differ only
            in the partition, initial weights and sample orders (``digits`` keeps one split for
            the same reason).
    """

    source: Annotated[str, _registered(SOURCES)] = "mnist"
    path: Path | None = None
    partition: Annotated[str, _registered(PARTITIONERS)] = "iid"
    alpha: Positive = 0.5
    shards_per_device: Annotated[int, Field(ge=1)] = 2
    train_limit: Annotated[int, Field(ge=1)] | None = None
    test_limit: Annotated[int, Field(ge=1)] | None = None
    subset_seed: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _path_when_needed(self) -> Self:
        if self.source in ("cifar10", "femnist", "npz") and self.path is None:
            raise ValueError(f"source '{self.source}' needs 'path'")
        return self


class ModelConfig(StrictModel):
    """Which model to train: a name in :data:`~leantrain.registry.MODELS` (see
    :mod:`leantrain.nn.models`).

    Attributes:
        global_rate: The global width rate of ``heterofl-conv`` (hidden widths ⌈rate·C⌉ of
            64, 128, 256, 512); only that model takes it, and it defaults to 1 there.
    """

    name: Annotated[str, _registered(MODELS)] = "mnist-cnn"
    global_rate: Fraction | None = None

    @model_validator(mode="after")
    def _rate_of_heterofl(self) -> Self:
        if self.global_rate is not None and self.name != "heterofl-conv":
            raise ValueError(f"'global_rate' applies to heterofl-conv only, not '{self.name}'")
        return self


class ConstantTraceConfig(StrictModel):
    """a(t) = ``availability`` at all times."""

    kind: Literal["constant"] = "constant"
    availability: Fraction = 1.0


class PeriodicTraceConfig(StrictModel):
    """a(t) redrawn uniformly from [``low``, ``high``] every ``period_s`` simulated seconds."""

    kind: Literal["periodic"] = "periodic"
    period_s: Positive
    low: Fraction
    high: Fraction

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.low > self.high:
            raise ValueError("'low' must not exceed 'high'")
        return self


class MarkovTraceConfig(StrictModel):
    """a(t) follows a Markov chain over ``levels``, one transition every ``step_s`` seconds.

    Attributes:
        transition: Row-stochastic matrix; row i gives the next-level probabilities from level i.
        initial: Index of the starting level; None draws it uniformly per device.
    """

    kind: Literal["markov"] = "markov"
    levels: list[Fraction] = Field(min_length=1)
    transition: list[list[NonNegative]]
    step_s: Positive
    initial: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _stochastic(self) -> Self:
        n = len(self.levels)
        if len(self.transition) != n or any(len(row) != n for row in self.transition):
            raise ValueError(f"'transition' must be a {n}x{n} matrix")
        for i, row in enumerate(self.transition):
            if abs(sum(row) - 1.0) > 1e-9:
                raise ValueError(f"row {i} of 'transition' sums to {sum(row)}, not 1")
        if self.initial is not None and self.initial >= n:
            raise ValueError(f"'initial' must be below {n}")
        return self


class CsvTraceConfig(StrictModel):
    """a(t) replayed from a CSV file with columns ``time_s,availability`` (optionally ``device``).

    With a ``device`` column, each device replays the rows bearing its name (``<class>-<i>``), or
    the rows bearing its class name. Without one, every device of the class replays all rows.
    After the last row the trace holds its last value, or starts over when ``loop`` is true.
    """

    kind: Literal["csv"] = "csv"
    path: Path
    loop: bool = False


TraceConfig = Annotated[
    ConstantTraceConfig | PeriodicTraceConfig | MarkovTraceConfig | CsvTraceConfig,
    Field(discriminator="kind"),
]


class DeviceClassConfig(StrictModel):
    """A capability class: ``count`` identical devices named ``<name>-<i>``.

    Attributes:
        flops: Sustained training FLOP/s at full availability.
        power_w: Power while computing.
        memory_bytes: Memory available for training.
        bandwidth_bps: Link rate to the server, both ways, unless ``upload_bps`` or
            ``download_bps`` overrides one direction.
        tx_power_w: Power while uploading. ``rx_power_w``: power while downloading.
        trace: The availability trace kind and its parameters.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.]+$")
    count: Annotated[int, Field(ge=1)] = 1
    flops: Positive
    power_w: NonNegative = 1.0
    memory_bytes: Positive = 1e12
    bandwidth_bps: Positive = 1e8
    upload_bps: Positive | None = None
    download_bps: Positive | None = None
    tx_power_w: NonNegative = 0.0
    rx_power_w: NonNegative = 0.0
    trace: TraceConfig = ConstantTraceConfig()


class FleetConfig(StrictModel):
    """The simulated fleet.

    Attributes:
        classes: Capability classes; at least one.
        reference_class: The class whose device at a(t)=1 defines the default round deadline;
            None picks the median class by ``flops``.
    """

    classes: list[DeviceClassConfig] = Field(min_length=1)
    reference_class: str | None = None

    @model_validator(mode="after")
    def _names(self) -> Self:
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            raise ValueError("class names must be unique")
        if self.reference_class is not None and self.reference_class not in names:
            raise ValueError(f"reference_class '{self.reference_class}' is not a class name")
        return self


class LrScheduleConfig(StrictModel):
    """A learning-rate schedule stepped once per round (docs/world-model.md, 'Learning-rate
    schedule'): round r trains with the rate after r − 1 steps.

    Attributes:
        kind: ``multistep`` (×``gamma`` at each milestone) or ``cosine`` (cosine annealing from
            ``training.lr`` to ``min_lr`` over ``horizon`` steps, then ``min_lr``).
        milestones: Step counts after which ``multistep`` multiplies the rate by ``gamma``
            (strictly increasing).
        gamma: The ``multistep`` factor.
        horizon: The ``cosine`` horizon in steps (rounds); None means ``training.rounds``.
        min_lr: The ``cosine`` floor.
    """

    kind: Literal["multistep", "cosine"]
    milestones: list[Annotated[int, Field(ge=1)]] = []
    gamma: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1
    horizon: Annotated[int, Field(ge=1)] | None = None
    min_lr: NonNegative = 0.0

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "multistep":
            if not self.milestones:
                raise ValueError("a multistep schedule needs 'milestones'")
            if any(b <= a for a, b in zip(self.milestones, self.milestones[1:], strict=False)):
                raise ValueError("'milestones' must be strictly increasing")
        elif self.milestones:
            raise ValueError("'milestones' apply to the multistep schedule only")
        return self


class TrainingConfig(StrictModel):
    """The federated training schedule.

    Attributes:
        rounds: Number of synchronous rounds.
        devices_per_round: Devices sampled uniformly without replacement each round.
        local_epochs: Passes over the device's local data per round.
        deadline_s: Round deadline T; None derives it from the reference device's time for the
            full-model workload times ``deadline_slack``.
        round_timeout_s: How long the server waits for a device that never answers, for
            strategies without a deadline; None means 10 x the derived deadline.
        eval_every: Evaluate the global model every this many rounds (and after the last).
        accuracy_targets: Accuracies whose simulated time-to-reach the summary reports.
        lr_schedule: The per-round learning-rate schedule; None keeps ``lr`` throughout.
        clip_norm: Clip each mini-batch's gradient to this total norm before the optimiser
            step; None does not clip.
    """

    rounds: Annotated[int, Field(ge=1)] = 20
    devices_per_round: Annotated[int, Field(ge=1)] = 10
    local_epochs: Annotated[int, Field(ge=1)] = 1
    batch_size: Annotated[int, Field(ge=1)] = 32
    lr: Positive = 0.05
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    weight_decay: NonNegative = 0.0
    deadline_s: Positive | None = None
    deadline_slack: Positive = 1.0
    round_timeout_s: Positive | None = None
    eval_every: Annotated[int, Field(ge=1)] = 1
    accuracy_targets: list[Annotated[float, Field(gt=0.0, le=1.0)]] = [0.95, 0.97]
    lr_schedule: LrScheduleConfig | None = None
    clip_norm: Positive | None = None


class FaultConfig(StrictModel):
    """Injected device faults, for robustness experiments and tests.

    Attributes:
        rate: Probability that an update is faulty, drawn per (round, device) from the seed.
        kinds: Fault kinds to draw from: ``exception`` (the client raises), ``nan`` (the update
            holds NaN), ``timeout`` (the device never answers), ``hang`` (as ``timeout`` on the
            simulated clock; on the Flower engine the ClientApp really answers only after the
            server's wall-clock timeout, to exercise it; not drawn by default).
    """

    rate: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    kinds: list[Literal["exception", "nan", "timeout", "hang"]] = Field(
        default=["exception", "nan", "timeout"], min_length=1
    )


class DseConfig(StrictModel):
    """DISTREAL's design-space exploration (docs/distreal.md, 'Design-space exploration').

    Attributes:
        levels: Grid size G: each group's dropout rate is one of 0, 1/G, …, (G−1)/G.
        population: NSGA-II population size.
        generations: NSGA-II generations (the seeded first population counts as one).
        batches: S, the masked mini-batches of central training behind the proxy Q(d).
        batch_size: Mini-batch size of that training; None uses ``training.batch_size``.
        seeds: Mask/data seeds Q(d) is averaged over.
        warmup_batches: Full-model mini-batches that make the partly trained checkpoint.
        validation_samples: Held-out training samples Q(d) is measured on.
        min_keep: The floor on kept filters: a vector on the grid keeps at least this share of
            every group's channels, so rates above 1 − ``min_keep`` are left out of the search
            (docs/distreal.md, 'Design-space exploration', for the default).
    """

    levels: Annotated[int, Field(ge=2, le=64)] = 8
    population: Annotated[int, Field(ge=4)] = 16
    generations: Annotated[int, Field(ge=1)] = 8
    batches: Annotated[int, Field(ge=1)] = 20
    batch_size: Annotated[int, Field(ge=1)] | None = None
    seeds: Annotated[int, Field(ge=1)] = 2
    warmup_batches: Annotated[int, Field(ge=1)] = 100
    validation_samples: Annotated[int, Field(ge=10)] = 1000
    min_keep: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5


class DistrealConfig(StrictModel):
    """Settings of DISTREAL and of the sub-model baselines.

    Attributes:
        front: A Pareto front written by ``leantrain explore``; None runs the DSE when a run
            needs the front (and caches it next to the run).
        scale_outputs: Multiply each kept channel by C_l/k_l where it is read (inverted dropout).
        overrun: What a device does when even the cheapest front point cannot finish its work
            before the deadline: ``partial`` sends what it trained; ``drop`` discards it.
        ordered_front: As ``front``, for ``distreal-ordered`` (a front explored with ordered
            masks); None explores it.
        dse: The design-space exploration.
    """

    front: Path | None = None
    ordered_front: Path | None = None
    scale_outputs: bool = True
    overrun: Literal["partial", "drop"] = "partial"
    dse: DseConfig = DseConfig()


#: HeteroFL's width letters and their rates (docs/distreal.md, 'HeteroFL reproduction').
HETEROFL_RATES: dict[str, float] = {"a": 1.0, "b": 0.5, "c": 0.25, "d": 0.125, "e": 0.0625}


class HeteroflConfig(StrictModel):
    """Settings of the ``heterofl`` strategy (docs/distreal.md, 'HeteroFL reproduction').

    Attributes:
        mode: How each device's width is chosen: ``capability`` (from what the device can finish
            by the deadline), ``fix`` (once, by device index, from ``mix``) or ``dynamic``
            (redrawn for every device each round from ``mix``'s proportions); the last two run
            without a deadline.
        mix: Width letters a–e (rates 1, 1/2, 1/4, 1/8, 1/16) with optional integer proportions,
            joined by ``-`` (``"c-d-e"`` = ``"c1-d1-e1"``; ``"a2-e1"``); the first letter is the
            widest, the global model's width, and the client rates are relative to it.
        static_bn: Before every evaluation, recompute the BatchNorm statistics of the global
            model over the whole training set (the paper's sBN) instead of evaluating the
            aggregated ones.
        aggregation: ``samples`` (each entry weighted by the samples that trained it) or
            ``count`` (the unweighted mean over the devices that trained it).
    """

    mode: Literal["capability", "fix", "dynamic"] = "capability"
    mix: str | None = None
    static_bn: bool = False
    aggregation: Literal["samples", "count"] = "samples"

    @model_validator(mode="after")
    def _mix_when_needed(self) -> Self:
        if self.mix is not None:
            parse_mix(self.mix)
        if self.mode != "capability" and self.mix is None:
            raise ValueError(f"mode '{self.mode}' needs 'mix'")
        return self


def parse_mix(mix: str) -> list[tuple[float, int]]:
    """(rate, proportion) of each part of a HeteroFL mix such as ``"c-d-e"`` or ``"a2-e1"``.

    Raises:
        ValueError: A part is not a letter a–e with an optional positive integer, a letter
            repeats, or the first letter is not the widest.
    """
    parts: list[tuple[float, int]] = []
    letters: list[str] = []
    for part in mix.split("-"):
        letter, count = part[:1], part[1:]
        if letter not in HETEROFL_RATES or not (count == "" or count.isdigit()):
            raise ValueError(f"mix part '{part}' is not a letter a-e with an optional count")
        proportion = int(count) if count else 1
        if proportion < 1:
            raise ValueError(f"mix part '{part}' has no share")
        if letter in letters:
            raise ValueError(f"mix letter '{letter}' repeats")
        letters.append(letter)
        parts.append((HETEROFL_RATES[letter], proportion))
    if any(rate > parts[0][0] for rate, _ in parts):
        raise ValueError("the first letter of the mix must be the widest (the global model)")
    return parts


class FlowerConfig(StrictModel):
    """Settings of the ``flower`` engine (wall-clock, unlike the simulated clock of the rounds).

    Attributes:
        timeout_s: How long the server waits for a round's answers; a ClientApp that has not
            answered by then is left out of the round (reason ``no answer``).
        connect_timeout_s: How long the server waits for the SuperNodes to connect before the
            first round; devices without a SuperNode by then sit every round out.
        client_cpus: CPUs Ray reserves for each ClientApp in the simulation (how many run at
            once).
        client_threads: Torch threads in each ClientApp process.
    """

    timeout_s: Positive = 600.0
    connect_timeout_s: Positive = 120.0
    client_cpus: Positive = 1.0
    client_threads: Annotated[int, Field(ge=1)] = 1


class RunConfig(StrictModel):
    """A whole run: data, model, fleet, training schedule and strategies.

    Attributes:
        seed: The one seed every random stream is derived from.
        strategies: Strategies ``leantrain compare`` runs when ``--strategies`` is not given.
        heterofl: The ``heterofl`` settings; None means the defaults, and keeps the section out
            of the ``config.toml`` a run writes (as before the section existed).
    """

    seed: Annotated[int, Field(ge=0)] = 0
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    fleet: FleetConfig
    training: TrainingConfig = TrainingConfig()
    faults: FaultConfig = FaultConfig()
    distreal: DistrealConfig = DistrealConfig()
    heterofl: HeteroflConfig | None = None
    flower: FlowerConfig = FlowerConfig()
    strategies: list[Annotated[str, _registered(STRATEGIES)]] = Field(
        default=["fedavg", "fedavg-drop", "fedavg-partial"], min_length=1
    )

    @model_validator(mode="after")
    def _mix_fits_model(self) -> Self:
        mix = None if self.heterofl is None else self.heterofl.mix
        if mix is not None and self.model.name == "heterofl-conv":
            widest = parse_mix(mix)[0][0]
            if (self.model.global_rate or 1.0) != widest:
                raise ValueError(
                    f"heterofl.mix '{mix}' trains a global model of rate {widest}, but "
                    f"model.global_rate is {self.model.global_rate or 1.0}"
                )
        return self


def _field_path(location: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("constant", "periodic", "markov", "csv") and parts and parts[-1] == "trace":
            continue  # the discriminator tag pydantic inserts is noise to a user
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "<root>"


def parse_config(raw: dict[str, Any], source: str | Path = "<config>") -> RunConfig:
    """Validate a config mapping, resolving relative paths against ``source``'s directory.

    Raises:
        InputError: The first problem found, naming ``source`` and the field.
    """
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        raise InputError(source, _field_path(tuple(first["loc"])), message) from None
    return _resolve_paths(
        config, Path(source).parent if source != "<config>" else Path.cwd(), source
    )


def _resolve_paths(config: RunConfig, base: Path, source: str | Path) -> RunConfig:
    data = config.data
    if data.path is not None:
        path = data.path if data.path.is_absolute() else base / data.path
        if not path.exists():
            raise InputError(source, "data.path", f"does not exist: {path}")
        data = data.model_copy(update={"path": path})
    classes = []
    for index, device_class in enumerate(config.fleet.classes):
        trace = device_class.trace
        if isinstance(trace, CsvTraceConfig):
            path = trace.path if trace.path.is_absolute() else base / trace.path
            if not path.is_file():
                raise InputError(
                    source, f"fleet.classes[{index}].trace.path", f"no such file: {path}"
                )
            device_class = device_class.model_copy(
                update={"trace": trace.model_copy(update={"path": path})}
            )
        classes.append(device_class)
    fleet = config.fleet.model_copy(update={"classes": classes})
    distreal = config.distreal
    for key in ("front", "ordered_front"):
        named: Path | None = getattr(distreal, key)
        if named is not None:
            front = named if named.is_absolute() else base / named
            if not front.is_file():
                raise InputError(source, f"distreal.{key}", f"no such file: {front}")
            distreal = distreal.model_copy(update={key: front})
    return config.model_copy(update={"data": data, "fleet": fleet, "distreal": distreal})


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML run config.

    Raises:
        InputError: The file is missing, is not TOML, or holds an invalid field.
    """
    path = Path(path)
    return parse_config(read_toml(path), path)
