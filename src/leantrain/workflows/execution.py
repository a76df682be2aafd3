"""The execution flow: a PACT plan carried out with real training (docs/pact-profile-execute.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from leantrain.workflows.federated import ExecutorFactory
from leantrain.workflows.inputs import ARGUMENTS, Origin, check_epsilon, refuse_overwrite
from leantrain.workflows.written import Written

if TYPE_CHECKING:
    from leantrain.config import RunConfig
    from leantrain.pact.execute import ExecutedEpoch, ExecutionResult

__all__ = ["ExecuteOutcome", "execute"]


#: What :func:`execute` ran and wrote: the result, ``execution.json`` and its figure.
ExecuteOutcome: TypeAlias = Written["ExecutionResult"]


def execute(
    plan_path: Path,
    config: RunConfig,
    config_source: Path | str,
    executors: ExecutorFactory | None,
    out: Path,
    *,
    problem_path: Path | None = None,
    replan: bool = False,
    stop_at_target: bool = False,
    epsilon: float | None = None,
    force: bool = False,
    on_epoch: Callable[[ExecutedEpoch, int], None] | None = None,
    origin: Origin = ARGUMENTS,
) -> ExecuteOutcome:
    """Carry the plan at ``plan_path`` out with real training (docs/pact-profile-execute.md).

    Args:
        plan_path: The plan (JSON).
        config: The run config the problem was profiled from.
        config_source: Its file, for messages.
        executors: Where the nodes' epochs run; in this process when None.
        out: The directory of ``execution.json`` and ``execution.png``.
        problem_path: The plan's problem file; default the one the plan names, else
            ``problem.toml`` beside the plan.
        replan: Re-plan with ``pact`` from the observed loss after every epoch.
        stop_at_target: Without ``replan``, stop once the observed loss meets the target.
        epsilon: The granularity of those re-plans; None uses the plan's own ε.
        force: Overwrite an earlier execution in ``out``.
        on_epoch: Called after every epoch with it and the number of epochs planned so far.
        origin: Where the values came from, for errors.

    Raises:
        InputError: Existing outputs, a missing problem file, a bad ε, or a plan that does not
            fit its problem or the config.
    """
    from leantrain.fl.setup import build_setup
    from leantrain.pact.execute import execute_plan, write_execution
    from leantrain.pact.plan import read_plan
    from leantrain.pact.problem import load_problem
    from leantrain.pact.solver import DEFAULT_EPSILON

    refuse_overwrite([out / "execution.json", out / "execution.png"], force, origin)
    given = read_plan(plan_path)
    epsilon = (given.epsilon or DEFAULT_EPSILON) if epsilon is None else epsilon
    check_epsilon(epsilon, origin)
    recorded = given.notes.get("problem")
    path = problem_path or (
        Path(str(recorded)) if recorded else plan_path.with_name("problem.toml")
    )
    if problem_path is None and not path.is_file():
        raise origin.error("problem", f"no {path}; name the plan's problem file")
    problem = load_problem(path)
    setup = build_setup(config, config_source)
    executor = executors(setup) if executors is not None else None
    try:
        result = execute_plan(
            given,
            problem,
            setup,
            replan=replan,
            stop_at_target=stop_at_target,
            epsilon=epsilon,
            plan_source=plan_path,
            problem_source=path,
            on_epoch=on_epoch,
            executor=executor,
        )
    finally:
        if executor is not None:
            executor.close()
    written, picture = write_execution(result, out)
    return ExecuteOutcome(result, written, picture)
