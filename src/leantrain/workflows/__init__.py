"""The application layer: the flows both front ends run (docs/architecture.md, 'One application
layer').

The command line (:mod:`leantrain.cli`) and the Flower ServerApp
(:mod:`leantrain.engines.flower.server_app`) only parse their inputs, call a flow here and present
its result, so the two cannot drift apart:

* :mod:`~leantrain.workflows.inputs`: how values are named in errors (:class:`Origin`) and the
  checks every flow shares (run-directory guard, no silent overwrite, engine, strategies, ε);
* :mod:`~leantrain.workflows.federated`: ``train``, ``compare``, ``explore``;
* :mod:`~leantrain.workflows.planning`: ``plan`` with the solver comparison and the diagnosis of
  an infeasible problem;
* :mod:`~leantrain.workflows.profiling` and :mod:`~leantrain.workflows.execution`: PACT's
  ``profile`` and ``execute``;
* :mod:`~leantrain.workflows.default_job`: ``demo``.

Importing the package imports neither torch nor Flower: its modules import only the standard
library, the registry and each other at load time, and the flows that train import the runtime
when they run, so the package imports them all directly; the planning flow stays on the numpy-only
planner.
"""

from __future__ import annotations

from leantrain.workflows.default_job import (
    DemoOutcome,
    demo,
    demo_config,
    demo_pact_config,
    demo_problem,
)
from leantrain.workflows.execution import ExecuteOutcome, execute
from leantrain.workflows.federated import (
    ExecutorFactory,
    ExploreOutcome,
    RoundProgressFactory,
    cache_path_of,
    compare,
    explore,
    train,
)
from leantrain.workflows.inputs import (
    ARGUMENTS,
    COMMAND_LINE,
    Origin,
    check_epsilon,
    check_strategies,
    engine,
    guard_run_dir,
    refuse_overwrite,
)
from leantrain.workflows.planning import (
    SOLVER_ORDER,
    PlanOutcome,
    SolverComparison,
    compare_solvers,
    plan,
    solve,
    solver_names,
)
from leantrain.workflows.profiling import ProfileOutcome, profile

__all__ = [
    "ARGUMENTS",
    "COMMAND_LINE",
    "SOLVER_ORDER",
    "DemoOutcome",
    "ExecuteOutcome",
    "ExecutorFactory",
    "ExploreOutcome",
    "Origin",
    "PlanOutcome",
    "ProfileOutcome",
    "RoundProgressFactory",
    "SolverComparison",
    "cache_path_of",
    "check_epsilon",
    "check_strategies",
    "compare",
    "compare_solvers",
    "demo",
    "demo_config",
    "demo_pact_config",
    "demo_problem",
    "engine",
    "execute",
    "explore",
    "guard_run_dir",
    "plan",
    "profile",
    "refuse_overwrite",
    "solve",
    "solver_names",
    "train",
]
