"""The ``leantrain`` command line (SPEC 7.1): a thin layer over the library.

Exit codes: 0 success, 2 invalid input (one line on stderr, no traceback), 3 infeasible plan.
Long work shows a rich progress bar on a terminal and plain lines otherwise.
"""

from __future__ import annotations

import functools
import importlib.resources
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leantrain.config import RunConfig, load_config, parse_config
from leantrain.distreal import DseProgress, Front, plot_front
from leantrain.distreal import explore as explore_front
from leantrain.engines import ENGINES
from leantrain.errors import InfeasibleError, InputError
from leantrain.fl import RoundRecord, RunSummary, build_setup
from leantrain.fl.run import (
    ExecutorFactory,
    check_strategies,
    run_strategy,
    write_config,
    write_summary,
)
from leantrain.report import load_run_dir, summary_table, write_figures, write_report

__all__ = ["app", "main"]

app = typer.Typer(
    name="leantrain",
    help="Resource-aware cooperative training of DNNs on heterogeneous device fleets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stderr = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def exits_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn InputError into exit code 2 and InfeasibleError into 3, with one line on stderr."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            print(f"error: {error.line()}", file=sys.stderr)
            raise typer.Exit(2) from None
        except InfeasibleError as error:
            print(f"infeasible: {error}", file=sys.stderr)
            raise typer.Exit(3) from None
        except KeyboardInterrupt:
            print(
                "interrupted: the last completed round is checkpointed; rerun with --resume",
                file=sys.stderr,
            )
            raise typer.Exit(130) from None

    return wrapper


class RoundProgress:
    """Per-round progress: a rich bar on a terminal, one plain line per round otherwise."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.bar: Progress | None = None
        if stderr.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=stderr,
                transient=False,
            )
            self.task = self.bar.add_task(label, total=total, status="")

    def __enter__(self) -> RoundProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, record: RoundRecord) -> None:
        accuracy = "-" if record.accuracy is None else f"{record.accuracy:.4f}"
        status = (
            f"acc {accuracy}  t={record.sim_time_s:.1f}s  "
            f"E={record.cumulative_energy_j:.1f}J  dropped {len(record.dropped)}"
        )
        if self.bar is not None:
            self.bar.update(self.task, completed=record.round, status=status)
        else:
            print(
                f"[{self.label}] round {record.round}/{self.total} {status}",
                file=sys.stderr,
                flush=True,
            )


def _split(names: str) -> list[str]:
    return [name.strip() for name in names.split(",") if name.strip()]


def _engine(name: str) -> ExecutorFactory:
    if name not in ENGINES:
        raise InputError(
            "command line",
            "--engine",
            f"unknown engine '{name}'; known: {', '.join(sorted(ENGINES))}",
        )
    return ENGINES[name]


def _guard_out(directory: Path, resume: bool) -> None:
    """Refuse to overwrite an earlier run unless resuming it."""
    if not resume and directory.is_dir() and any(directory.iterdir()):
        raise InputError(
            "command line",
            "--out",
            f"{directory} already holds files; pass --resume or choose another --out",
        )


def _print_table(runs_dir: Path, targets: Sequence[float]) -> None:
    header, rows = summary_table(load_run_dir(runs_dir), targets)
    table = Table(title=f"results in {runs_dir}")
    for column in header:
        table.add_column(column, no_wrap=column == header[0])
    for row in rows:
        table.add_row(*row)
    # Logs and CI are not terminals: give the table room instead of wrapping it at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)


def _compare(
    config: RunConfig,
    source: Path | str,
    strategies: Sequence[str],
    out: Path,
    engine: str,
    resume: bool,
) -> list[RunSummary]:
    check_strategies(strategies)
    factory = _engine(engine)
    _guard_out(out, resume)
    setup = build_setup(config, source)
    out.mkdir(parents=True, exist_ok=True)
    write_config(out, setup)
    summaries = []
    for name in strategies:
        with RoundProgress(name, config.training.rounds) as progress:
            summaries.append(
                run_strategy(setup, name, factory, out / name, resume=resume, on_round=progress)
            )
        write_summary(out, summaries)
    write_figures(out, load_run_dir(out), config.training.accuracy_targets)
    _print_table(out, config.training.accuracy_targets)
    return summaries


@app.command()
@exits_cleanly
def train(
    config: Annotated[Path, typer.Argument(help="Run config (TOML).")],
    strategy: Annotated[str, typer.Option(help="Strategy to run.")] = "fedavg",
    engine: Annotated[str, typer.Option(help="Where clients run: local or flower.")] = "local",
    out: Annotated[Path | None, typer.Option(help="Run directory.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the newest checkpoint.")] = False,
) -> None:
    """Run one federated training."""
    run_config = load_config(config)
    check_strategies([strategy])
    factory = _engine(engine)
    directory = out or Path("runs") / f"{config.stem}-{strategy}"
    _guard_out(directory, resume)
    setup = build_setup(run_config, config)
    directory.mkdir(parents=True, exist_ok=True)
    write_config(directory, setup)
    with RoundProgress(strategy, run_config.training.rounds) as progress:
        run_strategy(setup, strategy, factory, directory, resume=resume, on_round=progress)
    write_figures(directory, load_run_dir(directory), run_config.training.accuracy_targets)
    _print_table(directory, run_config.training.accuracy_targets)


@app.command()
@exits_cleanly
def compare(
    config: Annotated[Path, typer.Argument(help="Run config (TOML).")],
    strategies: Annotated[
        str | None, typer.Option(help="Comma-separated strategies (default: the config's).")
    ] = None,
    engine: Annotated[str, typer.Option(help="Where clients run: local or flower.")] = "local",
    out: Annotated[Path | None, typer.Option(help="Run directory.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue each strategy's run.")] = False,
) -> None:
    """Run several strategies on the same fleet, data and seed; one table, shared plots."""
    run_config = load_config(config)
    names = _split(strategies) if strategies else list(run_config.strategies)
    _compare(
        run_config, config, names, out or Path("runs") / f"{config.stem}-compare", engine, resume
    )


@app.command()
@exits_cleanly
def report(directory: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Write a markdown report with figures for a run directory."""
    path = write_report(directory)
    print(f"wrote {path}")


class ExploreProgress:
    """DSE progress: a rich bar over the generations on a terminal, one plain line per generation
    otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar: Progress | None = None
        if stderr.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]explore"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=stderr,
                transient=False,
            )
            self.task = self.bar.add_task("explore", total=total, status="")

    def __enter__(self) -> ExploreProgress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, progress: DseProgress) -> None:
        status = f"{progress.evaluations} vectors evaluated ({progress.computed} trained)"
        if self.bar is not None:
            self.bar.update(self.task, completed=progress.generation, status=status)
        elif progress.event == "generation":
            print(
                f"[explore] generation {progress.generation}/{self.total} {status}",
                file=sys.stderr,
                flush=True,
            )


def _print_front(front: Front) -> None:
    table = Table(title=f"Pareto front of {front.identity.model} ({len(front.points)} points)")
    table.add_column("R", justify="right")
    table.add_column("Q", justify="right")
    table.add_column("d (" + ", ".join(front.identity.groups) + ")")
    for point in front.points:
        rates = ", ".join(f"{rate:.3f}" for rate in point.dropout)
        table.add_row(f"{point.cost:.4f}", f"{point.quality:.4f}", rates)
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)


@app.command()
@exits_cleanly
def explore(
    config: Annotated[Path, typer.Argument(help="Run config (TOML).")],
    out: Annotated[
        Path, typer.Option(help="Front to write (JSON); its plot goes beside it as <stem>.png.")
    ] = Path("front.json"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing front.")] = False,
    cache: Annotated[
        bool,
        typer.Option(help="Keep every evaluation in <stem>.cache.json beside --out and reuse it."),
    ] = True,
) -> None:
    """Explore DISTREAL's dropout vectors (NSGA-II) and write their Pareto front."""
    if out.suffix == ".png":
        raise InputError("command line", "--out", "the front is JSON; its plot takes <stem>.png")
    if out.exists() and not force:
        raise InputError(
            "command line", "--out", f"{out} already exists; pass --force to overwrite it"
        )
    run_config = load_config(config)
    setup = build_setup(run_config, config)
    cache_path = out.with_name(f"{out.stem}.cache.json") if cache else None
    try:
        with ExploreProgress(run_config.distreal.dse.generations) as progress:
            front = explore_front(setup, progress=progress, cache_path=cache_path, source=config)
    except KeyboardInterrupt:
        kept = f"; the evaluations so far are kept in {cache_path}" if cache_path else ""
        print(f"interrupted{kept}", file=sys.stderr)
        raise typer.Exit(130) from None
    front.save(out)
    picture = plot_front(front, out.with_name(f"{out.stem}.png"))
    _print_front(front)
    print(f"wrote {out} and {picture}")


def demo_config() -> RunConfig:
    """The embedded default job's config (``leantrain/demo.toml``)."""
    import tomllib

    text = importlib.resources.files("leantrain").joinpath("demo.toml").read_text("utf-8")
    return parse_config(tomllib.loads(text), "demo.toml")


@app.command()
@exits_cleanly
def demo(
    out: Annotated[Path, typer.Option(help="Run directory.")] = Path("runs/demo"),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted demo.")] = False,
) -> None:
    """The embedded default job: bundled MNIST on a heterogeneous, time-varying fleet."""
    config = demo_config()
    _compare(config, "demo.toml", config.strategies, out, "local", resume)
    print(f"report: {write_report(out)}")


def main() -> None:
    """Console entry point."""
    app()
