"""The engine-agnostic federated runtime: round loop, strategies, aggregation, local updates."""

from __future__ import annotations

from leantrain.fl import fedavg as _fedavg  # noqa: F401 - registers the FedAvg baselines
from leantrain.fl import feddropout as _feddropout  # noqa: F401 - registers feddropout
from leantrain.fl import fjord as _fjord  # noqa: F401 - registers fjord
from leantrain.fl import heterofl as _heterofl  # noqa: F401 - registers heterofl
from leantrain.fl.aggregate import WeightedUpdate, is_finite_state, masked_average
from leantrain.fl.evaluate import Evaluator
from leantrain.fl.executor import ClientExecutor
from leantrain.fl.policy import POLICIES, BatchDecision, LocalPolicy, LocalProgress, Stop
from leantrain.fl.records import RoundRecord, RunSummary, read_rounds, summarise
from leantrain.fl.setup import FederatedSetup, build_setup
from leantrain.fl.store import RunState, RunStore
from leantrain.fl.strategy import STRATEGIES, Instruction, Strategy, register_strategy
from leantrain.fl.task import ClientTask, ClientUpdate

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
    "RunState",
    "RunStore",
    "RunSummary",
    "Stop",
    "Strategy",
    "WeightedUpdate",
    "build_setup",
    "is_finite_state",
    "masked_average",
    "read_rounds",
    "register_strategy",
    "summarise",
]
