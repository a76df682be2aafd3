"""leantrain's ClientApp: a device's side of every strategy, run by a Flower SuperNode.

The SuperNode's node config says which device of the fleet it is: ``partition-id`` is the
device's index (Flower's simulation numbers its virtual SuperNodes so; a deployed SuperNode is
started with ``--node-config "partition-id=<i>"``). Every message carries the run config, from
which the ClientApp rebuilds (once per process) the device's profile and availability trace, its
data partition and the model, exactly as the server does. Then it does the device's work with the
same code as the local engine:

* ``query``: names the device it serves (the server maps devices to SuperNodes so);
* ``train``: one client task (:func:`~leantrain.fl.client.run_local_update`): a round's local
  update, where the device's own policy runs, DISTREAL's included (it reads the device's
  availability and picks a dropout vector before every mini-batch, with no help from the server);
  or a PACT epoch's pass over the selected samples, on a model of the architecture pruned to the
  task's level.

A failure raises, and Flower returns it to the server as an error reply. An injected ``hang``
fault is real here: the ClientApp does not answer before the server's wall-clock timeout
(``flower.timeout_s``); every other fault behaves as on the local engine.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp
from torch import nn

from leantrain.engines.flower.records import (
    config_from_record,
    task_from_record,
    update_to_record,
)
from leantrain.errors import InputError
from leantrain.fl import FederatedSetup, build_setup
from leantrain.fl.client import run_local_update

__all__ = ["PARTITION_ID", "ClientAppFailure", "client_app", "device_index"]

#: The node-config key naming a SuperNode's device: its index in the fleet.
PARTITION_ID = "partition-id"

#: A ClientApp whose ``hang`` fault fired answers this long after the server stopped waiting.
_HANG_MARGIN_S = 1.0

client_app = ClientApp()


class ClientAppFailure(RuntimeError):
    """What the ClientApp raises when its work fails: the message names the original exception's
    type (Flower passes on only the message of what the ClientApp raised)."""


def _named_failures(
    handler: Callable[[Message, Context], Message],
) -> Callable[[Message, Context], Message]:
    @functools.wraps(handler)
    def wrapper(message: Message, context: Context) -> Message:
        try:
            return handler(message, context)
        except Exception as error:
            raise ClientAppFailure(f"{type(error).__name__}: {error}") from error

    return wrapper


@dataclass
class _Workspace:
    """What a ClientApp process builds once per run config: the setup and scratch models."""

    key: str = ""
    setup: FederatedSetup | None = None
    models: dict[float, nn.Module] = field(default_factory=dict)

    def setup_for(self, content: RecordDict) -> FederatedSetup:
        text, config = config_from_record(content)
        key = hashlib.sha256(text.encode()).hexdigest()
        if self.setup is None or key != self.key:
            self.key, self.setup, self.models = key, build_setup(config), {}
        torch.set_num_threads(self.setup.config.flower.client_threads)
        return self.setup

    def model(self, level: float = 0.0) -> nn.Module:
        """A scratch model of the run's architecture pruned to ``level``."""
        assert self.setup is not None
        if level not in self.models:
            self.models[level] = self.setup.build_model(level)
        return self.models[level]


_WORKSPACE = _Workspace()


def device_index(context: Context, setup: FederatedSetup) -> int:
    """The fleet index of the device this SuperNode serves.

    Raises:
        InputError: The node config has no integer ``partition-id`` within the fleet.
    """
    value = context.node_config.get(PARTITION_ID)
    count = len(setup.fleet.devices)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < count:
        raise InputError(
            "SuperNode node config",
            PARTITION_ID,
            f"must be the index of this node's device in the fleet (0 to {count - 1}), "
            f"got {value!r}",
        )
    return value


def _check_device(context: Context, setup: FederatedSetup, wanted: int) -> None:
    mine = device_index(context, setup)
    if mine != wanted:
        raise ValueError(f"a task for device {wanted} reached the SuperNode of device {mine}")


@client_app.query()
@_named_failures
def identify(message: Message, context: Context) -> Message:
    """Name the device this SuperNode serves."""
    setup = _WORKSPACE.setup_for(message.content)
    index = device_index(context, setup)
    fields = ConfigRecord({"device_index": index, "device": setup.device(index).name})
    return Message(RecordDict({"device": fields}), reply_to=message)


@client_app.train()
@_named_failures
def train(message: Message, context: Context) -> Message:
    """One client task of this device (a round's local update, or a PACT epoch's pass)."""
    setup = _WORKSPACE.setup_for(message.content)
    task, global_state = task_from_record(message.content)
    _check_device(context, setup, task.device_index)
    update = run_local_update(setup, task, global_state, _WORKSPACE.model(task.model_level))
    if task.fault == "hang":
        time.sleep(setup.config.flower.timeout_s + _HANG_MARGIN_S)
    return Message(update_to_record(update), reply_to=message)
