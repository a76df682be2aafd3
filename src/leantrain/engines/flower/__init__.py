"""The Flower engine (SPEC 6): leantrain's tasks and updates carried in Flower messages.

This first step holds the conversion between :class:`~leantrain.fl.task.ClientTask` /
:class:`~leantrain.fl.task.ClientUpdate` and Flower's ``RecordDict``; the ServerApp, the
ClientApp and the Ray simulation build on it.
"""

from __future__ import annotations

from leantrain.engines.flower.records import (
    task_from_record,
    task_to_record,
    update_from_record,
    update_to_record,
)

__all__ = ["task_from_record", "task_to_record", "update_from_record", "update_to_record"]
