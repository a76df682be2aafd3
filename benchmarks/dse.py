"""Cost and quality of DISTREAL's design-space exploration
(docs/distreal.md, 'Design-space exploration').

On the demo's MNIST config (``leantrain demo``: mnist-cnn, 24,000 training samples, batch 32,
lr 0.05, momentum 0.5) the explorations share one proxy Q(d) (the default S, seeds, warm-up and
validation settings) and differ only in the search:

* **default**: the default :class:`~leantrain.config.DseConfig` (population 16, 8 generations,
  kept-filter floor 0.5), with the default worker processes (2: candidates of a generation computed
  in parallel from one shared warm checkpoint), timed from scratch (no cache);
* **default, 1 process**: the same search computed in this process, timed from scratch (the same
  front when this process runs one torch thread);
* **4x cheaper**: half the population and half the generations, timed from scratch;
* **exhaustive**: every vector of the floored grid (rates up to 1 − min_keep over 2 channel
  groups), the reference front; it re-uses the default run's cache, so only the vectors the
  default run did not visit are trained (its time is not reported).

The figure of merit is the hypervolume of each front in the (R minimised, Q maximised) plane with
reference point (R = 1, Q = 0), as a fraction of the exhaustive front's; the uniform-dropout curve
is shown for comparison. Wall times are for the whole exploration (checkpoint warm-up included).

Run ``python -m benchmarks dse`` (writes the ``dse`` section of ``docs/benchmarks.md``) or
``python -m benchmarks.dse --quick`` (tiny settings, printed only, for smoke runs).
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import torch

from benchmarks._doc import write_section
from leantrain.config import DseConfig, RunConfig
from leantrain.distreal import (
    ConvergenceProxy,
    EvaluationCache,
    Front,
    FrontPoint,
    dropout_grid,
    explore,
    grid_genes,
    hypervolume,
    non_dominated,
)
from leantrain.fl import FederatedSetup, build_setup
from leantrain.nn.groups import channel_groups
from leantrain.nn.submodel import SubModelCost
from leantrain.workflows import demo_config

COMMAND = "python -m benchmarks dse"

#: Tiny settings for smoke runs: the same three explorations, a few seconds each.
QUICK = DseConfig(
    levels=4,
    population=8,
    generations=2,
    batches=3,
    seeds=1,
    warmup_batches=10,
    validation_samples=200,
)


@dataclass(frozen=True)
class Timed:
    """One exploration: its front, wall time and the number of distinct vectors evaluated."""

    label: str
    dse: DseConfig
    front: Front
    wall_s: float

    @property
    def evaluations(self) -> int:
        return len(self.front.evaluated)


def _cheaper(dse: DseConfig) -> DseConfig:
    """Half the population and half the generations: a quarter of the requested vectors."""
    return dse.model_copy(
        update={
            "population": max(4, dse.population // 2),
            "generations": max(1, dse.generations // 2),
        }
    )


def _warm_up_imports() -> None:
    """Pay one-off lazy imports (pymoo; torch.optim's first optimizer) before any timing."""
    import pymoo.algorithms.moo.nsga2
    import pymoo.optimize  # noqa: F401

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def _timed(
    label: str,
    setup: FederatedSetup,
    dse: DseConfig,
    cache: Path | None,
    workers: int | None = None,
) -> Timed:
    began = time.perf_counter()
    front = explore(setup, dse=dse, cache_path=cache, workers=workers)
    return Timed(label, dse, front, time.perf_counter() - began)


def _exhaustive(setup: FederatedSetup, dse: DseConfig, cache_path: Path) -> list[FrontPoint]:
    """Every vector of the floored grid with its (R, Q), computing only the ones missing from
    the cache."""
    groups = channel_groups(setup.build_model(), setup.data.train.input_shape)
    cost = SubModelCost(groups, setup.full_cost)
    proxy = ConvergenceProxy(setup, dse, groups)
    cache = EvaluationCache(proxy.fingerprint, cache_path)
    grid = dropout_grid(dse.levels)
    points = []
    genes_count = grid_genes(dse.levels, dse.min_keep)
    for genes in itertools.product(range(genes_count), repeat=len(groups)):
        dropout = tuple(grid[g] for g in genes)
        if genes not in cache:
            cache[genes] = proxy(dropout)
            cache.flush()
        points.append(FrontPoint(cost.ratio_of(dropout), cache[genes], dropout))
    return points


def _fmt_front(front: Front) -> str:
    rows = "\n".join(
        f"| {p.cost:.4f} | {p.quality:.4f} | {', '.join(f'{d:.3f}' for d in p.dropout)} |"
        for p in front.points
    )
    return "| R | Q | d |\n|---|---|---|\n" + rows


def report(config: RunConfig, dse: DseConfig) -> str:
    """Run the three explorations and describe them as markdown."""
    setup = build_setup(config)
    _warm_up_imports()
    with TemporaryDirectory() as directory:
        cache = Path(directory) / "cache.json"
        default = _timed("default", setup, dse, cache)
        single = _timed("default, 1 process", setup, dse, None, workers=1)
        cheap_dse = _cheaper(dse)
        cheap = _timed("4x cheaper", setup, cheap_dse, None)
        archive = _exhaustive(setup, dse, cache)
    space = len(archive)
    reference = hypervolume(archive)
    # Counted like an explored front: the non-dominated vectors with R < 1, then d = 0.
    exhaustive_points = len(non_dominated(p for p in archive if p.cost < 1.0)) + 1
    uniform = hypervolume(default.front.uniform)
    rows = []
    for run in (default, single, cheap):
        volume = hypervolume(run.front)
        rows.append(
            f"| {run.label} | {run.front.settings['population']} | {run.dse.generations} | "
            f"{run.evaluations} of {space} | {run.wall_s:.1f} | "
            f"{run.wall_s / run.evaluations:.2f} | {len(run.front.points)} | {volume:.4f} | "
            f"**{volume / reference:.3f}** |"
        )
    rows.append(
        f"| exhaustive | - | - | {space} of {space} | - | - | "
        f"{exhaustive_points} | {reference:.4f} | 1.000 |"
    )
    uniform_count = len(default.front.uniform)
    rows.append(
        f"| uniform dropout only | - | - | {uniform_count} | - | - | {uniform_count} | "
        f"{uniform:.4f} | {uniform / reference:.3f} |"
    )
    settings = default.front.settings
    return (
        f"{config.model.name} on the demo config ({len(setup.data.train)} training samples), "
        f"{len(default.front.identity.groups)} channel groups, {dse.levels} levels, kept-filter "
        f"floor {dse.min_keep} ({grid_genes(dse.levels, dse.min_keep)} rates per group), "
        f"{default.front.settings['masks']} masks; default search on the default worker "
        f"processes (torch threads here: {torch.get_num_threads()}). Proxy Q(d): "
        f"S = {settings['batches']} sliced mini-batches of {settings['batch_size']} from the "
        f"initial and a {settings['warmup_batches']}-mini-batch warm checkpoint, "
        f"{settings['seeds']} seeds, accuracy on {settings['validation_samples']} held-out "
        f"training samples. The *4x cheaper* search uses population {cheap_dse.population} and "
        f"{cheap_dse.generations} generations (a quarter of the default's population x "
        f"generations). Hypervolume: reference (R = 1, Q = 0); ratio to the exhaustive front.\n\n"
        "| search | population | generations | vectors evaluated | wall (s) | s per vector | "
        "front points | hypervolume | vs exhaustive |\n|---|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\nDefault front:\n\n"
        + _fmt_front(default.front)
        + "\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dse", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="tiny settings, printed, docs untouched"
    )
    args = parser.parse_args([] if argv is None else list(argv))
    config = demo_config()
    if args.quick:
        print(report(config, QUICK))
        return
    write_section(
        "dse",
        "Design-space exploration: cost and front quality",
        # The library's defaults, not the demo's lighter [distreal.dse] section.
        report(config, DseConfig()),
        COMMAND,
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
