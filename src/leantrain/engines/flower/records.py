"""Conversion between leantrain's client work and Flower's ``RecordDict``.

A task travels as the global state (``ArrayRecord``) and a ``ConfigRecord`` of its fields; an
update as its state and trained-entry shares (``ArrayRecord``s, when present) and a
``ConfigRecord`` of its figures. A PACT epoch's tasks are client tasks too: their sample selection
and the model's pruning level are fields of the task. Every message
to a ClientApp also carries the run config (:func:`config_to_record`), from which the ClientApp
rebuilds the setup: its device profile, its data partition and the initial model. Policy
options, the sample selection, extras and the selection log are nested JSON, so they travel as one
JSON string each.
The conversion is exact: tensors keep their dtypes and values, floats (``inf`` included) their
values, so a run on Flower can equal the local engine's.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping

import tomli_w
import torch
from flwr.app import ArrayRecord, ConfigRecord, RecordDict

from leantrain.config import RunConfig, parse_config
from leantrain.fl.task import ClientTask, ClientUpdate, SampleSelection
from leantrain.fleet import EnergyBreakdown

__all__ = [
    "config_from_record",
    "config_to_record",
    "task_from_record",
    "task_to_record",
    "update_from_record",
    "update_to_record",
]

_NO_DEADLINE = -1.0  # ConfigRecord has no None; deadlines are positive
_CONFIGURED_LR = -1.0  # a task without its own rate trains with the config's (rates are positive)


def _int(fields: ConfigRecord, key: str) -> int:
    value = fields[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    return value


def _float(fields: ConfigRecord, key: str) -> float:
    value = fields[key]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    return float(value)


def _tensors(record: RecordDict, key: str) -> dict[str, torch.Tensor] | None:
    """The tensors stored under ``key`` (an ``ArrayRecord``), or None when there are none."""
    arrays = record.array_records
    return dict(arrays[key].to_torch_state_dict()) if key in arrays else None


def _with_tensors(content: RecordDict, **tensors: Mapping[str, torch.Tensor] | None) -> RecordDict:
    """``content`` with each given tensor mapping stored as an ``ArrayRecord`` under its name."""
    for key, value in tensors.items():
        if value is not None:
            content[key] = ArrayRecord(dict(value))
    return content


def _state(record: RecordDict) -> dict[str, torch.Tensor]:
    state = _tensors(record, "state")
    if state is None:
        raise ValueError("the message holds no model state")
    return state


def task_to_record(task: ClientTask, global_state: Mapping[str, torch.Tensor]) -> RecordDict:
    """The message content for ``task`` with the global state it starts from."""
    fields = ConfigRecord(
        {
            "round": task.round,
            "device_index": task.device_index,
            "round_start_s": task.round_start_s,
            "deadline_s": _NO_DEADLINE if task.deadline_s is None else task.deadline_s,
            "wait_limit_s": task.wait_limit_s,
            "policy": task.policy,
            "options": json.dumps(task.options, sort_keys=True),
            "fault": task.fault or "",
            "samples": _selection_text(task.samples),
            "model_level": task.model_level,
            "lr": _CONFIGURED_LR if task.lr is None else task.lr,
        }
    )
    return _with_tensors(RecordDict({"task": fields}), state=global_state)


def _selection_text(selection: SampleSelection | None) -> str:
    """The sample selection as JSON text; empty without one (ConfigRecord has no None)."""
    if selection is None:
        return ""
    fields = {
        "fraction": selection.fraction,
        "purpose": selection.purpose,
        "epoch": selection.epoch,
    }
    return json.dumps(fields, sort_keys=True)


def _selection(text: str) -> SampleSelection | None:
    """Inverse of :func:`_selection_text`."""
    if not text:
        return None
    fields = json.loads(text)
    epoch = fields["epoch"]
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        raise ValueError(f"samples.epoch: expected an integer, got {epoch!r}")
    return SampleSelection(float(fields["fraction"]), str(fields["purpose"]), epoch)


def task_from_record(record: RecordDict) -> tuple[ClientTask, dict[str, torch.Tensor]]:
    """Inverse of :func:`task_to_record`."""
    fields = record.config_records["task"]
    deadline = _float(fields, "deadline_s")
    lr = _float(fields, "lr")
    task = ClientTask(
        round=_int(fields, "round"),
        device_index=_int(fields, "device_index"),
        round_start_s=_float(fields, "round_start_s"),
        deadline_s=None if deadline == _NO_DEADLINE else deadline,
        wait_limit_s=_float(fields, "wait_limit_s"),
        policy=str(fields["policy"]),
        options=json.loads(str(fields["options"])),
        fault=str(fields["fault"]) or None,
        samples=_selection(str(fields["samples"])),
        model_level=_float(fields, "model_level"),
        lr=None if lr == _CONFIGURED_LR else lr,
    )
    return task, _state(record)


def update_to_record(update: ClientUpdate) -> RecordDict:
    """The message content for ``update``."""
    fields = ConfigRecord(
        {
            "device": update.device,
            "device_index": update.device_index,
            "status": update.status,
            "reason": update.reason,
            "num_samples": update.num_samples,
            "num_batches": update.num_batches,
            "arrival_s": update.arrival_s,
            "compute_s": update.compute_s,
            "compute_j": update.energy.compute_j,
            "upload_j": update.energy.upload_j,
            "download_j": update.energy.download_j,
            "extra": json.dumps(update.extra, sort_keys=True),
            "selections": json.dumps(update.selections),
        }
    )
    return _with_tensors(RecordDict({"update": fields}), state=update.state, masks=update.masks)


def update_from_record(record: RecordDict) -> ClientUpdate:
    """Inverse of :func:`update_to_record`."""
    fields = record.config_records["update"]
    status = str(fields["status"])
    if status not in ("ok", "dropped", "failed"):
        raise ValueError(f"unknown update status {status!r}")
    return ClientUpdate(
        device=str(fields["device"]),
        device_index=_int(fields, "device_index"),
        status="ok" if status == "ok" else "dropped" if status == "dropped" else "failed",
        reason=str(fields["reason"]),
        state=_tensors(record, "state"),
        masks=_tensors(record, "masks"),
        num_samples=_int(fields, "num_samples"),
        num_batches=_int(fields, "num_batches"),
        arrival_s=_float(fields, "arrival_s"),
        compute_s=_float(fields, "compute_s"),
        energy=EnergyBreakdown(
            _float(fields, "compute_j"),
            _float(fields, "upload_j"),
            _float(fields, "download_j"),
        ),
        extra={str(k): float(v) for k, v in json.loads(str(fields["extra"])).items()},
        selections=[list(map(float, row)) for row in json.loads(str(fields["selections"]))],
    )


def config_to_record(config: RunConfig) -> ConfigRecord:
    """The run config as a record (TOML text; its paths are absolute once validated)."""
    raw = config.model_dump(mode="json", exclude_none=True)
    return ConfigRecord({"toml": tomli_w.dumps(raw)})


def config_from_record(record: RecordDict) -> tuple[str, RunConfig]:
    """The run config a message carries, and its TOML text (a key for caching what it builds)."""
    text = str(record.config_records["run"]["toml"])
    return text, parse_config(tomllib.loads(text), "<message from the ServerApp>")
