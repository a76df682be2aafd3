"""The strategy interface and the synchronous round loop (docs/runtime.md, 'The round loop').

:meth:`Strategy.start` is the template method: select devices, configure each, run the local
updates on an executor, screen and aggregate the updates, evaluate, record and checkpoint. A
strategy supplies :meth:`Strategy.instruct` (which local policy each device runs, with what
options) and may override selection, configuration and aggregation.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from leantrain.fl.aggregate import WeightedUpdate, is_finite_state, masked_average
from leantrain.fl.executor import ClientExecutor
from leantrain.fl.faults import draw_fault
from leantrain.fl.records import RoundRecord
from leantrain.fl.schedule import round_lr
from leantrain.fl.setup import FederatedSetup
from leantrain.fl.store import RunState, RunStore
from leantrain.fl.task import ClientTask, ClientUpdate
from leantrain.fleet import Device
from leantrain.registry import STRATEGIES
from leantrain.seeding import numpy_rng

__all__ = [
    "STRATEGIES",
    "Instruction",
    "RoundCallback",
    "Strategy",
    "make_strategy",
]

Evaluate = Callable[[Mapping[str, torch.Tensor]], tuple[float, float]]
RoundCallback = Callable[[RoundRecord], None]


@dataclass(frozen=True)
class Instruction:
    """The local policy a device runs this round, and its options."""

    policy: str
    options: dict[str, Any] = field(default_factory=dict)


class Strategy(ABC):
    """A federated training method.

    Args:
        setup: The run's setup.

    Attributes:
        name: The registry name (a class attribute; see :data:`~leantrain.registry.STRATEGIES`).
        has_deadline: Whether rounds end at the deadline T (otherwise they wait for every device,
            up to the setup's timeout for devices that never answer).
    """

    name: ClassVar[str]
    has_deadline: ClassVar[bool] = True

    def __init__(self, setup: FederatedSetup) -> None:
        self.setup = setup

    # --- the steps a strategy supplies or overrides ---------------------------------------

    @abstractmethod
    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        """The local policy and options for ``device`` in round ``round_index``, which starts at
        simulated time ``round_start_s``."""

    def select(self, round_index: int) -> list[Device]:
        """Devices taking part in the round: a seeded uniform sample without replacement."""
        devices = self.setup.fleet.devices
        count = min(self.setup.config.training.devices_per_round, len(devices))
        rng = numpy_rng(self.setup.config.seed, "sampling", round_index)
        chosen = sorted(int(i) for i in rng.choice(len(devices), size=count, replace=False))
        return [devices[i] for i in chosen]

    def configure(
        self, round_index: int, round_start_s: float, devices: Sequence[Device]
    ) -> list[ClientTask]:
        """One task per selected device, with the round's scheduled learning rate."""
        config = self.setup.config
        has_deadline = self.uses_deadline()
        deadline = self.setup.deadline_s if has_deadline else None
        wait_limit = self.setup.deadline_s if has_deadline else self.setup.timeout_s
        lr = round_lr(config.training, round_index)
        tasks = []
        for device in devices:
            instruction = self.instruct(round_index, device, round_start_s)
            tasks.append(
                ClientTask(
                    round=round_index,
                    device_index=device.index,
                    round_start_s=round_start_s,
                    deadline_s=deadline,
                    wait_limit_s=wait_limit,
                    policy=instruction.policy,
                    options=instruction.options,
                    fault=draw_fault(config.faults, config.seed, round_index, device.index),
                    lr=lr,
                )
            )
        return tasks

    def uses_deadline(self) -> bool:
        """Whether this run's rounds end at the deadline T (:attr:`has_deadline` by default; a
        strategy whose settings remove the deadline overrides it)."""
        return self.has_deadline

    def aggregate(
        self,
        round_index: int,
        global_state: Mapping[str, torch.Tensor],
        updates: Sequence[ClientUpdate],
    ) -> dict[str, torch.Tensor]:
        """Count-normalised masked average of the accepted updates, weighted by samples."""
        weighted = [
            WeightedUpdate(u.state, float(u.num_samples), u.masks)
            for u in updates
            if u.state is not None
        ]
        return masked_average(global_state, weighted)

    def evaluation_state(self, state: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        """The state to evaluate for a global state (itself by default)."""
        return state

    def prepare(self, directory: Path) -> None:  # noqa: B027 - most strategies need nothing
        """Get ready before the first round; ``directory`` is the run directory, where the
        strategy may keep what it derived (e.g. DISTREAL's front)."""

    def state_dict(self) -> dict[str, Any]:
        """What the strategy keeps across rounds, for checkpoints (nothing by default)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:  # noqa: B027 - stateless default
        """Restore what :meth:`state_dict` returned."""

    # --- the template method ----------------------------------------------------------------

    def start(
        self,
        executor: ClientExecutor,
        evaluate: Evaluate,
        store: RunStore,
        *,
        resume: bool = False,
        on_round: RoundCallback | None = None,
    ) -> RunState:
        """Run the configured number of rounds, checkpointing after each.

        Args:
            executor: Runs the local updates.
            evaluate: Returns (accuracy, loss) of a global state.
            store: The run directory.
            resume: Continue from the newest checkpoint in ``store`` if there is one.
            on_round: Called with each round's record (progress display).

        Returns:
            The state after the last round.
        """
        training = self.setup.config.training
        state = store.latest() if resume else None
        if state is None:
            model = self.setup.build_model()
            state = RunState(0, 0.0, 0.0, {k: v.clone() for k, v in model.state_dict().items()})
        else:
            self.load_state_dict(state.strategy_state)
        for round_index in range(state.round + 1, training.rounds + 1):
            began = time.perf_counter()
            tasks = self.configure(round_index, state.sim_time_s, self.select(round_index))
            updates = executor.run(tasks, state.global_state)
            accepted, reasons = _screen(tasks, updates)
            new_state = (
                self.aggregate(round_index, state.global_state, accepted)
                if accepted
                else state.global_state
            )
            round_time = _round_duration(tasks, updates)
            energy = math.fsum(u.energy.total_j for u in updates)
            accuracy: float | None = None
            loss: float | None = None
            if round_index % training.eval_every == 0 or round_index == training.rounds:
                accuracy, loss = evaluate(self.evaluation_state(new_state))
            wall = time.perf_counter() - began
            record = RoundRecord(
                round=round_index,
                sim_time_s=state.sim_time_s + round_time,
                energy_j=energy,
                cumulative_energy_j=state.cumulative_energy_j + energy,
                accuracy=accuracy,
                loss=loss,
                participants=[u.device for u in accepted],
                dropped=[u.device for u in updates if u.device in reasons],
                reasons=reasons,
                round_time_s=round_time,
                extra=_mean_extras(accepted),
                selections={u.device: u.selections for u in accepted if u.selections},
            )
            state = RunState(
                round=round_index,
                sim_time_s=record.sim_time_s,
                cumulative_energy_j=record.cumulative_energy_j,
                global_state=new_state,
                records=[*state.records, record],
                strategy_state=self.state_dict(),
                wall_time_s=state.wall_time_s + wall,
            )
            store.save(state)
            if on_round is not None:
                on_round(record)
        return state


def _screen(
    tasks: Sequence[ClientTask], updates: Sequence[ClientUpdate]
) -> tuple[list[ClientUpdate], dict[str, str]]:
    """Split updates into accepted ones and the reasons the others were rejected."""
    accepted: list[ClientUpdate] = []
    reasons: dict[str, str] = {}
    for task, update in zip(tasks, updates, strict=True):
        if update.status != "ok" or update.state is None:
            reasons[update.device] = update.reason or update.status
        elif update.arrival_s > task.wait_limit_s:
            reasons[update.device] = "deadline" if task.deadline_s is not None else "timeout"
        elif not is_finite_state(update.state):
            reasons[update.device] = "non-finite update"
        else:
            accepted.append(update)
    return accepted, reasons


def _round_duration(tasks: Sequence[ClientTask], updates: Sequence[ClientUpdate]) -> float:
    """The server waits until every device answered, or until its wait limit."""
    return max(
        (min(u.arrival_s, t.wait_limit_s) for t, u in zip(tasks, updates, strict=True)),
        default=0.0,
    )


def _mean_extras(updates: Sequence[ClientUpdate]) -> dict[str, float]:
    keys = sorted({key for u in updates for key in u.extra})
    return {
        key: math.fsum(u.extra[key] for u in updates if key in u.extra)
        / sum(1 for u in updates if key in u.extra)
        for key in keys
    }


def make_strategy(name: str, setup: FederatedSetup) -> Strategy:
    """Build the strategy registered as ``name`` in :data:`~leantrain.registry.STRATEGIES`.

    Raises:
        UnknownNameError: No strategy of that name is registered (a KeyError).
    """
    return STRATEGIES.get(name)(setup)
