"""Tests for leantrain.fleet.builder and Device: names, indices, reference class, bandwidths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leantrain.config import FleetConfig
from leantrain.errors import InputError
from leantrain.fleet import ConstantTrace, CsvTrace, PeriodicTrace, build_fleet


def _fleet_config(classes: list[dict[str, Any]], **extra: Any) -> FleetConfig:
    return FleetConfig.model_validate({"classes": classes, **extra})


CLASSES: list[dict[str, Any]] = [
    {
        "name": "slow",
        "count": 2,
        "flops": 1e9,
        "trace": {"kind": "periodic", "period_s": 10.0, "low": 0.2, "high": 0.6},
    },
    {"name": "fast", "count": 1, "flops": 4e9, "power_w": 5.0},
    {
        "name": "mid",
        "count": 3,
        "flops": 2e9,
        "bandwidth_bps": 2e7,
        "upload_bps": 5e6,
        "tx_power_w": 1.5,
        "rx_power_w": 0.5,
        "trace": {"kind": "periodic", "period_s": 10.0, "low": 0.2, "high": 0.6},
    },
]


def test_names_indices_and_counts() -> None:
    fleet = build_fleet(_fleet_config(CLASSES), seed=0)
    names = [d.name for d in fleet.devices]
    assert names == ["slow-0", "slow-1", "fast-0", "mid-0", "mid-1", "mid-2"]
    assert [d.index for d in fleet.devices] == list(range(6))
    assert fleet.classes == ("slow", "fast", "mid")
    assert [d.name for d in fleet.of_class("mid")] == ["mid-0", "mid-1", "mid-2"]
    assert fleet.of_class("fast")[0].power_w == 5.0
    with pytest.raises(KeyError):
        fleet.of_class("absent")


def test_each_device_has_its_own_trace_keyed_by_index() -> None:
    fleet = build_fleet(_fleet_config(CLASSES), seed=3)
    mid1 = fleet.devices[4].trace
    assert isinstance(mid1, PeriodicTrace)
    assert (mid1.seed, mid1.device_index) == (3, 4)
    values = {d.trace.at(0.0) for d in fleet.of_class("mid")}
    assert len(values) == 3
    assert isinstance(fleet.devices[2].trace, ConstantTrace)


def test_reference_is_the_median_class_at_full_availability() -> None:
    fleet = build_fleet(_fleet_config(CLASSES), seed=0)
    # flops 1e9 (slow), 4e9 (fast), 2e9 (mid): the median is mid.
    assert fleet.reference.device_class == "mid"
    assert fleet.reference.name == "mid-0"
    assert isinstance(fleet.reference.trace, ConstantTrace)
    assert fleet.reference.speed(123.0) == 2e9
    assert fleet.devices[3].speed(0.0) < 2e9  # the fleet's own mid-0 keeps its trace


def test_reference_lower_median_for_even_class_count() -> None:
    classes = [*CLASSES, {"name": "huge", "flops": 8e9}]
    # Sorted by flops: slow 1e9, mid 2e9, fast 4e9, huge 8e9: the lower median is mid.
    assert build_fleet(_fleet_config(classes), seed=0).reference.device_class == "mid"


def test_reference_class_from_config() -> None:
    fleet = build_fleet(_fleet_config(CLASSES, reference_class="slow"), seed=0)
    assert fleet.reference.name == "slow-0"
    assert fleet.reference.trace.at(0.0) == 1.0


def test_bandwidth_and_per_direction_overrides() -> None:
    fleet = build_fleet(_fleet_config(CLASSES), seed=0)
    mid = fleet.of_class("mid")[0]
    assert (mid.upload_bps, mid.download_bps) == (5e6, 2e7)
    assert (mid.tx_power_w, mid.rx_power_w) == (1.5, 0.5)
    slow = fleet.of_class("slow")[0]
    assert (slow.upload_bps, slow.download_bps) == (1e8, 1e8)  # the config default
    # 1e6 bytes = 8e6 bits: 1.6 s up at 5 Mbit/s, 0.4 s down at 20 Mbit/s.
    assert mid.upload_time(1e6) == pytest.approx(1.6)
    assert mid.download_time(1e6) == pytest.approx(0.4)


def test_csv_classes_read_per_device_rows(tmp_path: Path) -> None:
    path = tmp_path / "avail.csv"
    path.write_text(
        "device,time_s,availability\nedge,0,0.5\nedge-1,0,0.9\nedge-1,5,0.1\n", encoding="utf-8"
    )
    classes = [{"name": "edge", "count": 3, "flops": 1e9, "trace": {"kind": "csv", "path": path}}]
    fleet = build_fleet(_fleet_config(classes), seed=0)
    traces = [d.trace for d in fleet.devices]
    assert all(isinstance(t, CsvTrace) for t in traces)
    assert [t.at(6.0) for t in traces] == [0.5, 0.1, 0.5]


def test_bad_csv_names_the_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time_s,availability\n0,2\n", encoding="utf-8")
    classes = [{"name": "edge", "flops": 1e9, "trace": {"kind": "csv", "path": path}}]
    with pytest.raises(InputError) as caught:
        build_fleet(_fleet_config(classes), seed=0, source="run.toml")
    assert caught.value.file == str(path)
    assert caught.value.field == "row 2: availability"
