"""A simulated device: its capabilities and its availability trace
(docs/world-model.md, 'Devices')."""

from __future__ import annotations

from dataclasses import dataclass

from leantrain.fleet.trace import AvailabilityTrace

__all__ = ["Device"]


@dataclass(frozen=True)
class Device:
    """One device of the fleet.

    Attributes:
        name: ``<class>-<i>``, with i counted from 0 within the class.
        index: Position in the fleet, 0-based and stable; keys the device's random streams.
        device_class: Name of the device's capability class.
        flops: Sustained training FLOP/s at full availability.
        power_w: Power while computing.
        memory_bytes: Memory available for training.
        upload_bps: Link rate to the server, in bits per second.
        download_bps: Link rate from the server, in bits per second.
        tx_power_w: Power while uploading.
        rx_power_w: Power while downloading.
        trace: The availability a(t).
    """

    name: str
    index: int
    device_class: str
    flops: float
    power_w: float
    memory_bytes: float
    upload_bps: float
    download_bps: float
    tx_power_w: float
    rx_power_w: float
    trace: AvailabilityTrace

    def __post_init__(self) -> None:
        for field in ("flops", "memory_bytes", "upload_bps", "download_bps"):
            if not getattr(self, field) > 0.0:
                raise ValueError(f"{field} must be positive, got {getattr(self, field)}")

    def speed(self, t: float) -> float:
        """Effective FLOP/s at simulated time ``t``: s(t) = flops · a(t)."""
        return self.flops * self.trace.at(t)

    def upload_time(self, num_bytes: float) -> float:
        """Simulated seconds to send ``num_bytes`` to the server."""
        return num_bytes * 8.0 / self.upload_bps

    def download_time(self, num_bytes: float) -> float:
        """Simulated seconds to receive ``num_bytes`` from the server."""
        return num_bytes * 8.0 / self.download_bps
