"""The server's view of the SuperNodes: which device each serves, and one exchange per round.

The server never assumes a numbering: before the first round it asks every connected SuperNode
which device it serves (the ClientApp's ``query``) and keeps the map. A round pushes every task
and pulls the replies until all arrived or the wall-clock timeout ``flower.timeout_s`` passed;
every task gets an outcome: the reply, or why there is none (no SuperNode for the device, the
ClientApp raised, or it did not answer in time). Nothing here raises for a client's failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from flwr.app import Message, RecordDict
from flwr.serverapp import Grid

from leantrain.engines.flower.records import config_to_record
from leantrain.fl import FederatedSetup

__all__ = ["DeviceNodes", "Outcome", "error_text", "send_and_receive"]

LOGGER = logging.getLogger("leantrain.flower")

#: How often the server looks for newly connected SuperNodes while it waits for them.
_POLL_S = 0.2

#: How often the server pulls replies (Flower's own ``send_and_receive`` waits 3 s between pulls
#: on a deployed SuperLink, which would dominate short rounds).
_PULL_S = 0.05


def send_and_receive(grid: Grid, messages: Sequence[Message], timeout: float) -> list[Message]:
    """Push ``messages`` and pull their replies until all arrived or ``timeout`` passed."""
    waiting = set(grid.push_messages(messages))
    replies: list[Message] = []
    end = time.monotonic() + timeout
    while waiting:
        arrived = list(grid.pull_messages(waiting))
        replies.extend(arrived)
        waiting -= {reply.metadata.reply_to_message_id for reply in arrived}
        if not waiting or time.monotonic() >= end:
            break
        time.sleep(_PULL_S)
    return replies


@dataclass(frozen=True)
class Outcome:
    """A task's answer: the reply content, or why there is none.

    Attributes:
        content: The reply's content; None without a usable reply.
        reason: Why there is no content.
        raised: The ClientApp answered with an error (it raised), rather than not at all.
    """

    content: RecordDict | None
    reason: str = ""
    raised: bool = False


def error_text(reason: str | None) -> str:
    """The useful line of a Flower error reason (Ray wraps the client's exception in its
    traceback: keep the exception's own message)."""
    marker = "Message: "
    reason = reason or ""
    if marker in reason:
        reason = reason.rsplit(marker, 1)[1]
    lines = [line.strip(" '>\"") for line in reason.strip().splitlines() if line.strip(" '>\"")]
    text = lines[-1] if lines else "unknown error"
    return text if len(text) <= 300 else text[:297] + "..."


class DeviceNodes:
    """The SuperNodes serving a setup's devices, reached through a Flower ``Grid``.

    Args:
        grid: The ServerApp's grid.
        setup: The run's setup (its config travels in every message).
    """

    def __init__(self, grid: Grid, setup: FederatedSetup) -> None:
        self.grid = grid
        self.setup = setup
        self.run_record = config_to_record(setup.config)
        self.node_of: dict[int, int] = {}

    def _content(self, content: RecordDict) -> RecordDict:
        content["run"] = self.run_record
        return content

    def connect(self) -> dict[int, int]:
        """Wait for the SuperNodes (up to ``flower.connect_timeout_s``) and learn which device each
        serves; returns device index to node id. Devices without a node are logged."""
        flower = self.setup.config.flower
        wanted = len(self.setup.fleet.devices)
        end = time.monotonic() + flower.connect_timeout_s
        while len(list(self.grid.get_node_ids())) < wanted and time.monotonic() < end:
            time.sleep(_POLL_S)
        node_ids = sorted(self.grid.get_node_ids())
        messages = [
            Message(self._content(RecordDict()), dst_node_id=node, message_type="query")
            for node in node_ids
        ]
        replies = send_and_receive(self.grid, messages, flower.connect_timeout_s)
        for reply in sorted(replies, key=lambda r: r.metadata.src_node_id):
            node = reply.metadata.src_node_id
            if reply.has_error():
                LOGGER.warning("SuperNode %d: %s", node, error_text(reply.error.reason))
                continue
            fields = reply.content.config_records["device"]
            index = int(fields["device_index"])  # type: ignore[arg-type]
            if index in self.node_of:
                LOGGER.warning(
                    "SuperNodes %d and %d both serve device %s; using %d",
                    self.node_of[index],
                    node,
                    fields["device"],
                    self.node_of[index],
                )
                continue
            self.node_of[index] = node
        missing = [d.name for d in self.setup.fleet.devices if d.index not in self.node_of]
        if missing:
            LOGGER.warning(
                "%d of %d devices have no SuperNode and sit every round out: %s",
                len(missing),
                wanted,
                ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""),
            )
        return dict(self.node_of)

    def exchange(
        self, work: Sequence[tuple[int, RecordDict]], message_type: str, group: str
    ) -> list[Outcome]:
        """Send each ``(device index, content)`` to the device's SuperNode and wait for the
        replies, up to ``flower.timeout_s``; one outcome per item, in order."""
        messages: dict[int, Message] = {}
        outcomes: dict[int, Outcome] = {}
        for device, content in work:
            node = self.node_of.get(device)
            if node is None:
                outcomes[device] = Outcome(None, "no SuperNode")
            else:
                messages[node] = Message(
                    self._content(content),
                    dst_node_id=node,
                    message_type=message_type,
                    group_id=group,
                )
        timeout = self.setup.config.flower.timeout_s
        replies = send_and_receive(self.grid, list(messages.values()), timeout)
        by_node = {reply.metadata.src_node_id: reply for reply in replies}
        device_of = {node: device for device, node in self.node_of.items()}
        for node in messages:
            device = device_of[node]
            reply = by_node.get(node)
            if reply is None:
                outcomes[device] = Outcome(None, f"no answer within {timeout:g} s")
            elif reply.has_error():
                outcomes[device] = Outcome(None, error_text(reply.error.reason), raised=True)
            else:
                outcomes[device] = Outcome(reply.content)
        for device, outcome in outcomes.items():
            if outcome.content is None:
                name = self.setup.device(device).name
                LOGGER.warning("%s %s: %s", group, name, outcome.reason)
        return [outcomes[device] for device, _ in work]
