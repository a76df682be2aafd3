"""Running strategies end to end: setup, executor, store, summary (what ``train``/``compare`` do).

The executor comes from the caller (the CLI picks an engine), so the core never imports an
engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import tomli_w

from leantrain.errors import InputError
from leantrain.fl.evaluate import Evaluator
from leantrain.fl.executor import ClientExecutor
from leantrain.fl.records import RunSummary, summarise
from leantrain.fl.run_files import summary_text
from leantrain.fl.setup import FederatedSetup
from leantrain.fl.store import RunStore
from leantrain.fl.strategy import STRATEGIES, RoundCallback, make_strategy
from leantrain.io import atomic_write_text

__all__ = ["ExecutorFactory", "check_strategies", "run_strategy", "write_config", "write_summary"]

ExecutorFactory = Callable[[FederatedSetup], ClientExecutor]


def check_strategies(names: Sequence[str], source: str = "command line") -> None:
    """Raise an InputError naming the first unknown strategy."""
    for name in names:
        if name not in STRATEGIES:
            known = ", ".join(sorted(STRATEGIES))
            raise InputError(source, "strategy", f"unknown strategy '{name}'; known: {known}")


def run_strategy(
    setup: FederatedSetup,
    strategy_name: str,
    executor_factory: ExecutorFactory,
    directory: Path,
    *,
    resume: bool = False,
    on_round: RoundCallback | None = None,
) -> RunSummary:
    """Run one strategy into ``directory`` (a single-run directory) and return its summary."""
    check_strategies([strategy_name])
    strategy = make_strategy(strategy_name, setup)
    store = RunStore(directory)
    strategy.prepare(directory)
    evaluator = Evaluator(setup.build_model(), setup.data.test)
    executor = executor_factory(setup)
    try:
        state = strategy.start(executor, evaluator, store, resume=resume, on_round=on_round)
    finally:
        executor.close()
    summary = summarise(
        strategy_name, state.records, setup.config.training.accuracy_targets, state.wall_time_s
    )
    write_summary(directory, [summary])
    return summary


def write_config(directory: Path, setup: FederatedSetup) -> Path:
    """Write the resolved config as ``config.toml``."""
    raw = setup.config.model_dump(mode="json", exclude_none=True)
    return atomic_write_text(directory / "config.toml", tomli_w.dumps(raw))


def write_summary(directory: Path, summaries: Sequence[RunSummary]) -> Path:
    """Write ``summary.json``: strategy name to its summary."""
    return atomic_write_text(directory / "summary.json", summary_text(summaries))
