"""Tests for leantrain.fleet.trace_file: reading and validating availability CSV files."""

from __future__ import annotations

from pathlib import Path

import pytest
from trace_cases import write_csv

from leantrain.errors import InputError
from leantrain.fleet import read_csv_trace


def test_read_csv_without_device_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "time_s,availability\n0,1.0\n2,0.5\n5,0.25\n")
    trace = read_csv_trace(path, "phone-3", "phone", loop=False)
    assert (trace.times, trace.values) == ((0.0, 2.0, 5.0), (1.0, 0.5, 0.25))


def test_read_csv_per_device_then_per_class(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        "device,time_s,availability\n"
        "phone-0,0,0.9\n"
        "phone,0,0.3\n"
        "phone-0,10,0.8\n"
        "phone,10,0.4\n"
        "tablet-1,0,0.5\n",
    )
    own = read_csv_trace(path, "phone-0", "phone", loop=False)
    assert (own.times, own.values) == ((0.0, 10.0), (0.9, 0.8))
    by_class = read_csv_trace(path, "phone-1", "phone", loop=True)
    assert (by_class.times, by_class.values, by_class.loop) == ((0.0, 10.0), (0.3, 0.4), True)
    with pytest.raises(InputError) as caught:
        read_csv_trace(path, "tablet-0", "tablet", loop=False)
    assert caught.value.file == str(path)
    assert caught.value.field == "device"
    assert "no rows for device 'tablet-0'" in caught.value.message


def test_read_csv_tolerates_spaces_bom_blank_lines_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("\ufeff time_s , availability ,note\n0, 0.5 ,x\n\n4,1,y\n", encoding="utf-8")
    trace = read_csv_trace(path, "a-0", "a", loop=False)
    assert (trace.times, trace.values) == ((0.0, 4.0), (0.5, 1.0))


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("", "row 1: header", "empty"),
        ("time_s,availability\n", "row 2: time_s", "no data rows"),
        ("time_s,avail\n0,1\n", "row 1: availability", "missing column"),
        ("availability\n1\n", "row 1: time_s", "missing column"),
        ("time_s,availability,time_s\n0,1,0\n", "row 1: time_s", "duplicate"),
        ("time_s,availability\n0,1\nabc,0.5\n", "row 3: time_s", "not a number"),
        ("time_s,availability\n0,high\n", "row 2: availability", "not a number"),
        ("time_s,availability\n0,1\n1,0\n", "row 3: availability", "outside (0, 1]"),
        ("time_s,availability\n0,1.5\n", "row 2: availability", "outside (0, 1]"),
        ("time_s,availability\n0,nan\n", "row 2: availability", "not a finite number"),
        ("time_s,availability\n-1,0.5\n", "row 2: time_s", "negative"),
        ("time_s,availability\ninf,0.5\n", "row 2: time_s", "not a finite number"),
        ("time_s,availability\n0,1\n5,1\n5,0.5\n", "row 4: time_s", "does not increase"),
        ("time_s,availability\n0,1\n5,1\n3,0.5\n", "row 4: time_s", "does not increase"),
        ("time_s,availability\n0,1\n\n\n7\n", "row 5: availability", "missing value"),
        ("time_s,availability\n0,1\n8,\n", "row 3: availability", "missing value"),
        ("device,time_s,availability\n,0,1\n", "row 2: device", "missing value"),
        ("device,time_s,availability\na-0,0,1\nb-0,0,1\na-0,0,1\n", "row 4: time_s", "increase"),
    ],
)
def test_read_csv_bad_rows(tmp_path: Path, text: str, field: str, fragment: str) -> None:
    path = write_csv(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_csv_trace(path, "a-0", "a", loop=False)
    error = caught.value
    assert (error.file, error.field) == (str(path), field)
    assert fragment in error.message
    assert error.line().startswith(f"{path}: {field}: ")


def test_read_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_csv_trace(tmp_path / "absent.csv", "a-0", "a", loop=False)
    assert caught.value.file == str(tmp_path / "absent.csv")
