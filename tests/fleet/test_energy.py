"""Tests for leantrain.fleet.energy: hand-computed joules."""

from __future__ import annotations

import pytest

from leantrain.fleet import ConstantTrace, Device, EnergyBreakdown, device_energy


def _device(rx_power_w: float = 0.5) -> Device:
    return Device(
        name="phone-0",
        index=0,
        device_class="phone",
        flops=1e9,
        power_w=2.0,
        memory_bytes=1e9,
        upload_bps=1e6,
        download_bps=4e6,
        tx_power_w=3.0,
        rx_power_w=rx_power_w,
        trace=ConstantTrace(1.0),
    )


def test_device_energy_hand_computed() -> None:
    # 2 W × 10 s = 20 J computing, 3 W × 4 s = 12 J sending, 0.5 W × 2 s = 1 J receiving.
    energy = device_energy(_device(), compute_s=10.0, upload_s=4.0, download_s=2.0)
    assert energy == EnergyBreakdown(20.0, 12.0, 1.0)
    assert energy.total_j == pytest.approx(33.0)


def test_receive_power_defaults_to_free() -> None:
    energy = device_energy(_device(rx_power_w=0.0), 1.0, 1.0, 100.0)
    assert energy.download_j == 0.0
    assert energy.total_j == pytest.approx(5.0)


def test_breakdowns_add_componentwise() -> None:
    total = EnergyBreakdown(1.0, 2.0, 3.0) + EnergyBreakdown(10.0, 20.0, 30.0)
    assert total == EnergyBreakdown(11.0, 22.0, 33.0)
    assert total.total_j == pytest.approx(66.0)


def test_energy_of_real_transfer_times() -> None:
    device = _device()
    # 1 MB = 8e6 bits: 8 s up at 1 Mbit/s, 2 s down at 4 Mbit/s.
    up, down = device.upload_time(1e6), device.download_time(1e6)
    assert [up, down] == pytest.approx([8.0, 2.0])
    assert device_energy(device, 0.0, up, down).total_j == pytest.approx(3.0 * 8.0 + 0.5 * 2.0)
