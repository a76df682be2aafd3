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
  ``leantrain execute`` does, writing ``execution.json`` and ``execution.png`` into ``out``
  (default ``runs/<plan>-execute-flower``); ``replan`` re-plans after every epoch at the plan's
  ε; ``force`` overwrites an earlier execution.

Both run the flows of :mod:`leantrain.workflows`, the same as the command line; the round loop
runs here and the device work in the SuperNodes' ClientApps, through
:class:`~leantrain.engines.flower.executor.FlowerClientExecutor` on this ServerApp's grid.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flwr.app import Context
from flwr.common import log
from flwr.serverapp import Grid, ServerApp

from leantrain import workflows
from leantrain.config import load_config
from leantrain.engines.flower.executor import FlowerClientExecutor
from leantrain.engines.flower.link import DirectLink
from leantrain.fl.executor import ClientExecutor
from leantrain.fl.records import RoundRecord
from leantrain.fl.setup import FederatedSetup

__all__ = ["RUN_CONFIG", "server_app"]

server_app = ServerApp()

#: Where the ServerApp's values come from; they keep their names (``out``, ``resume=true``).
RUN_CONFIG = workflows.Origin("flwr run --run-config", renames={"resume": "resume=true"})


def _text(context: Context, key: str, default: str = "") -> str:
    value = context.run_config.get(key, default)
    if not isinstance(value, str):
        raise RUN_CONFIG.error(key, f"must be a string, got {value!r}")
    return value


def _flag(context: Context, key: str) -> bool:
    value = context.run_config.get(key, False)
    if not isinstance(value, bool):
        raise RUN_CONFIG.error(key, f"must be true or false, got {value!r}")
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
        raise RUN_CONFIG.error("config", "name the run config (TOML) on the SuperLink's machine")
    config = load_config(config_path)
    link = DirectLink(grid)

    def executors(setup: FederatedSetup) -> ClientExecutor:
        return FlowerClientExecutor(link, setup)

    plan_path = _text(context, "plan")
    if plan_path:
        plan = Path(plan_path)
        outcome = workflows.execute(
            plan,
            config,
            config_path,
            executors,
            Path(_text(context, "out") or f"runs/{plan.stem}-execute-flower"),
            problem_path=Path(problem) if (problem := _text(context, "problem")) else None,
            replan=_flag(context, "replan"),
            force=_flag(context, "force"),
            origin=RUN_CONFIG,
        )
        epochs = len(outcome.result.epochs)
        log(logging.INFO, "executed %s: %d epochs, wrote %s", plan, epochs, outcome.path)
        return
    strategy = _text(context, "strategy", "fedavg")
    out = Path(_text(context, "out") or f"runs/{config_path.stem}-{strategy}-flower")
    summary = workflows.train(
        config,
        config_path,
        strategy,
        executors,
        out,
        resume=_flag(context, "resume"),
        on_round=_report,
        origin=RUN_CONFIG,
    )
    log(logging.INFO, "%s: final accuracy %s in %s", strategy, summary.final_accuracy, out)
