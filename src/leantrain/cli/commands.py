"""The ``leantrain`` commands (docs/cli.md): each parses its options, runs one flow of
:mod:`leantrain.workflows` and prints its result through :mod:`leantrain.cli.tables`."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from leantrain import workflows
from leantrain.cli import tables
from leantrain.cli.progress import ExploreProgress, RoundProgress, StepProgress, round_progress
from leantrain.errors import InfeasibleError, InputError
from leantrain.workflows import COMMAND_LINE

if TYPE_CHECKING:
    from leantrain.config import RunConfig
    from leantrain.pact.execute import ExecutedEpoch
    from leantrain.pact.profile import ProfileProgress

__all__ = ["EPSILON_HELP", "app", "exits_cleanly", "main"]

app = typer.Typer(
    name="leantrain",
    help="Resource-aware cooperative training of DNNs on heterogeneous device fleets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


#: The default ε as ``--help`` shows it, without importing the planner (a test checks that it is
#: :data:`leantrain.pact.solver.DEFAULT_EPSILON`).
EPSILON_HELP = "0.01"

P = ParamSpec("P")
R = TypeVar("R")


#: Where the profile options' own errors come from (their fields are the options' names).
_PROFILE_OPTIONS = "profile options"


def exits_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn InputError into exit code 2 and InfeasibleError into 3, with one line on stderr."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            if error.file == _PROFILE_OPTIONS:  # the options are flags here
                error = COMMAND_LINE.error(error.field, error.message)
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


#: Arguments and options several commands share.
_RunConfigArgument = Annotated[Path, typer.Argument(help="Run config (TOML).")]
_ClientEngine = Annotated[str, typer.Option(help="Where clients run: local or flower.")]
_RunDirectory = Annotated[Path | None, typer.Option(help="Run directory.")]
_Force = Annotated[bool, typer.Option(help="Overwrite existing outputs.")]


def _split(names: str) -> list[str]:
    return [name.strip() for name in names.split(",") if name.strip()]


@contextlib.contextmanager
def _federated(
    config: Path, strategies: Sequence[str] | None, engine: str
) -> Iterator[tuple[RunConfig, list[str], workflows.ExecutorFactory]]:
    """The config, the strategies (default: the config's), all checked, and the engine's
    executors while the engine is open (one Flower simulation serves every strategy)."""
    from leantrain.config import load_config

    run_config = load_config(config)
    names = list(strategies) if strategies is not None else list(run_config.strategies)
    workflows.check_strategies(names, COMMAND_LINE)
    with contextlib.closing(workflows.engine(engine, COMMAND_LINE)) as chosen:
        yield run_config, names, chosen.client_executor


@app.command()
@exits_cleanly
def train(
    config: _RunConfigArgument,
    strategy: Annotated[str, typer.Option(help="Strategy to run.")] = "fedavg",
    engine: _ClientEngine = "local",
    out: _RunDirectory = None,
    resume: Annotated[bool, typer.Option(help="Continue from the newest checkpoint.")] = False,
) -> None:
    """Run one federated training."""
    directory = out or Path("runs") / f"{config.stem}-{strategy}"
    with (
        _federated(config, [strategy], engine) as (run_config, _, executors),
        RoundProgress(strategy, run_config.training.rounds) as progress,
    ):
        workflows.train(
            run_config,
            config,
            strategy,
            executors,
            directory,
            resume=resume,
            on_round=progress,
            origin=COMMAND_LINE,
        )
    tables.print_table(directory, run_config.training.accuracy_targets)


@app.command()
@exits_cleanly
def compare(
    config: _RunConfigArgument,
    strategies: Annotated[
        str | None, typer.Option(help="Comma-separated strategies (default: the config's).")
    ] = None,
    engine: _ClientEngine = "local",
    out: _RunDirectory = None,
    resume: Annotated[bool, typer.Option(help="Continue each strategy's run.")] = False,
) -> None:
    """Run several strategies on the same fleet, data and seed; one table, shared plots."""
    directory = out or Path("runs") / f"{config.stem}-compare"
    given = _split(strategies) if strategies else None
    with _federated(config, given, engine) as (run_config, names, executors):
        workflows.compare(
            run_config,
            config,
            names,
            executors,
            directory,
            resume=resume,
            progress=round_progress(run_config.training.rounds),
            origin=COMMAND_LINE,
        )
    tables.print_table(directory, run_config.training.accuracy_targets)


@app.command()
@exits_cleanly
def report(directory: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Write a markdown report with figures for a run directory."""
    from leantrain.report import write_report

    print(f"wrote {write_report(directory)}")


@app.command()
@exits_cleanly
def explore(
    config: _RunConfigArgument,
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
    from leantrain.config import load_config

    if out.suffix == ".png":  # before reading the config: the flow checks it again
        raise COMMAND_LINE.error("out", "the front is JSON; its plot takes <stem>.png")
    run_config = load_config(config)
    try:
        with ExploreProgress(run_config.distreal.dse.generations) as progress:
            outcome = workflows.explore(
                run_config,
                config,
                out,
                force=force,
                cache=cache,
                progress=progress,
                origin=COMMAND_LINE,
            )
    except KeyboardInterrupt:
        kept = f"; the evaluations so far are kept in {workflows.cache_path_of(out)}"
        print(f"interrupted{kept if cache else ''}", file=sys.stderr)
        raise typer.Exit(130) from None
    tables.print_front(outcome.front)
    print(f"wrote {outcome.path} and {outcome.picture}")


@app.command()
@exits_cleanly
def demo(
    out: Annotated[Path, typer.Option(help="Run directory.")] = Path("runs/demo"),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted demo.")] = False,
) -> None:
    """The embedded default job: DISTREAL against the baselines on bundled MNIST and a
    heterogeneous, time-varying fleet, then a PACT plan of a profiled problem, executed."""
    config = workflows.demo_config()
    chosen = workflows.engine("local", COMMAND_LINE)
    with contextlib.closing(chosen):
        outcome = workflows.demo(
            out,
            chosen.client_executor,
            config=config,
            resume=resume,
            progress=round_progress(config.training.rounds),
        )
    tables.print_table(out, config.training.accuracy_targets)
    print(f"report: {outcome.report}")
    tables.print_plan_line(outcome.problem, outcome.plan)
    print(f"PACT plan (every epoch): {outcome.plan_path}, {outcome.picture}")
    executed = outcome.execution
    errors = executed.loss_errors()
    print(
        f"PACT plan executed: {len(executed.epochs)} epochs, realised loss "
        f"{executed.final_loss:.4f} against target {executed.target_loss:.4f} "
        f"({'met' if executed.target_met else 'missed'}), mean per-epoch prediction error "
        f"{errors['mean_rel']:.1%}, {executed.energy_j:.4g} J: {outcome.execution_picture}"
    )


@app.command("plan")
@exits_cleanly
def plan_command(
    problem: Annotated[Path, typer.Argument(help="PACT problem file (TOML).")],
    solver: Annotated[
        str, typer.Option(help="pact, exact, full, prune-first, greedy or no-prune.")
    ] = "pact",
    epsilon: Annotated[
        float | None,
        typer.Option(
            help=f"Granularity of the pact solver's approximations (default {EPSILON_HELP})."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Plan to write (JSON); its figure goes beside it as <stem>.png.")
    ] = Path("plan.json"),
    compare: Annotated[
        bool, typer.Option(help="Also run every solver; table and <stem>-compare.png.")
    ] = False,
    force: _Force = False,
) -> None:
    """Plan an energy-minimal training (PACT) that meets the loss target by the deadline."""
    outcome = workflows.plan(
        problem,
        solver=solver,
        epsilon=epsilon,
        out=out,
        compare=compare,
        force=force,
        origin=COMMAND_LINE,
    )
    if outcome.comparison is not None:
        tables.print_solvers(outcome.problem, outcome.epsilon, outcome.comparison)
    if outcome.relaxation is not None:
        raise outcome.relaxation.error()
    tables.print_epochs(outcome.problem, outcome.plan)
    from leantrain.pact.lagrange import certificate  # numpy only, and only for plan

    if line := certificate(outcome.plan):
        print(line)
    from leantrain.pact.solver import margin_note

    if line := margin_note(outcome.problem, outcome.plan):
        print(line)
    written = [outcome.path, outcome.picture, outcome.comparison_picture]
    shown = [str(path) for path in written if path is not None]
    print(f"wrote {', '.join(shown[:2])}" + (f" and {shown[2]}" if len(shown) > 2 else ""))


def _numbers(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(item) for item in _split(text))
    except ValueError:
        raise COMMAND_LINE.error(
            option, f"not a comma-separated list of numbers: {text!r}"
        ) from None


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
    participation: Annotated[
        str,
        typer.Option(
            help="Shares of the devices in the level-0 runs that fit gamma (fedavg; '' for none)."
        ),
    ] = "0.0625,0.25,0.5",
    participation_per_level: Annotated[
        bool,
        typer.Option(help="Fit gamma at every pruning level (runs repeated per level)."),
    ] = False,
    fraction_law: Annotated[
        str,
        typer.Option(
            help="How a data fraction f counts: steps (q*f^(1/gamma)*d) or samples (q*f*d)."
        ),
    ] = "steps",
    curve_family: Annotated[
        str, typer.Option(help="Family of the fitted loss curves: log-logistic or power.")
    ] = "log-logistic",
    # The defaults are ProfileOptions' (not imported here: that would load torch).
    min_share: Annotated[
        float, typer.Option(help="Least share of a whole-fleet epoch every epoch of a plan trains.")
    ] = 0.0,
    final_share: Annotated[
        float,
        typer.Option(help="Least share of a whole-fleet epoch the final epoch of a plan trains."),
    ] = 0.25,
    floor_draws: Annotated[
        int,
        typer.Option(
            help="One-epoch probes per share and level that fit the subset floor (0: none)."
        ),
    ] = 0,
    replicates: Annotated[
        int,
        typer.Option(
            help="Independent profiles (other seeds) pooled into one; sigma counts their spread."
        ),
    ] = 1,
    margin_model: Annotated[
        str,
        typer.Option(
            help="What the planning margin covers: loss (plans aim at target - k x sigma) or "
            "progress (plans count on exp(-k x sigma_p) of each epoch's predicted progress)."
        ),
    ] = "loss",
    margin: Annotated[
        float,
        typer.Option(help="k of the planning margin the problem file carries (options.margin)."),
    ] = 1.0,
    force: _Force = False,
) -> None:
    """Profile the model per pruning level and fit the loss predictor: a PACT problem file."""
    from leantrain.config import load_config
    from leantrain.pact.profile import ProfileOptions

    if out.suffix == ".png":  # before reading the config: the flow checks it again
        raise COMMAND_LINE.error("out", "the problem is TOML; its plot takes <stem>.png")
    options = ProfileOptions(
        levels=_numbers(levels, "levels"),
        method=method,  # type: ignore[arg-type]  # checked by ProfileOptions.check
        epochs=epochs,
        warmup_epochs=warmup_epochs,
        holdout=holdout,
        data_fractions=_numbers(fractions, "data_fractions"),
        target_epochs=target_epochs,
        deadline_factor=deadline_factor,
        max_epochs=max_epochs,
        participation=_numbers(participation, "participation"),
        participation_per_level=participation_per_level,
        fraction_law=fraction_law,  # type: ignore[arg-type]  # checked by ProfileOptions.check
        curve_family=curve_family,  # type: ignore[arg-type]  # checked by ProfileOptions.check
        min_share=min_share,
        final_share=final_share,
        floor_draws=floor_draws,
        replicates=replicates,
        margin_model=margin_model,  # type: ignore[arg-type]  # checked by ProfileOptions.check
        margin=margin,
    )
    options.check()
    run_config = load_config(config)
    with StepProgress("profile", options.passes) as progress:

        def report(event: ProfileProgress) -> None:
            progress.step(event.done, event.total, f"{event.stage}: loss {event.loss:.4f}")

        outcome = workflows.profile(
            run_config, config, options, out, force=force, progress=report, origin=COMMAND_LINE
        )
    result = outcome.result
    tables.print_profile(result, run_config.model.name, options.method)
    target = result.problem.target
    print(
        f"initial loss {result.initial_loss:.4f}, after warm-up {result.warmup_loss:.4f}; "
        f"default target {target.loss:.4f}, deadline {target.deadline_s:.6g} s "
        f"({options.deadline_factor:g} x {options.target_epochs or options.epochs} x "
        f"{result.full_epoch_time_s:.6g} s)"
    )
    print(f"wrote {outcome.path} and {outcome.picture}")


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
    stop_at_target: Annotated[
        bool,
        typer.Option(
            help="Stop once the observed loss meets the target (implied by --replan) rather than "
            "run the plan's remaining epochs."
        ),
    ] = False,
    epsilon: Annotated[
        float | None,
        typer.Option(help="Granularity of the pact solver when re-planning (default: the plan's)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default runs/<plan>-execute).")
    ] = None,
    force: _Force = False,
    engine: Annotated[str, typer.Option(help="Where the nodes train: local or flower.")] = "local",
) -> None:
    """Run a PACT plan with real training; predicted vs realised loss, time and energy."""
    from leantrain.config import load_config

    if epsilon is not None:
        workflows.check_epsilon(epsilon, COMMAND_LINE)
    chosen = workflows.engine(engine, COMMAND_LINE)
    directory = out or Path("runs") / f"{plan.stem}-execute"
    with contextlib.closing(chosen), StepProgress("execute", 0) as progress:

        def report(epoch: ExecutedEpoch, total: int) -> None:
            progress.step(
                epoch.index + 1,
                total,
                f"ρ={epoch.pruning:g} nodes {len(epoch.nodes)}: loss {epoch.realised_loss:.4f} "
                f"(predicted {epoch.predicted_loss:.4f})",
            )

        outcome = workflows.execute(
            plan,
            load_config(config),
            config,
            chosen.client_executor,
            directory,
            problem_path=problem,
            replan=replan,
            stop_at_target=stop_at_target,
            epsilon=epsilon,
            force=force,
            on_epoch=report,
            origin=COMMAND_LINE,
        )
    tables.print_execution(outcome.result, f"execution of {plan} ({outcome.result.mode})")
    print(f"wrote {outcome.path} and {outcome.picture}")


def main() -> None:
    """Console entry point."""
    app()
