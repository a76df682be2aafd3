"""The CSV file format of recorded availability traces: reading and validating it.

CSV files hold the columns ``time_s,availability`` and optionally ``device``; a header is required
and extra columns are ignored (docs/world-model.md, 'Availability traces'). A file is parsed and
validated once into a :class:`CsvTable`; each device then replays its rows as a
:class:`~leantrain.fleet.replay_trace.CsvTrace`.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from leantrain.errors import InputError
from leantrain.fleet.replay_trace import CsvTrace

__all__ = ["CsvTable", "csv_trace_from_table", "parse_csv_table", "read_csv_trace"]

_REQUIRED_COLUMNS = ("time_s", "availability")
_HEADER_HINT = "the header must name time_s and availability (optionally device)"


@dataclass(frozen=True)
class CsvTable:
    """A validated availability CSV file, parsed once and shared by the devices that replay it.

    Attributes:
        path: The file.
        has_device: Whether the file has a ``device`` column.
        rows: ``(line, time_s, availability, device)`` per data row in file order; ``device`` is
            None without a device column. ``line`` is the 1-based line in the file.
    """

    path: Path
    has_device: bool
    rows: tuple[tuple[int, float, float, str | None], ...]


def parse_csv_table(path: Path) -> CsvTable:
    """Read and validate every row of an availability CSV file.

    Times must increase strictly within each device's rows (within the whole file when it has no
    device column), whatever device later reads it, so a bad file fails the same way for all.

    Raises:
        InputError: Naming the file and ``row <n>: <column>`` for the first bad row, where n is
            the 1-based line (the header is line 1).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InputError(path, "<file>", f"cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(path, "<file>", "not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or not any(name.strip() for name in header):
        raise InputError(path, "row 1: header", f"empty file or blank first line; {_HEADER_HINT}")
    names = [name.strip() for name in header]
    for name in names:
        if names.count(name) > 1 and name:
            raise InputError(path, f"row 1: {name}", "duplicate column")
    for name in _REQUIRED_COLUMNS:
        if name not in names:
            raise InputError(path, f"row 1: {name}", f"missing column; {_HEADER_HINT}")
    columns = {name: names.index(name) for name in (*_REQUIRED_COLUMNS, "device") if name in names}
    has_device = "device" in columns

    rows: list[tuple[int, float, float, str | None]] = []
    last_time: dict[str | None, float] = {}
    for fields in reader:
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue  # blank lines (e.g. a trailing newline) carry no row

        def cell(name: str, fields: list[str] = fields, line: int = line) -> str:
            index = columns[name]
            value = fields[index].strip() if index < len(fields) else ""
            if not value:
                raise InputError(path, f"row {line}: {name}", "missing value")
            return value

        time = _number(path, line, "time_s", cell("time_s"))
        if time < 0.0:
            raise InputError(path, f"row {line}: time_s", f"negative time {time}")
        availability = _number(path, line, "availability", cell("availability"))
        if not 0.0 < availability <= 1.0:
            raise InputError(path, f"row {line}: availability", f"{availability} is outside (0, 1]")
        device = cell("device") if has_device else None
        previous = last_time.get(device)
        if previous is not None and time <= previous:
            whose = f" for device '{device}'" if device is not None else ""
            raise InputError(
                path,
                f"row {line}: time_s",
                f"time {time} does not increase after {previous}{whose}",
            )
        last_time[device] = time
        rows.append((line, time, availability, device))
    if not rows:
        raise InputError(path, "row 2: time_s", "no data rows after the header")
    return CsvTable(path, has_device, tuple(rows))


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, f"row {line}: {column}", f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise InputError(path, f"row {line}: {column}", f"not a finite number: {text!r}")
    return value


def csv_trace_from_table(table: CsvTable, device: str, device_class: str, loop: bool) -> CsvTrace:
    """The trace ``device`` replays from a parsed table (see :func:`read_csv_trace`)."""
    rows = table.rows
    if table.has_device:
        rows = tuple(row for row in table.rows if row[3] == device) or tuple(
            row for row in table.rows if row[3] == device_class
        )
        if not rows:
            raise InputError(
                table.path,
                "device",
                f"no rows for device '{device}' (nor for its class '{device_class}')",
            )
    return CsvTrace([row[1] for row in rows], [row[2] for row in rows], loop=loop)


def read_csv_trace(path: Path, device: str, device_class: str, loop: bool) -> CsvTrace:
    """Read the trace one device replays from a CSV file.

    With a ``device`` column the device replays the rows bearing its name, or, when there are
    none, the rows bearing its class name. Without one it replays every row.

    Args:
        path: The CSV file (columns ``time_s,availability`` and optionally ``device``).
        device: The device's name, ``<class>-<i>``.
        device_class: The device's class name.
        loop: Repeat the rows instead of holding the last value.

    Raises:
        InputError: The file is unreadable or holds a bad row, or no row is for this device.
    """
    return csv_trace_from_table(parse_csv_table(path), device, device_class, loop)
