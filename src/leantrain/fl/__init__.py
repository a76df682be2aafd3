"""The engine-agnostic federated runtime: round loop, strategies, aggregation, local updates
(docs/runtime.md). Strategies and local policies are found by name through :data:`STRATEGIES`
and :data:`POLICIES` (:mod:`leantrain.registry`); every name here is imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leantrain.lazy import lazy_exports

if TYPE_CHECKING:
    from leantrain.fl.aggregate import WeightedUpdate, is_finite_state, masked_average
    from leantrain.fl.evaluate import Evaluator
    from leantrain.fl.executor import ClientExecutor
    from leantrain.fl.policy import BatchDecision, LocalPolicy, LocalProgress, Stop
    from leantrain.fl.records import RoundRecord, RunSummary, summarise
    from leantrain.fl.run_dir import RunResult, load_run_dir
    from leantrain.fl.run_files import read_rounds
    from leantrain.fl.setup import FederatedSetup, build_setup
    from leantrain.fl.store import RunState, RunStore
    from leantrain.fl.strategy import Instruction, Strategy
    from leantrain.fl.task import ClientTask, ClientUpdate
    from leantrain.registry import POLICIES, STRATEGIES

__all__ = [
    "POLICIES",
    "STRATEGIES",
    "BatchDecision",
    "ClientExecutor",
    "ClientTask",
    "ClientUpdate",
    "Evaluator",
    "FederatedSetup",
    "Instruction",
    "LocalPolicy",
    "LocalProgress",
    "RoundRecord",
    "RunResult",
    "RunState",
    "RunStore",
    "RunSummary",
    "Stop",
    "Strategy",
    "WeightedUpdate",
    "build_setup",
    "is_finite_state",
    "load_run_dir",
    "masked_average",
    "read_rounds",
    "summarise",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "leantrain.registry": ["POLICIES", "STRATEGIES"],
        "aggregate": ["WeightedUpdate", "is_finite_state", "masked_average"],
        "evaluate": ["Evaluator"],
        "executor": ["ClientExecutor"],
        "policy": ["BatchDecision", "LocalPolicy", "LocalProgress", "Stop"],
        "records": ["RoundRecord", "RunSummary", "summarise"],
        "run_dir": ["RunResult", "load_run_dir"],
        "run_files": ["read_rounds"],
        "setup": ["FederatedSetup", "build_setup"],
        "store": ["RunState", "RunStore"],
        "strategy": ["Instruction", "Strategy"],
        "task": ["ClientTask", "ClientUpdate"],
    },
)
