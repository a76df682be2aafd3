"""The federated flows: one strategy (``train``), several on the same fleet (``compare``), and
DISTREAL's design-space exploration (``explore``); docs/cli.md, 'Commands'.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from leantrain.workflows.inputs import (
    ARGUMENTS,
    Origin,
    check_strategies,
    figure_beside,
    guard_run_dir,
    refuse_overwrite,
)

if TYPE_CHECKING:
    from leantrain.config import RunConfig
    from leantrain.distreal.dse import DseProgress
    from leantrain.distreal.front import Front
    from leantrain.fl.executor import ClientExecutor
    from leantrain.fl.records import RunSummary
    from leantrain.fl.setup import FederatedSetup
    from leantrain.fl.strategy import RoundCallback

__all__ = [
    "ExecutorFactory",
    "ExploreOutcome",
    "RoundProgressFactory",
    "cache_path_of",
    "compare",
    "explore",
    "train",
]

#: Builds the executor of a setup's client work: an engine's ``client_executor``, or the
#: ServerApp's executor on its grid.
ExecutorFactory = Callable[["FederatedSetup"], "ClientExecutor"]

#: Per strategy name, a context (a progress display) giving the round callback, or None.
RoundProgressFactory = Callable[[str], AbstractContextManager["RoundCallback | None"]]


def _start_run(
    config: RunConfig, config_source: Path | str, directory: Path, resume: bool, origin: Origin
) -> FederatedSetup:
    """Guard ``directory``, build the setup and write the resolved config into it."""
    from leantrain.fl.run import write_config
    from leantrain.fl.setup import build_setup

    guard_run_dir(directory, resume, origin)
    setup = build_setup(config, config_source)
    directory.mkdir(parents=True, exist_ok=True)
    write_config(directory, setup)
    return setup


def train(
    config: RunConfig,
    config_source: Path | str,
    strategy: str,
    executors: ExecutorFactory,
    directory: Path,
    *,
    resume: bool = False,
    on_round: RoundCallback | None = None,
    origin: Origin = ARGUMENTS,
) -> RunSummary:
    """One federated run into ``directory`` (a single-run directory) with its figures.

    Raises:
        InputError: An unknown strategy, a directory holding another run, or a bad config.
    """
    from leantrain.fl.run import run_strategy
    from leantrain.report import load_run_dir, write_figures

    check_strategies([strategy], origin)
    setup = _start_run(config, config_source, directory, resume, origin)
    summary = run_strategy(setup, strategy, executors, directory, resume=resume, on_round=on_round)
    write_figures(directory, load_run_dir(directory), config.training.accuracy_targets)
    return summary


def compare(
    config: RunConfig,
    config_source: Path | str,
    strategies: Sequence[str],
    executors: ExecutorFactory,
    directory: Path,
    *,
    resume: bool = False,
    progress: RoundProgressFactory | None = None,
    origin: Origin = ARGUMENTS,
) -> list[RunSummary]:
    """Several strategies on the same fleet, data and seed, one sub-directory each, with a shared
    ``summary.json`` and figures.

    Raises:
        InputError: An unknown strategy, a directory holding another run, or a bad config.
    """
    from leantrain.fl.run import run_strategy, write_summary
    from leantrain.report import load_run_dir, write_figures

    check_strategies(strategies, origin)
    setup = _start_run(config, config_source, directory, resume, origin)
    summaries: list[RunSummary] = []
    for name in strategies:
        with (progress or _no_progress)(name) as on_round:
            summaries.append(
                run_strategy(
                    setup, name, executors, directory / name, resume=resume, on_round=on_round
                )
            )
        write_summary(directory, summaries)
    write_figures(directory, load_run_dir(directory), config.training.accuracy_targets)
    return summaries


def _no_progress(name: str) -> AbstractContextManager[RoundCallback | None]:
    return nullcontext(None)


@dataclass(frozen=True)
class ExploreOutcome:
    """What :func:`explore` wrote: the front and its plot."""

    front: Front
    path: Path
    picture: Path


def explore(
    config: RunConfig,
    config_source: Path | str,
    out: Path,
    *,
    force: bool = False,
    cache: bool = True,
    progress: Callable[[DseProgress], None] | None = None,
    origin: Origin = ARGUMENTS,
) -> ExploreOutcome:
    """DISTREAL's design-space exploration: the Pareto front as JSON at ``out`` and its plot as
    ``<stem>.png``; with ``cache``, every evaluation is kept in ``<stem>.cache.json`` and reused.

    Raises:
        InputError: ``out`` is a PNG or exists without ``force``, or a bad config.
    """
    from leantrain.distreal.dse import explore as explore_front
    from leantrain.distreal.plot import plot_front
    from leantrain.fl.setup import build_setup

    picture = figure_beside(out, "", "front (JSON)", origin)
    refuse_overwrite([out], force, origin)
    setup = build_setup(config, config_source)
    cache_path = cache_path_of(out) if cache else None
    front = explore_front(setup, progress=progress, cache_path=cache_path, source=config_source)
    front.save(out)
    return ExploreOutcome(front, out, plot_front(front, picture))


def cache_path_of(out: Path) -> Path:
    """Where :func:`explore` keeps the evaluations of the front ``out``."""
    return out.with_name(f"{out.stem}.cache.json")
