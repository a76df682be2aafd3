"""DISTREAL's design-space exploration: NSGA-II over dropout vectors (docs/distreal.md, 'DISTREAL').

Every channel group l gets a dropout rate d_l = g_l / G from an integer gene g_l ∈ {0, …, G−1}.
Two objectives are traded off:

* the resource requirement R(d), training FLOPs of the sub-network relative to the full network
  (:class:`~leantrain.nn.submodel.SubModelCost`, exact and cheap), minimised;
* the convergence proxy Q(d) (:class:`~leantrain.distreal.proxy.ConvergenceProxy`), maximised.

The grid stops at the kept-filter floor: rates above 1 − ``min_keep`` are left out
(:func:`~leantrain.distreal.front.grid_genes`). NSGA-II (pymoo) starts from all uniform vectors
(padded with seeded random vectors up to the population) and every evaluation goes through an
:class:`~leantrain.distreal.cache.EvaluationCache`, so no vector is trained twice. The vectors of
a generation that are not cached are computed together, in worker processes from one shared warm
checkpoint (:class:`~leantrain.distreal.pool.ProxyPool`); the archive, the cache and the front are
those of the evaluation one vector at a time. The front is the non-dominated set of everything
evaluated (the archive), sorted by R, and always ends with d = 0 (R = 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from leantrain.config import DseConfig
from leantrain.distreal.cache import EvaluationCache, Genes
from leantrain.distreal.front import (
    Front,
    FrontPoint,
    ModelIdentity,
    dropout_grid,
    grid_genes,
    non_dominated,
    uniform_points,
)
from leantrain.distreal.pool import ProxyPool, default_workers
from leantrain.distreal.proxy import ConvergenceProxy
from leantrain.errors import InputError
from leantrain.nn.groups import ChannelGroups, UnsupportedModelError, channel_groups
from leantrain.nn.submodel import SubModelCost
from leantrain.seeding import numpy_rng, stream_seed

if TYPE_CHECKING:
    from leantrain.fl.setup import FederatedSetup

__all__ = ["DseProgress", "ProgressCallback", "explore", "model_identity"]


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


class _Exploration:
    """One run of the DSE: the cache-backed evaluator, the archive and NSGA-II."""

    def __init__(
        self,
        setup: FederatedSetup,
        dse: DseConfig,
        progress: ProgressCallback | None,
        cache_path: str | Path | None,
        source: str | Path,
        dtype: torch.dtype,
        ordered: bool,
        workers: int,
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
        self.proxy = ConvergenceProxy(setup, dse, self.groups, source, dtype=dtype, ordered=ordered)
        self.pool = ProxyPool(self.proxy, workers, source)
        self.cache = EvaluationCache(self.proxy.fingerprint, cache_path)
        self.grid = dropout_grid(dse.levels)
        self.genes = grid_genes(dse.levels, dse.min_keep)  # genes 0..genes-1 respect the floor
        self.archive: dict[Genes, float] = {}
        self.generation = 0
        size = self.genes ** len(self.groups)
        self.population = min(max(dse.population, self.genes), size)

    def dropout(self, genes: Genes) -> tuple[float, ...]:
        """The dropout vector d coded by ``genes`` (d_l = g_l / G)."""
        return tuple(self.grid[g] for g in genes)

    def qualities(self, batch: Sequence[Genes]) -> list[float]:
        """Q of every vector of ``batch``, from the cache or computed (the missing ones together,
        on the pool); records them in the archive in ``batch`` order."""
        missing = list(dict.fromkeys(g for g in batch if g not in self.cache))
        computed = dict(
            zip(missing, self.pool.qualities([self.dropout(g) for g in missing]), strict=True)
        )
        for genes in batch:
            if genes not in self.cache:
                self.cache[genes] = computed[genes]
                self.cache.flush()  # an interrupted run keeps everything computed so far
                self.archive[genes] = self.cache[genes]
                self.report("evaluation")
            self.archive.setdefault(genes, self.cache[genes])
        return [self.archive[genes] for genes in batch]

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
        rows: list[Genes] = [(g,) * width for g in range(self.genes)]
        seen = set(rows)
        rng = numpy_rng(self.setup.config.seed, "dse-initial")
        while len(rows) < self.population:
            genes = tuple(int(g) for g in rng.integers(0, self.genes, size=width))
            if genes not in seen:
                seen.add(genes)
                rows.append(genes)
        return np.array(rows, dtype=np.int64)

    def run(self) -> Front:
        """Evaluate the uniform vectors, run NSGA-II from them and build the front."""
        width = len(self.groups)
        try:
            uniform = self.qualities([(g,) * width for g in range(self.genes)])
            self.report("generation")
            self._search(width)
        finally:
            self.pool.close()
        return self.front(uniform)

    def _search(self, width: int) -> None:
        """NSGA-II from the seeded first population, every evaluation through the cache."""
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.core.callback import Callback
        from pymoo.core.problem import Problem
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.optimize import minimize

        exploration = self

        class DropoutProblem(Problem):  # type: ignore[misc]
            def __init__(self) -> None:
                super().__init__(n_var=width, n_obj=2, xl=0, xu=exploration.genes - 1, vtype=int)

            def _evaluate(self, x: np.ndarray, out: dict[str, Any], *_: Any, **__: Any) -> None:
                rows = np.rint(np.asarray(x, dtype=float)).astype(np.int64)
                batch = [tuple(int(g) for g in row) for row in rows]
                qualities = exploration.qualities(batch)
                objectives = [
                    (exploration.cost.ratio_of(exploration.dropout(genes)), -quality)
                    for genes, quality in zip(batch, qualities, strict=True)
                ]
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
            "min_keep": self.dse.min_keep,
            "masks": "ordered" if self.proxy.ordered else "random",
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
            tuple(
                uniform_points(
                    self.groups, self.cost, self.dse.levels, uniform, min_keep=self.dse.min_keep
                )
            ),
        )


def explore(
    setup: FederatedSetup,
    *,
    dse: DseConfig | None = None,
    progress: ProgressCallback | None = None,
    cache_path: str | Path | None = None,
    source: str | Path = "<config>",
    dtype: torch.dtype = torch.float32,
    ordered: bool = False,
    workers: int | None = None,
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
        dtype: The precision of the convergence proxy (:class:`ConvergenceProxy`); float64
            gives the same front on every CPU with AVX2 (docs/testing.md).
        ordered: Explore with ordered masks (the first k_l channels of every group), the front
            of ``distreal-ordered``.
        workers: Processes computing Q(d) (:class:`~leantrain.distreal.pool.ProxyPool`); None
            uses :func:`~leantrain.distreal.pool.default_workers`, 1 computes in this process.
            The front does not depend on it when this process computes with one torch thread.

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
        count = default_workers() if workers is None else workers
        exploration = _Exploration(setup, dse, progress, cache_path, source, dtype, ordered, count)
        return exploration.run()
