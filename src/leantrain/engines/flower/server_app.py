"""leantrain's ServerApp for a real Flower deployment (SuperLink and SuperNodes, see
``docs/flower.md``).

Flower's SuperLink starts it for ``flwr run deploy/flower <superlink>``; its run config (the
``[tool.flwr.app.config]`` of ``deploy/flower/pyproject.toml``, overridden with ``flwr run
--run-config``) says what to do, with paths on the SuperLink's machine:

* ``config``: the run config (TOML), required;
* ``strategy``: the strategy to train (default ``fedavg``);
* ``out``: the run directory (default ``runs/<config>-<strategy>-flower``), written exactly as
  ``leantrain train`` writes it;
* ``resume``: continue the run in ``out`` from its newest checkpoint;
* ``plan`` (and ``problem``, default the one the plan names): execute this PACT plan instead, as
  ``leantrain execute`` does, writing ``execution.json`` and ``execution.png`` into ``out``.

The round loop runs here and the device work in the SuperNodes' ClientApps, through
:class:`~leantrain.engines.flower.executor.FlowerClientExecutor` on this ServerApp's grid.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flwr.app import Context
from flwr.common import log
from flwr.serverapp import Grid, ServerApp

import leantrain.distreal  # noqa: F401 - registers distreal and uniform
from leantrain.config import load_config
from leantrain.engines.flower.executor import FlowerClientExecutor, FlowerNodeTrainer
from leantrain.engines.flower.link import DirectLink
from leantrain.errors import InputError
from leantrain.fl import FederatedSetup, RoundRecord, build_setup
from leantrain.fl.run import check_strategies, run_strategy, write_config
from leantrain.pact import read_plan
from leantrain.pact.execute import execute_plan, write_execution
from leantrain.pact.problem import load_problem
from leantrain.report import load_run_dir, write_figures

__all__ = ["server_app"]

server_app = ServerApp()

_SOURCE = "flwr run --run-config"


def _text(context: Context, key: str, default: str = "") -> str:
    value = context.run_config.get(key, default)
    if not isinstance(value, str):
        raise InputError(_SOURCE, key, f"must be a string, got {value!r}")
    return value


def _flag(context: Context, key: str) -> bool:
    value = context.run_config.get(key, False)
    if not isinstance(value, bool):
        raise InputError(_SOURCE, key, f"must be true or false, got {value!r}")
    return value


def _report(record: RoundRecord) -> None:
    accuracy = "-" if record.accuracy is None else f"{record.accuracy:.4f}"
    log(
        logging.INFO,
        "round %d: acc %s  t=%.1fs  E=%.1fJ  dropped %d",
        record.round,
        accuracy,
        record.sim_time_s,
        record.cumulative_energy_j,
        len(record.dropped),
    )


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """Train a strategy, or execute a PACT plan, on the connected SuperNodes."""
    config_path = Path(_text(context, "config"))
    if not config_path.name:
        raise InputError(_SOURCE, "config", "name the run config (TOML) on the SuperLink's machine")
    config = load_config(config_path)
    setup = build_setup(config, config_path)
    link = DirectLink(grid)
    plan_path = _text(context, "plan")
    if plan_path:
        _execute(context, setup, link, Path(plan_path))
        return
    strategy = _text(context, "strategy", "fedavg")
    check_strategies([strategy], _SOURCE)
    out = Path(_text(context, "out") or f"runs/{config_path.stem}-{strategy}-flower")
    resume = _flag(context, "resume")
    if not resume and out.is_dir() and any(out.iterdir()):
        raise InputError(
            _SOURCE, "out", f"{out} already holds files; set resume=true or change out"
        )
    out.mkdir(parents=True, exist_ok=True)
    write_config(out, setup)
    summary = run_strategy(
        setup,
        strategy,
        lambda s: FlowerClientExecutor(link, s),
        out,
        resume=resume,
        on_round=_report,
    )
    write_figures(out, load_run_dir(out), config.training.accuracy_targets)
    log(logging.INFO, "%s: final accuracy %s in %s", strategy, summary.final_accuracy, out)


def _execute(context: Context, setup: FederatedSetup, link: DirectLink, plan_path: Path) -> None:
    """Execute the PACT plan at ``plan_path`` with the nodes' epochs in the ClientApps."""
    plan = read_plan(plan_path)
    recorded = plan.notes.get("problem")
    problem_path = Path(
        _text(context, "problem") or (recorded or str(plan_path.with_name("problem.toml")))
    )
    problem = load_problem(problem_path)
    out = Path(_text(context, "out") or f"runs/{plan_path.stem}-execute-flower")
    trainer = FlowerNodeTrainer(link, setup)
    result = execute_plan(
        plan,
        problem,
        setup,
        replan=_flag(context, "replan"),
        plan_source=plan_path,
        problem_source=problem_path,
        trainer=trainer,
    )
    written, _ = write_execution(result, out)
    log(logging.INFO, "executed %s: %d epochs, wrote %s", plan_path, len(result.epochs), written)
