"""``leantrain execute``: carry out a PACT plan with real training (docs/pact-profile-execute.md,
'Execute').

* :mod:`~leantrain.pact.execute.check`: plan, problem and config fit together (:func:`check_plan`);
* :mod:`~leantrain.pact.execute.run`: :func:`execute_plan`, one PACT epoch
  (:mod:`leantrain.pact.epoch`) after the other;
* :mod:`~leantrain.pact.execute.replan`: the remaining problem (:func:`remaining_problem`)
  and the online refit (:func:`progress_scale`);
* :mod:`~leantrain.pact.execute.result`: what happened (:class:`ExecutionResult`);
* :mod:`~leantrain.pact.execute.file`: ``execution.json`` (:func:`write_execution`,
  :func:`read_execution`);
* :mod:`~leantrain.pact.execute.plot`: ``execution.png`` (:func:`plot_execution`).
"""

from __future__ import annotations

from leantrain.pact.execute.check import check_plan
from leantrain.pact.execute.file import ExecutionFile, read_execution, write_execution
from leantrain.pact.execute.plot import plot_execution
from leantrain.pact.execute.replan import progress_scale, remaining_problem
from leantrain.pact.execute.result import ExecutedEpoch, ExecutionResult
from leantrain.pact.execute.run import execute_plan

__all__ = [
    "ExecutedEpoch",
    "ExecutionFile",
    "ExecutionResult",
    "check_plan",
    "execute_plan",
    "plot_execution",
    "progress_scale",
    "read_execution",
    "remaining_problem",
    "write_execution",
]
