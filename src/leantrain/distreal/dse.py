"""DISTREAL's design-space exploration (SPEC 4): NSGA-II over dropout vectors.

Every channel group l gets a dropout rate d_l = g_l / G from an integer gene g_l ∈ {0, …, G−1}.
Two objectives are traded off:

* the resource requirement R(d), training FLOPs of the sub-network relative to the full network
  (:class:`~leantrain.nn.submodel.SubModelCost`, exact and cheap), minimised;
* the convergence proxy Q(d), maximised: the full model's accuracy on a held-out validation subset
  of the training set after S mini-batches of central training in which each mini-batch trains a
  fresh random subset of k_l channels per group (the sliced sub-network step, which equals the
  masked step), starting from fixed checkpoints: the initial model, and the initial model after
  ``warmup_batches`` full-model mini-batches. Q is averaged over both checkpoints and ``seeds``
  seeds. The data order of seed s is the same for every candidate, and so is the random channel
  subset of group l in mini-batch b for a given k_l, so candidates differ only by their rates.

NSGA-II (pymoo) starts from all uniform vectors (padded with seeded random vectors up to the
population) and every evaluation goes through a cache, so no vector is trained twice; an optional
JSON file keeps the cache across runs, keyed by a fingerprint of everything Q depends on. The
front is the non-dominated set of everything evaluated (the archive), sorted by R, and always ends
with d = 0 (R = 1).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn

from leantrain.config import DseConfig
from leantrain.distreal.front import (
    Front,
    FrontPoint,
    ModelIdentity,
    dropout_grid,
    non_dominated,
    uniform_points,
)
from leantrain.errors import InputError
from leantrain.io import atomic_write_text
from leantrain.nn.groups import ChannelGroups, UnsupportedModelError, channel_groups
from leantrain.nn.submodel import Keep, SlicedTrainer, SubModelCost
from leantrain.seeding import numpy_rng, stream_seed, torch_generator

if TYPE_CHECKING:
    from leantrain.fl.setup import FederatedSetup

__all__ = [
    "ConvergenceProxy",
    "DseProgress",
    "EvaluationCache",
    "explore",
    "hypervolume",
    "model_identity",
]

#: Version of the definition of Q; part of every cache fingerprint (bump when Q changes).
PROXY_VERSION = "leantrain.distreal.proxy/1"
CACHE_FORMAT = "leantrain.distreal.dse-cache/1"

#: Evaluation batch size of the validation pass (memory only; results do not depend on it).
_EVAL_BATCH = 256

Genes = tuple[int, ...]


@dataclass(frozen=True)
class DseProgress:
    """Where an exploration stands, reported after each computed Q(d) and each generation.

    Attributes:
        event: ``"evaluation"`` after a Q(d) was computed (not for cache hits), ``"generation"``
            after a whole NSGA-II generation (generation 0: the uniform vectors).
        generation: Generations completed (the seeded first population is generation 1).
        generations: Generations in total.
        evaluations: Distinct vectors evaluated so far (the archive's size).
        computed: Of those, the ones trained in this run (the rest came from the cache).
    """

    event: Literal["evaluation", "generation"]
    generation: int
    generations: int
    evaluations: int
    computed: int


ProgressCallback = Callable[[DseProgress], None]


def model_identity(setup: FederatedSetup, groups: ChannelGroups | None = None) -> ModelIdentity:
    """The identity a front explored for ``setup``'s model carries.

    Args:
        setup: The run's setup.
        groups: The model's channel groups, when already known.
    """
    train = setup.data.train
    if groups is None:
        groups = channel_groups(setup.build_model(), train.input_shape)
    return ModelIdentity(
        model=setup.config.model.name,
        input_shape=train.input_shape,
        num_classes=train.num_classes,
        groups=groups.names,
        channels=groups.channels,
    )


def _batch_indices(
    pool: np.ndarray, batches: int, batch_size: int, seed: int, purpose: str, *keys: int
) -> list[torch.Tensor]:
    """``batches`` full mini-batches of training-set indices drawn from ``pool`` in a seeded
    order: a fresh permutation of the pool per epoch, epochs concatenated as needed."""
    needed = batches * batch_size
    pieces: list[torch.Tensor] = []
    drawn = 0
    pool_tensor = torch.from_numpy(pool)
    for epoch in itertools.count():
        if drawn >= needed:
            break
        order = torch.randperm(len(pool), generator=torch_generator(seed, purpose, *keys, epoch))
        pieces.append(pool_tensor[order])
        drawn += len(pool)
    return list(torch.split(torch.cat(pieces)[:needed], batch_size))


class ConvergenceProxy:
    """Q(d): validation accuracy after S sliced mini-batches from fixed checkpoints (SPEC 4).

    The two checkpoints (the initial model and the partly trained one) are built on the first
    computation, so a run whose vectors all come from the cache trains nothing.

    Args:
        setup: The run's setup (data, initial model, optimizer settings, seed).
        dse: The exploration settings (S, batch size, seeds, warm-up, validation size).
        groups: The model's channel groups.
        source: Where the config came from, for error messages.

    Raises:
        InputError: The validation subset would leave no training samples.
    """

    def __init__(
        self,
        setup: FederatedSetup,
        dse: DseConfig,
        groups: ChannelGroups,
        source: str | Path = "<config>",
    ) -> None:
        config = setup.config
        train = setup.data.train
        if dse.validation_samples >= len(train):
            raise InputError(
                source,
                "distreal.dse.validation_samples",
                f"{dse.validation_samples} validation samples leave none of the "
                f"{len(train)} training samples to train on",
            )
        self.setup = setup
        self.dse = dse
        self.groups = groups
        self.seed = config.seed
        self.batch_size = dse.batch_size or config.training.batch_size
        self.scale_outputs = config.distreal.scale_outputs
        self.computed = 0
        order = numpy_rng(self.seed, "dse-validation").permutation(len(train))
        self._validation = np.sort(order[: dse.validation_samples])
        self._pool = np.sort(order[dse.validation_samples :])
        self._orders = [
            _batch_indices(self._pool, dse.batches, self.batch_size, self.seed, "dse-data", s)
            for s in range(dse.seeds)
        ]
        self._checkpoints: tuple[dict[str, torch.Tensor], ...] | None = None
        self._model: nn.Module | None = None
        self._trainer: SlicedTrainer | None = None
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """A hash of everything Q depends on: settings, seed, data, initial weights, versions."""
        if self._fingerprint is None:
            config = self.setup.config
            training = config.training
            digest = hashlib.sha256()
            settings = {
                "proxy": PROXY_VERSION,
                "torch": torch.__version__,
                "seed": self.seed,
                "model": config.model.model_dump(mode="json"),
                "data": config.data.model_dump(mode="json"),
                "levels": self.dse.levels,
                "batches": self.dse.batches,
                "batch_size": self.batch_size,
                "seeds": self.dse.seeds,
                "warmup_batches": self.dse.warmup_batches,
                "validation_samples": self.dse.validation_samples,
                "scale_outputs": self.scale_outputs,
                "lr": training.lr,
                "momentum": training.momentum,
                "weight_decay": training.weight_decay,
                "groups": list(self.groups.names),
                "channels": list(self.groups.channels),
            }
            digest.update(json.dumps(settings, sort_keys=True).encode("utf-8"))
            train = self.setup.data.train
            digest.update(np.ascontiguousarray(train.x.numpy()).data)
            digest.update(np.ascontiguousarray(train.y.numpy()).data)
            for key, value in sorted(self.setup.build_model().state_dict().items()):
                digest.update(key.encode("utf-8"))
                digest.update(np.ascontiguousarray(value.detach().numpy()).data)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def __call__(self, dropout: Sequence[float]) -> float:
        """Q(d) for the dropout vector ``dropout`` (computed, never cached here)."""
        counts = self.groups.keep_counts(dropout)
        model, trainer = self._scratch()
        scores: list[float] = []
        for checkpoint in self._ready_checkpoints():
            for seed_index, batches in enumerate(self._orders):
                model.load_state_dict(checkpoint)
                model.train()
                optimizer = self._optimizer(model)
                for batch_index, batch in enumerate(batches):
                    keep = self._keep(counts, seed_index, batch_index)
                    trainer.step(optimizer, self._x(batch), self._y(batch), keep)
                scores.append(self._accuracy(model))
        self.computed += 1
        return float(sum(scores) / len(scores))

    def _keep(self, counts: Sequence[int], seed_index: int, batch_index: int) -> Keep:
        """The kept channels of mini-batch ``batch_index``: per group, the first k_l of a seeded
        random permutation (drawn for every group, so a group's subset depends on its k_l only)."""
        generator = torch_generator(self.seed, "dse-masks", seed_index, batch_index)
        keep: dict[str, torch.Tensor] = {}
        for group, count in zip(self.groups.groups, counts, strict=True):
            permutation = torch.randperm(group.channels, generator=generator)
            if count < group.channels:
                keep[group.name] = permutation[:count].sort().values
        return keep

    def _x(self, batch: torch.Tensor) -> torch.Tensor:
        return self.setup.data.train.x[batch]

    def _y(self, batch: torch.Tensor) -> torch.Tensor:
        return self.setup.data.train.y[batch]

    def _optimizer(self, model: nn.Module) -> torch.optim.SGD:
        training = self.setup.config.training
        return torch.optim.SGD(
            model.parameters(),
            lr=training.lr,
            momentum=training.momentum,
            weight_decay=training.weight_decay,
        )

    def _scratch(self) -> tuple[nn.Module, SlicedTrainer]:
        if self._model is None or self._trainer is None:
            self._model = self.setup.build_model()
            self._trainer = SlicedTrainer(
                self._model, self.groups, scale_outputs=self.scale_outputs
            )
        return self._model, self._trainer

    def _ready_checkpoints(self) -> tuple[dict[str, torch.Tensor], ...]:
        """The initial state and the state after the full-model warm-up (built once)."""
        if self._checkpoints is None:
            model = self.setup.build_model()
            fresh = {key: value.detach().clone() for key, value in model.state_dict().items()}
            model.train()
            optimizer = self._optimizer(model)
            warmup = _batch_indices(
                self._pool, self.dse.warmup_batches, self.batch_size, self.seed, "dse-warmup"
            )
            for batch in warmup:
                optimizer.zero_grad(set_to_none=True)
                loss = nn.functional.cross_entropy(model(self._x(batch)), self._y(batch))
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
            warm = {key: value.detach().clone() for key, value in model.state_dict().items()}
            self._checkpoints = (fresh, warm)
        return self._checkpoints

    @torch.no_grad()
    def _accuracy(self, model: nn.Module) -> float:
        model.eval()
        train = self.setup.data.train
        correct = 0
        for start in range(0, len(self._validation), _EVAL_BATCH):
            index = torch.from_numpy(self._validation[start : start + _EVAL_BATCH])
            logits = model(train.x[index])
            correct += int((logits.argmax(dim=1) == train.y[index]).sum())
        return correct / len(self._validation)


class EvaluationCache:
    """Q per integer-coded vector, optionally kept in a JSON file across runs.

    The file holds the fingerprint of the proxy it was computed with; a file with another
    fingerprint, or one that cannot be read, is ignored (and replaced at the next :meth:`flush`).

    Args:
        fingerprint: :attr:`ConvergenceProxy.fingerprint`.
        path: The JSON file, or None for an in-memory cache.
    """

    def __init__(self, fingerprint: str, path: str | Path | None = None) -> None:
        self.fingerprint = fingerprint
        self.path = None if path is None else Path(path)
        self.entries: dict[Genes, float] = {}
        self.loaded = 0
        self._dirty = False
        if self.path is not None and self.path.is_file():
            self.entries = self._read(self.path)
            self.loaded = len(self.entries)

    def _read(self, path: Path) -> dict[Genes, float]:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != CACHE_FORMAT or raw.get("fingerprint") != self.fingerprint:
                return {}
            return {tuple(int(g) for g in genes): float(q) for genes, q in raw["entries"]}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def __contains__(self, genes: Genes) -> bool:
        return genes in self.entries

    def __getitem__(self, genes: Genes) -> float:
        return self.entries[genes]

    def __setitem__(self, genes: Genes, quality: float) -> None:
        self.entries[genes] = quality
        self._dirty = True

    def __len__(self) -> int:
        return len(self.entries)

    def flush(self) -> None:
        """Write the cache file atomically if anything changed since the last write."""
        if self.path is None or not self._dirty:
            return
        rows = [[list(genes), q] for genes, q in sorted(self.entries.items())]
        text = json.dumps(
            {"format": CACHE_FORMAT, "fingerprint": self.fingerprint, "entries": rows}
        )
        atomic_write_text(self.path, text + "\n")
        self._dirty = False


class _Exploration:
    """One run of the DSE: the cache-backed evaluator, the archive and NSGA-II."""

    def __init__(
        self,
        setup: FederatedSetup,
        dse: DseConfig,
        progress: ProgressCallback | None,
        cache_path: str | Path | None,
        source: str | Path,
    ) -> None:
        self.setup = setup
        self.dse = dse
        self.progress = progress
        train = setup.data.train
        try:
            self.groups = channel_groups(setup.build_model(), train.input_shape)
        except UnsupportedModelError as error:
            raise InputError(source, "model.name", str(error)) from None
        self.cost = SubModelCost(self.groups, setup.full_cost)
        self.identity = model_identity(setup, self.groups)
        self.proxy = ConvergenceProxy(setup, dse, self.groups, source)
        self.cache = EvaluationCache(self.proxy.fingerprint, cache_path)
        self.grid = dropout_grid(dse.levels)
        self.archive: dict[Genes, float] = {}
        self.generation = 0
        size = dse.levels ** len(self.groups)
        self.population = min(max(dse.population, dse.levels), size)

    def dropout(self, genes: Genes) -> tuple[float, ...]:
        """The dropout vector d coded by ``genes`` (d_l = g_l / G)."""
        return tuple(self.grid[g] for g in genes)

    def quality(self, genes: Genes) -> float:
        """Q of ``genes``, from the cache or computed; records it in the archive."""
        if genes not in self.cache:
            self.cache[genes] = self.proxy(self.dropout(genes))
            self.cache.flush()  # an interrupted run keeps everything computed so far
            self.archive[genes] = self.cache[genes]
            self.report("evaluation")
        self.archive.setdefault(genes, self.cache[genes])
        return self.archive[genes]

    def report(self, event: Literal["evaluation", "generation"]) -> None:
        """Tell the progress callback, if any, where the exploration stands."""
        if self.progress is not None:
            self.progress(
                DseProgress(
                    event,
                    self.generation,
                    self.dse.generations,
                    len(self.archive),
                    self.proxy.computed,
                )
            )

    def initial_population(self) -> np.ndarray:
        """All uniform vectors, then distinct seeded random vectors up to the population."""
        width = len(self.groups)
        rows: list[Genes] = [(g,) * width for g in range(self.dse.levels)]
        seen = set(rows)
        rng = numpy_rng(self.setup.config.seed, "dse-initial")
        while len(rows) < self.population:
            genes = tuple(int(g) for g in rng.integers(0, self.dse.levels, size=width))
            if genes not in seen:
                seen.add(genes)
                rows.append(genes)
        return np.array(rows, dtype=np.int64)

    def run(self) -> Front:
        """Evaluate the uniform vectors, run NSGA-II from them and build the front."""
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.core.callback import Callback
        from pymoo.core.problem import Problem
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.optimize import minimize

        exploration = self
        width = len(self.groups)
        uniform = [self.quality((g,) * width) for g in range(self.dse.levels)]
        self.report("generation")

        class DropoutProblem(Problem):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__(
                    n_var=width, n_obj=2, xl=0, xu=exploration.dse.levels - 1, vtype=int
                )

            def _evaluate(self, x: np.ndarray, out: dict[str, Any], *_: Any, **__: Any) -> None:
                objectives = []
                for row in np.rint(np.asarray(x, dtype=float)).astype(np.int64):
                    genes = tuple(int(g) for g in row)
                    objectives.append(
                        (
                            exploration.cost.ratio_of(exploration.dropout(genes)),
                            -exploration.quality(genes),
                        )
                    )
                out["F"] = np.array(objectives, dtype=float)

        class Generations(Callback):  # type: ignore[misc]
            def notify(self, algorithm: Any) -> None:
                exploration.generation = int(algorithm.n_gen)
                exploration.report("generation")

        algorithm = NSGA2(
            pop_size=self.population,
            sampling=self.initial_population(),
            crossover=SBX(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
            mutation=PM(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
            eliminate_duplicates=True,
        )
        minimize(
            DropoutProblem(),
            algorithm,
            ("n_gen", self.dse.generations),
            seed=self.setup.config.seed,
            callback=Generations(),
            verbose=False,
        )
        return self.front(uniform)

    def front(self, uniform: Sequence[float]) -> Front:
        """The non-dominated set of the archive, ending with d = 0."""
        width = len(self.groups)
        full = (0,) * width
        archive = sorted(
            (
                FrontPoint(self.cost.ratio_of(self.dropout(g)), q, self.dropout(g))
                for g, q in self.archive.items()
            ),
            key=lambda p: (p.cost, p.dropout),
        )
        full_point = next(p for p in archive if p.dropout == self.dropout(full))
        # Vectors whose keep counts all round to C_l are the full model again: only d = 0 stands
        # for R = 1.
        candidates = [p for p in archive if p.cost < 1.0] + [full_point]
        points = non_dominated(candidates)
        dominated = full_point not in points
        if dominated:
            points.append(full_point)
        training = self.setup.config.training
        settings: dict[str, Any] = {
            "method": "nsga2",
            "seed": self.setup.config.seed,
            "levels": self.dse.levels,
            "population": self.population,
            "generations": self.dse.generations,
            "batches": self.dse.batches,
            "batch_size": self.proxy.batch_size,
            "seeds": self.dse.seeds,
            "warmup_batches": self.dse.warmup_batches,
            "validation_samples": self.dse.validation_samples,
            "scale_outputs": self.proxy.scale_outputs,
            "lr": training.lr,
            "momentum": training.momentum,
            "weight_decay": training.weight_decay,
            "evaluations": len(self.archive),
            "full_model_dominated": dominated,
            "fingerprint": self.proxy.fingerprint,
        }
        return Front(
            self.identity,
            tuple(points),
            settings,
            tuple(archive),
            tuple(uniform_points(self.groups, self.cost, self.dse.levels, uniform)),
        )


def explore(
    setup: FederatedSetup,
    *,
    dse: DseConfig | None = None,
    progress: ProgressCallback | None = None,
    cache_path: str | Path | None = None,
    source: str | Path = "<config>",
) -> Front:
    """Run the DSE for ``setup``'s model and return its Pareto front.

    The result depends only on the config (seed included): all randomness is drawn from seeded
    streams, and the global torch RNG is forked so nothing outside is disturbed.

    Args:
        setup: The run's setup.
        dse: Exploration settings; None uses ``setup.config.distreal.dse``.
        progress: Called after each computed Q(d) and each generation.
        cache_path: A JSON file keeping every Q(d) across runs (created or updated; ignored when
            it was written for other settings, data or model).
        source: Where the config came from, for error messages.

    Returns:
        The front (points sorted by R, ending with d = 0), with the archive of every evaluated
        vector and the uniform-dropout curve. ``settings["full_model_dominated"]`` is true when
        the noise of Q made a cheaper vector at least as good as d = 0 (d = 0 is then appended).

    Raises:
        InputError: The settings do not fit the data (e.g. too many validation samples), or the
            model has layers channel dropout cannot slice.
    """
    dse = setup.config.distreal.dse if dse is None else dse
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(setup.config.seed, "dse-global"))
        return _Exploration(setup, dse, progress, cache_path, source).run()


def hypervolume(
    points: Front | Iterable[FrontPoint], reference: tuple[float, float] = (1.0, 0.0)
) -> float:
    """The area dominated by ``points`` in the (R minimised, Q maximised) plane.

    Exact 2-D sweep over the non-dominated points that beat the reference point in both
    objectives; the area is bounded by R ≤ ``reference[0]`` and Q ≥ ``reference[1]``.

    Args:
        points: A front (its :attr:`Front.points`) or any points.
        reference: The reference (R, Q); the default (1, 0) is the full model's cost and chance
            level zero.
    """
    cost_ref, quality_ref = reference
    candidates = points.points if isinstance(points, Front) else tuple(points)
    inside = [
        p
        for p in candidates
        if p.cost < cost_ref and p.quality > quality_ref and not math.isnan(p.quality)
    ]
    front = non_dominated(inside)
    area = 0.0
    for index, point in enumerate(front):
        right = front[index + 1].cost if index + 1 < len(front) else cost_ref
        area += (right - point.cost) * (point.quality - quality_ref)
    return area
