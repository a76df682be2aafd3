"""Device energy: power × time for computing, sending and receiving
(docs/world-model.md, 'Energy')."""

from __future__ import annotations

from dataclasses import dataclass

from leantrain.fleet.device import Device

__all__ = ["EnergyBreakdown", "device_energy"]


@dataclass(frozen=True)
class EnergyBreakdown:
    """Energy in joules, split by what it was spent on.

    Attributes:
        compute_j: Spent training.
        upload_j: Spent sending the update to the server.
        download_j: Spent receiving the model.
    """

    compute_j: float
    upload_j: float
    download_j: float

    @property
    def total_j(self) -> float:
        """All energy spent, in joules."""
        return self.compute_j + self.upload_j + self.download_j

    def __add__(self, other: EnergyBreakdown) -> EnergyBreakdown:
        if not isinstance(other, EnergyBreakdown):
            return NotImplemented
        return EnergyBreakdown(
            self.compute_j + other.compute_j,
            self.upload_j + other.upload_j,
            self.download_j + other.download_j,
        )


def device_energy(
    device: Device, compute_s: float, upload_s: float, download_s: float
) -> EnergyBreakdown:
    """Energy ``device`` spends computing, uploading and downloading for the given times.

    ``power_w × compute_s + tx_power_w × upload_s + rx_power_w × download_s``; the receive power
    is optional and defaults to 0 in the config (docs/world-model.md, 'Energy').

    Args:
        device: The device.
        compute_s: Simulated seconds spent training.
        upload_s: Simulated seconds spent sending.
        download_s: Simulated seconds spent receiving.
    """
    return EnergyBreakdown(
        device.power_w * compute_s, device.tx_power_w * upload_s, device.rx_power_w * download_s
    )
