"""Whether a plan, its problem and a run config fit together (docs/pact-profile-execute.md,
'Execute')."""

from __future__ import annotations

from pathlib import Path

from leantrain.errors import InputError
from leantrain.fl.setup import FederatedSetup
from leantrain.nn import model_cost
from leantrain.pact.plan import Decision, Plan, check_decision
from leantrain.pact.problem import Problem

__all__ = ["TOLERANCE", "check_plan", "close"]

#: Relative tolerance when checking that a problem and a config describe the same model and data.
TOLERANCE = 1e-6


def close(a: float, b: float) -> bool:
    """Whether ``a`` and ``b`` agree within :data:`TOLERANCE` (relative, absolute below 1)."""
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def check_plan(
    plan: Plan,
    problem: Problem,
    setup: FederatedSetup,
    *,
    plan_source: str | Path = "<plan>",
    problem_source: str | Path = "<problem>",
) -> list[Decision]:
    """The plan's decisions, after checking that plan, problem and config fit together.

    Raises:
        InputError: The plan has no epochs; an epoch's level is not a level of the problem; a
            node is not a device of the config's fleet or not a node of the problem; a decision
            breaks a rule of the problem (memory, fractions, decreasing levels); the problem's
            node holds another number of samples than the device's partition; or the problem's
            unpruned model is not the config's.
    """
    if not plan.epochs:
        raise InputError(plan_source, "epochs", f"the plan is {plan.status}: nothing to execute")
    devices = {device.name: device for device in setup.fleet.devices}
    nodes = {node.name: node for node in problem.node}
    decisions: list[Decision] = []
    level = 0
    for epoch in plan.epochs:
        where = f"epochs[{epoch.index}]"
        if epoch.pruning not in problem.model.levels:
            raise InputError(
                plan_source,
                f"{where}.pruning",
                f"level {epoch.pruning:g} is not one of the profile's levels "
                f"{[float(x) for x in problem.model.levels]} ({problem_source})",
            )
        for name in epoch.fractions:
            if name not in devices:
                shown = ", ".join(list(devices)[:6]) + (", ..." if len(devices) > 6 else "")
                raise InputError(
                    plan_source,
                    f"{where}.fractions",
                    f"node {name!r} is not a device of the config's fleet ({shown})",
                )
            if name not in nodes:
                raise InputError(
                    plan_source,
                    f"{where}.fractions",
                    f"node {name!r} is not a node of the problem ({problem_source})",
                )
            expected = len(setup.partitions[devices[name].index])
            if nodes[name].samples != expected:
                raise InputError(
                    problem_source,
                    f"node[{name}].samples",
                    f"{nodes[name].samples}, but the config gives device {name!r} "
                    f"{expected} samples (profile the problem from this config)",
                )
        decision = Decision(problem.level_index(epoch.pruning), dict(epoch.fractions))
        reason = check_decision(problem, decision, level)
        if reason:
            raise InputError(plan_source, where, reason)
        decisions.append(decision)
        level = decision.level
    if len(decisions) > problem.options.max_epochs:
        raise InputError(
            plan_source,
            "epochs",
            f"{len(decisions)} epochs exceed max_epochs {problem.options.max_epochs}",
        )
    flops = model_cost(setup.build_model(), setup.data.train.input_shape).train_flops_per_sample
    if not close(flops, problem.model.flops_per_sample[0]):
        raise InputError(
            problem_source,
            "model.flops_per_sample",
            f"{problem.model.flops_per_sample[0]:.6g} at level 0, but the config's model "
            f"{setup.config.model.name!r} needs {flops:.6g}: profile the problem from this config",
        )
    return decisions
