"""The ``leantrain`` command line (SPEC 7.1): a thin layer over the library.

Exit codes: 0 success, 2 invalid input (one line on stderr, no traceback), 3 infeasible plan.
Long work shows a rich progress bar on a terminal and plain lines otherwise.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, ParamSpec, Self, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import leantrain.pact.baselines  # noqa: F401  (the solver modules register themselves)
from leantrain.config import RunConfig, load_config, parse_config
from leantrain.distreal import DseProgress, Front, plot_front
from leantrain.distreal import explore as explore_front
from leantrain.engines import ENGINES, Engine, make_engine
from leantrain.errors import InfeasibleError, InputError
from leantrain.fl import RoundRecord, RunSummary, build_setup
from leantrain.fl.run import (
    check_strategies,
    run_strategy,
    write_config,
    write_summary,
)
from leantrain.pact import (
    DEFAULT_EPSILON,
    SOLVERS,
    Plan,
    Problem,
    load_problem,
    make_solver,
    parse_problem,
)
from leantrain.pact.exact import SearchLimitError
from leantrain.pact.figure import plot_comparison, plot_plan
from leantrain.pact.relax import diagnose
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
            print(str(error), file=sys.stderr)  # the message starts with "infeasible:"
            raise typer.Exit(3) from None
        except KeyboardInterrupt:
            print(
                "interrupted: the last completed round is checkpointed; rerun with --resume",
                file=sys.stderr,
            )
            raise typer.Exit(130) from None

    return wrapper


class StepProgress:
    """Progress of long work: a rich bar on a terminal, one plain line per step otherwise."""

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

    def __enter__(self) -> Self:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def step(
        self, done: int, total: int, status: str, line: str | None = None, *, plain: bool = True
    ) -> None:
        """Report ``done`` of ``total`` steps (the total may grow, e.g. after re-planning).

        Args:
            done: Steps done.
            total: Steps in all.
            status: What the bar shows beside the count.
            line: The plain line (after ``[label]``); default ``done/total status``.
            plain: Whether this step prints a plain line when there is no terminal.
        """
        self.total = total
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total, status=status)
        elif plain:
            text = line if line is not None else f"{done}/{total} {status}"
            print(f"[{self.label}] {text}", file=sys.stderr, flush=True)


class RoundProgress(StepProgress):
    """Per-round progress of a federated run."""

    def __call__(self, record: RoundRecord) -> None:
        accuracy = "-" if record.accuracy is None else f"{record.accuracy:.4f}"
        status = (
            f"acc {accuracy}  t={record.sim_time_s:.1f}s  "
            f"E={record.cumulative_energy_j:.1f}J  dropped {len(record.dropped)}"
        )
        line = f"round {record.round}/{self.total} {status}"
        self.step(record.round, self.total, status, line)


def _split(names: str) -> list[str]:
    return [name.strip() for name in names.split(",") if name.strip()]


def _engine(name: str) -> Engine:
    if name not in ENGINES:
        raise InputError(
            "command line",
            "--engine",
            f"unknown engine '{name}'; known: {', '.join(sorted(ENGINES))}",
        )
    return make_engine(name)


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
    chosen = _engine(engine)
    _guard_out(out, resume)
    setup = build_setup(config, source)
    out.mkdir(parents=True, exist_ok=True)
    write_config(out, setup)
    summaries = []
    with contextlib.closing(chosen):  # one Flower simulation serves every strategy
        for name in strategies:
            with RoundProgress(name, config.training.rounds) as progress:
                summaries.append(
                    run_strategy(
                        setup,
                        name,
                        chosen.client_executor,
                        out / name,
                        resume=resume,
                        on_round=progress,
                    )
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
    chosen = _engine(engine)
    directory = out or Path("runs") / f"{config.stem}-{strategy}"
    _guard_out(directory, resume)
    setup = build_setup(run_config, config)
    directory.mkdir(parents=True, exist_ok=True)
    write_config(directory, setup)
    with contextlib.closing(chosen), RoundProgress(strategy, run_config.training.rounds) as bar:
        run_strategy(
            setup, strategy, chosen.client_executor, directory, resume=resume, on_round=bar
        )
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


class ExploreProgress(StepProgress):
    """DSE progress over the generations; a plain line per generation without a terminal."""

    def __init__(self, total: int) -> None:
        super().__init__("explore", total)

    def __call__(self, progress: DseProgress) -> None:
        status = f"{progress.evaluations} vectors evaluated ({progress.computed} trained)"
        line = f"generation {progress.generation}/{self.total} {status}"
        plain = progress.event == "generation"
        self.step(progress.generation, self.total, status, line, plain=plain)


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
    _refuse_overwrite([out], force)
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
    text = importlib.resources.files("leantrain").joinpath("demo.toml").read_text("utf-8")
    return parse_config(tomllib.loads(text), "demo.toml")


@app.command()
@exits_cleanly
def demo(
    out: Annotated[Path, typer.Option(help="Run directory.")] = Path("runs/demo"),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted demo.")] = False,
) -> None:
    """The embedded default job: DISTREAL against the FedAvg baselines on bundled MNIST and a
    heterogeneous, time-varying fleet, then a PACT plan of a small problem."""
    config = demo_config()
    _compare(config, "demo.toml", config.strategies, out, "local", resume)
    print(f"report: {write_report(out)}")
    text = importlib.resources.files("leantrain").joinpath("demo_problem.toml").read_text("utf-8")
    problem = parse_problem(tomllib.loads(text), "demo_problem.toml")
    plan = _solve("pact", problem, DEFAULT_EPSILON)
    plan.save(out / "plan.json")
    plot_plan(problem, plan, out / "plan.png")
    _print_epochs(problem, plan)
    print(f"PACT plan: {out / 'plan.json'}, {out / 'plan.png'}")


#: The order of solvers in ``plan --compare``; any other registered solver follows.
_SOLVER_ORDER = ("pact", "exact", "no-prune", "greedy", "prune-first", "full")


def _solver_names() -> list[str]:
    return [n for n in _SOLVER_ORDER if n in SOLVERS] + sorted(set(SOLVERS) - set(_SOLVER_ORDER))


def _skip_reason(name: str, problem: Problem) -> str:
    """Why solver ``name`` sits out a comparison on ``problem`` before it runs ("" when it does
    not): a solver may expose ``too_large(problem) -> str``, a size check up front."""
    check = getattr(SOLVERS[name], "too_large", None)
    return str(check(problem) or "") if callable(check) else ""


def _solve(name: str, problem: Problem, epsilon: float) -> Plan:
    """``name``'s plan of ``problem``.

    Raises:
        InputError: The ``exact`` search hit its size or time limit on this problem.
    """
    try:
        return make_solver(name, epsilon).solve(problem)
    except SearchLimitError as error:
        raise InputError(
            "command line", "--solver", f"{name}: {error}; the problem is too large for it"
        ) from None


def _print_epochs(problem: Problem, plan: Plan) -> None:
    table = Table(title=f"{plan.solver} plan ({plan.status}), {len(problem.node)} nodes")
    for column in ("epoch", "start (s)", "end (s)", "pruning", "nodes", "energy (J)", "loss after"):
        table.add_column(column, justify="right")
    for epoch in plan.epochs:
        table.add_row(
            str(epoch.index + 1),
            f"{epoch.start_s:.2f}",
            f"{epoch.end_s:.2f}",
            f"{epoch.pruning:g}",
            str(len(epoch.fractions)),
            f"{epoch.energy_j:.2f}",
            f"{epoch.loss_after:.4f}",
        )
    table.add_section()
    table.add_row(
        "total",
        "",
        f"{plan.duration_s:.2f}",
        "",
        "",
        f"{plan.energy_j:.2f}",
        f"{plan.final_loss:.4f}",
    )
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)
    print(
        f"energy {plan.energy_j:.6g} J, duration {plan.duration_s:.6g} s "
        f"(deadline {problem.target.deadline_s:g} s), final loss {plan.final_loss:.6g} "
        f"(target {problem.target.loss:g}), {len(plan.epochs)} epochs, "
        f"solved in {plan.solve_time_s:.3g} s"
    )


def _compare_solvers(
    problem: Problem, epsilon: float, chosen: str, chosen_plan: Plan | None
) -> dict[str, Plan]:
    """Solve ``problem`` with every registered solver and print one table."""
    plans: dict[str, Plan] = {}
    skipped: dict[str, str] = {}
    for name in _solver_names():
        reason = "" if name == chosen else _skip_reason(name, problem)
        if reason:
            skipped[name] = reason
        elif name == chosen and chosen_plan is not None:
            plans[name] = chosen_plan
        else:
            try:
                plans[name] = _solve(name, problem, epsilon)
            except InputError as error:
                skipped[name] = error.message
    reference = plans.get("pact")
    table = Table(title=f"solvers on {len(problem.node)} nodes, ε = {epsilon:g}")
    table.add_column("solver", no_wrap=True)
    for column in ("status", "energy (J)", "duration (s)", "final loss", "solve (s)", "vs pact"):
        table.add_column(column, justify="right")
    for name in _solver_names():
        if name in skipped:
            table.add_row(name, "skipped", "", "", "", "", "")
            continue
        plan = plans[name]
        if not plan.feasible:
            table.add_row(name, plan.status, "", "", "", f"{plan.solve_time_s:.3g}", "")
            continue
        ratio = (
            f"{plan.energy_j / reference.energy_j:.3f}"
            if reference is not None and reference.feasible and reference.energy_j > 0.0
            else ""
        )
        table.add_row(
            name,
            plan.status,
            f"{plan.energy_j:.2f}",
            f"{plan.duration_s:.2f}",
            f"{plan.final_loss:.4f}",
            f"{plan.solve_time_s:.3g}",
            ratio,
        )
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)
    for name, reason in skipped.items():
        print(f"note: {name} skipped: {reason}")
    return plans


@app.command("plan")
@exits_cleanly
def plan_command(
    problem: Annotated[Path, typer.Argument(help="PACT problem file (TOML).")],
    solver: Annotated[
        str, typer.Option(help="pact, exact, full, prune-first, greedy or no-prune.")
    ] = "pact",
    epsilon: Annotated[
        float, typer.Option(help="Granularity of the pact solver's approximations.")
    ] = DEFAULT_EPSILON,
    out: Annotated[
        Path, typer.Option(help="Plan to write (JSON); its figure goes beside it as <stem>.png.")
    ] = Path("plan.json"),
    compare: Annotated[
        bool, typer.Option(help="Also run every solver; table and <stem>-compare.png.")
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite existing outputs.")] = False,
) -> None:
    """Plan an energy-minimal training (PACT) that meets the loss target by the deadline."""
    if solver not in SOLVERS:
        raise InputError(
            "command line",
            "--solver",
            f"unknown solver '{solver}'; known: {', '.join(_solver_names())}",
        )
    if not epsilon > 0.0 or not epsilon < float("inf"):
        raise InputError("command line", "--epsilon", f"must be a positive number, got {epsilon}")
    if out.suffix == ".png":
        raise InputError("command line", "--out", "the plan is JSON; its figure takes <stem>.png")
    picture = out.with_name(f"{out.stem}.png")
    comparison = out.with_name(f"{out.stem}-compare.png")
    _refuse_overwrite([out, picture, *((comparison,) if compare else ())], force)
    spec = load_problem(problem)
    result = _solve(solver, spec, epsilon)
    plans = _compare_solvers(spec, epsilon, solver, result) if compare else {solver: result}
    if compare:
        plot_comparison(spec, plans, comparison)
    if not result.feasible:
        # Relaxation searches run many solves: use pact for exact, the solver itself otherwise.
        searcher = "pact" if solver == "exact" and "pact" in SOLVERS else solver
        relaxation = diagnose(spec, searcher, epsilon)
        message = relaxation.message
        if (
            solver not in ("pact", "exact")
            and "pact" in SOLVERS
            and make_solver("pact", epsilon).solve(spec).feasible
        ):
            message += "; the pact solver meets the original problem"
        notes = {**relaxation.notes(), "relaxation": message, "problem": str(problem.resolve())}
        replace(result, notes=notes).save(out)
        raise InfeasibleError(relaxation.binding, message)
    # The plan names its problem file, so that `execute` finds it without --problem.
    replace(result, notes={**result.notes, "problem": str(problem.resolve())}).save(out)
    plot_plan(spec, result, picture)
    _print_epochs(spec, result)
    written = f"{out}, {picture}" + (f" and {comparison}" if compare else "")
    print(f"wrote {written}")


def _numbers(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(item) for item in _split(text))
    except ValueError:
        raise InputError(
            "command line", option, f"not a comma-separated list of numbers: {text!r}"
        ) from None


def _refuse_overwrite(paths: Sequence[Path], force: bool, option: str = "--out") -> None:
    for path in paths:
        if path.exists() and not force:
            raise InputError(
                "command line", option, f"{path} already exists; pass --force to overwrite it"
            )


@app.command("profile")
@exits_cleanly
def profile_command(
    config: Annotated[Path, typer.Argument(help="Run config (TOML): data, model, fleet.")],
    out: Annotated[
        Path, typer.Option(help="Problem file to write (TOML); its fit plot goes beside it (.png).")
    ] = Path("problem.toml"),
    levels: Annotated[
        str, typer.Option(help="Pruning levels, ascending from 0.")
    ] = "0,0.25,0.5,0.75",
    epochs: Annotated[int, typer.Option(help="Training passes per level after the warm-up.")] = 8,
    warmup_epochs: Annotated[
        int, typer.Option(help="Passes of the unpruned model before pruning to each level.")
    ] = 1,
    holdout: Annotated[
        int, typer.Option(help="Last points per level held out of the fit (its error).")
    ] = 2,
    method: Annotated[
        str, typer.Option(help="fedavg (full-fleet rounds) or central (SGD on the pooled data).")
    ] = "fedavg",
    fractions: Annotated[str, typer.Option(help="Allowed data fractions.")] = "0,0.5,1",
    target_epochs: Annotated[
        int | None,
        typer.Option(help="Target = predicted level-0 loss after this many full epochs."),
    ] = None,
    deadline_factor: Annotated[
        float, typer.Option(help="Deadline = this x target-epochs x one full-fleet epoch.")
    ] = 2.0,
    max_epochs: Annotated[
        int | None, typer.Option(help="max_epochs of the problem (default 3 x target-epochs).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing outputs.")] = False,
) -> None:
    """Profile the model per pruning level and fit the loss predictor: a PACT problem file."""
    from leantrain.pact.profile import ProfileOptions, ProfileProgress, plot_profile, profile

    if out.suffix == ".png":
        raise InputError("command line", "--out", "the problem is TOML; its plot takes <stem>.png")
    picture = out.with_name(f"{out.stem}.png")
    _refuse_overwrite([out, picture], force)
    options = ProfileOptions(
        levels=_numbers(levels, "--levels"),
        method=method,  # type: ignore[arg-type]  # checked by ProfileOptions.check
        epochs=epochs,
        warmup_epochs=warmup_epochs,
        holdout=holdout,
        data_fractions=_numbers(fractions, "--fractions"),
        target_epochs=target_epochs,
        deadline_factor=deadline_factor,
        max_epochs=max_epochs,
    )
    options.check()
    setup = build_setup(load_config(config), config)
    total = options.warmup_epochs + len(options.levels) * options.epochs
    with StepProgress("profile", total) as progress:

        def report(event: ProfileProgress) -> None:
            progress.step(event.done, event.total, f"{event.stage}: loss {event.loss:.4f}")

        result = profile(setup, options, source=config, progress=report)
    result.save(out)
    plot_profile(result, picture)
    table = Table(title=f"profile of {setup.config.model.name} ({options.method} training)")
    for column in (
        "level",
        "MFLOP/sample",
        "bytes",
        "train memory",
        "a",
        "b",
        "c",
        "s0",
        "jump",
        "fit RMSE",
        "held-out RMSE",
        "max rel. err",
    ):
        table.add_column(column, justify="right")
    for level in result.levels:
        curve = level.fit.curve
        table.add_row(
            f"{level.pruning:g}",
            f"{level.flops_per_sample / 1e6:.4g}",
            f"{level.state_bytes:,}",
            f"{level.memory_bytes:,}",
            f"{curve.a:.4g}",
            f"{curve.b:.4g}",
            f"{curve.c:.4g}",
            f"{curve.s0:.4g}",
            f"{level.jump:.4f}",
            f"{level.fit.fit_rmse:.4f}",
            f"{level.fit.holdout_rmse:.4f}",
            f"{level.fit.holdout_max_rel_error:.1%}",
        )
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)
    target = result.problem.target
    print(
        f"initial loss {result.initial_loss:.4f}, after warm-up {result.warmup_loss:.4f}; "
        f"default target {target.loss:.4f}, deadline {target.deadline_s:.6g} s "
        f"({options.deadline_factor:g} x {options.target_epochs or options.epochs} x "
        f"{result.full_epoch_time_s:.6g} s)"
    )
    print(f"wrote {out} and {picture}")


@app.command("execute")
@exits_cleanly
def execute_command(
    plan: Annotated[Path, typer.Argument(help="Plan (JSON) written by leantrain plan.")],
    config: Annotated[
        Path, typer.Argument(help="Run config (TOML) the problem was profiled from.")
    ],
    problem: Annotated[
        Path | None,
        typer.Option(
            help="The plan's problem file (default: the one the plan names, else problem.toml "
            "beside the plan)."
        ),
    ] = None,
    replan: Annotated[
        bool, typer.Option(help="Re-plan with pact from the observed loss after every epoch.")
    ] = False,
    epsilon: Annotated[
        float, typer.Option(help="Granularity of the pact solver when re-planning.")
    ] = DEFAULT_EPSILON,
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default runs/<plan>-execute).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite existing outputs.")] = False,
    engine: Annotated[str, typer.Option(help="Where the nodes train: local or flower.")] = "local",
) -> None:
    """Run a PACT plan with real training; predicted vs realised loss, time and energy."""
    from leantrain.pact import read_plan
    from leantrain.pact.execute import ExecutedEpoch, execute_plan, write_execution

    if not epsilon > 0.0 or not epsilon < float("inf"):
        raise InputError("command line", "--epsilon", f"must be a positive number, got {epsilon}")
    chosen_engine = _engine(engine)
    directory = out or Path("runs") / f"{plan.stem}-execute"
    _refuse_overwrite([directory / "execution.json", directory / "execution.png"], force)
    given = read_plan(plan)
    recorded = given.notes.get("problem")
    problem_path = problem or (Path(recorded) if recorded else plan.with_name("problem.toml"))
    if problem is None and not problem_path.is_file():
        raise InputError(
            "command line", "--problem", f"no {problem_path}; pass the plan's problem file"
        )
    spec = load_problem(problem_path)
    setup = build_setup(load_config(config), config)
    with StepProgress("execute", len(given.epochs)) as progress:

        def report(epoch: ExecutedEpoch, total: int) -> None:
            progress.step(
                epoch.index + 1,
                total,
                f"ρ={epoch.pruning:g} nodes {len(epoch.nodes)}: loss {epoch.realised_loss:.4f} "
                f"(predicted {epoch.predicted_loss:.4f})",
            )

        with contextlib.closing(chosen_engine):
            trainer = chosen_engine.node_trainer(setup)
            result = execute_plan(
                given,
                spec,
                setup,
                replan=replan,
                epsilon=epsilon,
                plan_source=plan,
                problem_source=problem_path,
                on_epoch=report,
                trainer=trainer,
            )
            trainer.close()
    written, picture = write_execution(result, directory)
    table = Table(title=f"execution of {plan} ({'re-planned' if replan else 'as planned'})")
    for column in (
        "epoch",
        "pruning",
        "nodes",
        "predicted loss",
        "one-step",
        "realised loss",
        "time (s)",
        "energy (J)",
    ):
        table.add_column(column, justify="right")
    for epoch in result.epochs:
        table.add_row(
            str(epoch.index + 1) + ("*" if epoch.replanned else ""),
            f"{epoch.pruning:g}",
            str(len(epoch.nodes)),
            f"{epoch.predicted_loss:.4f}",
            f"{epoch.one_step_loss:.4f}",
            f"{epoch.realised_loss:.4f}",
            f"{epoch.time_s:.2f}",
            f"{epoch.energy_j:.2f}",
        )
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)
    errors = result.loss_errors()
    print(
        f"final loss {result.final_loss:.4f} (target {result.target_loss:.4g}: "
        f"{'met' if result.target_met else 'missed'}), time {result.time_s:.6g} s (deadline "
        f"{result.deadline_s:.6g} s), energy {result.energy_j:.6g} J; predicted-loss error "
        f"mean {errors['mean_abs']:.4f} ({errors['mean_rel']:.1%}), max {errors['max_abs']:.4f} "
        f"({errors['max_rel']:.1%})"
    )
    for note in result.notes:
        print(f"note: {note}")
    print(f"wrote {written} and {picture}")


def main() -> None:
    """Console entry point."""
    app()
