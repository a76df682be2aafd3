"""Availability traces a(t): the fraction of a device's compute it can give to training (SPEC 2).

Every trace is piecewise constant in simulated time t >= 0 with values in (0, 1], and exposes its
pieces through :meth:`AvailabilityTrace.segments`, which the exact clock in
:mod:`leantrain.fleet.clock` walks. Random traces are keyed by (seed, device index[, period]) so a
trace never depends on the order in which it is queried or on what else ran.

CSV files hold the columns ``time_s,availability`` and optionally ``device``; a header is required
and extra columns are ignored. Row ``i`` holds its value on ``[time_i, time_{i+1})``; before the
first row the first value holds. After the last row the last value holds forever, or, with
``loop``, the block of rows repeats with period ``times[-1] - times[0] + median step``: the last row
lasts as long as a typical step between rows (for a regularly sampled trace, exactly one step).
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import math
import statistics
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leantrain.config import (
    ConstantTraceConfig,
    CsvTraceConfig,
    MarkovTraceConfig,
    PeriodicTraceConfig,
    TraceConfig,
)
from leantrain.errors import InputError
from leantrain.seeding import numpy_rng

__all__ = [
    "AvailabilityTrace",
    "ConstantTrace",
    "CsvTable",
    "CsvTrace",
    "MarkovTrace",
    "PeriodicTrace",
    "Segment",
    "build_trace",
    "parse_csv_table",
    "read_csv_trace",
]

Segment = tuple[float, float, float]
"""One piece of a trace: ``(begin, end, availability)``; ``end`` may be ``math.inf``."""

# States of a Markov trace are drawn this many at a time; a fixed chunk keeps the stream identical
# however far ahead a query reaches.
_MARKOV_CHUNK = 1024


def _check_time(t: float) -> None:
    if not (math.isfinite(t) and t >= 0.0):
        raise ValueError(f"simulated time must be finite and >= 0, got {t}")


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must be in (0, 1], got {value}")


def _cell(t: float, origin: float, width: float) -> int:
    """The k >= 0 with ``origin + k*width <= t < origin + (k+1)*width`` in float arithmetic.

    The division alone can be off by one near a boundary; the fix-ups make every caller agree with
    the boundaries it later computes as ``origin + k*width``.
    """
    k = max(0, math.floor((t - origin) / width))
    while k > 0 and origin + k * width > t:
        k -= 1
    while origin + (k + 1) * width <= t:
        k += 1
    return k


def _chain(start: float, pieces: Iterable[tuple[float, float]]) -> Iterator[Segment]:
    """Turn ``(end, value)`` pieces into contiguous segments that begin at ``start``.

    Each segment begins where the previous one ended, so rounding in how a trace computes its
    boundaries can never open a gap or an overlap; pieces that rounding made empty are skipped.
    """
    begin = start
    for end, value in pieces:
        if end > begin:
            yield begin, end, value
            begin = end


class AvailabilityTrace(ABC):
    """a(t) in (0, 1], piecewise constant in simulated time t >= 0."""

    @abstractmethod
    def segments(self, start: float) -> Iterator[Segment]:
        """Yield consecutive ``(begin, end, availability)`` pieces covering ``[start, inf)``.

        The first piece begins at ``start``, each next one where the previous ended, and every
        piece is non-empty; ``end`` may be ``math.inf`` (then it is the last piece).

        Raises:
            ValueError: ``start`` is negative or not finite.
        """

    def at(self, t: float) -> float:
        """The availability a(t) at simulated time ``t``."""
        return next(iter(self.segments(t)))[2]


class ConstantTrace(AvailabilityTrace):
    """a(t) = ``availability`` at all times.

    Args:
        availability: The constant value, in (0, 1].
    """

    def __init__(self, availability: float = 1.0) -> None:
        _check_fraction("availability", availability)
        self.availability = float(availability)

    def segments(self, start: float) -> Iterator[Segment]:
        _check_time(start)
        return iter([(start, math.inf, self.availability)])

    def __repr__(self) -> str:
        return f"ConstantTrace({self.availability})"


class PeriodicTrace(AvailabilityTrace):
    """a(t) redrawn uniformly from [``low``, ``high``] every ``period_s`` simulated seconds.

    The value on period k, ``[k*period_s, (k+1)*period_s)``, comes from its own stream
    ``numpy_rng(seed, "trace", device_index, k)``, so any period can be read in any order.

    Args:
        period_s: Length of one period in simulated seconds.
        low: Smallest value, in (0, 1].
        high: Largest value, in [low, 1].
        seed: The config's seed.
        device_index: The device's index in the fleet.
    """

    def __init__(
        self, period_s: float, low: float, high: float, seed: int, device_index: int
    ) -> None:
        if not (math.isfinite(period_s) and period_s > 0.0):
            raise ValueError(f"period_s must be positive and finite, got {period_s}")
        _check_fraction("low", low)
        _check_fraction("high", high)
        if low > high:
            raise ValueError(f"low ({low}) must not exceed high ({high})")
        self.period_s = float(period_s)
        self.low = float(low)
        self.high = float(high)
        self.seed = seed
        self.device_index = device_index
        self._values: dict[int, float] = {}

    def value(self, period: int) -> float:
        """The availability during period ``period`` (0-based)."""
        cached = self._values.get(period)
        if cached is None:
            rng = numpy_rng(self.seed, "trace", self.device_index, period)
            # uniform() is half-open; the clamp only guards rounding when low is close to high.
            cached = min(self.high, max(self.low, float(rng.uniform(self.low, self.high))))
            self._values[period] = cached
        return cached

    def segments(self, start: float) -> Iterator[Segment]:
        _check_time(start)
        k = _cell(start, 0.0, self.period_s)

        def pieces() -> Iterator[tuple[float, float]]:
            for period in itertools.count(k):
                yield (period + 1) * self.period_s, self.value(period)

        return _chain(start, pieces())

    def __repr__(self) -> str:
        return (
            f"PeriodicTrace(period_s={self.period_s}, low={self.low}, high={self.high}, "
            f"seed={self.seed}, device_index={self.device_index})"
        )


class MarkovTrace(AvailabilityTrace):
    """a(t) follows a Markov chain over ``levels``, one transition every ``step_s`` seconds.

    Step k covers ``[k*step_s, (k+1)*step_s)``. The state sequence is drawn sequentially from
    ``numpy_rng(seed, "trace", device_index)``: first the initial state when ``initial`` is None
    (uniform over the levels), then one uniform number per transition. It is extended lazily, in
    fixed-size chunks, and cached, so it does not depend on the order of queries.

    Args:
        levels: The availability of each state, each in (0, 1].
        transition: Row-stochastic matrix; row i gives the next-state probabilities from state i.
        step_s: Simulated seconds between transitions.
        initial: Index of the state at t = 0; None draws it.
        seed: The config's seed.
        device_index: The device's index in the fleet.
    """

    def __init__(
        self,
        levels: Sequence[float],
        transition: Sequence[Sequence[float]],
        step_s: float,
        initial: int | None,
        seed: int,
        device_index: int,
    ) -> None:
        n = len(levels)
        if n == 0:
            raise ValueError("levels must not be empty")
        for level in levels:
            _check_fraction("every level", level)
        matrix = np.asarray(transition, dtype=np.float64)
        if matrix.shape != (n, n):
            raise ValueError(f"transition must be a {n}x{n} matrix")
        if (matrix < 0).any() or not np.allclose(matrix.sum(axis=1), 1.0, rtol=0.0, atol=1e-9):
            raise ValueError("transition rows must be non-negative and sum to 1")
        if not (math.isfinite(step_s) and step_s > 0.0):
            raise ValueError(f"step_s must be positive and finite, got {step_s}")
        if initial is not None and not 0 <= initial < n:
            raise ValueError(f"initial must be in [0, {n}), got {initial}")
        self.levels = tuple(float(level) for level in levels)
        self.transition = tuple(tuple(float(p) for p in row) for row in matrix)
        self.step_s = float(step_s)
        self.initial = initial
        self.seed = seed
        self.device_index = device_index
        cumulative = np.cumsum(matrix, axis=1)
        cumulative[:, -1] = 1.0  # rows sum to 1 up to rounding; u < 1 must always land in a state
        self._cumulative = cumulative
        self._rng = numpy_rng(seed, "trace", device_index)
        first = int(self._rng.integers(n)) if initial is None else initial
        self._states: list[int] = [first]

    def state(self, step: int) -> int:
        """The state index during step ``step`` (0-based)."""
        last = len(self.levels) - 1
        while step >= len(self._states):
            uniforms = self._rng.random(_MARKOV_CHUNK)
            # next_state[i][j]: the state after state i given the j-th uniform, for all i at once;
            # only the walk through it is sequential.
            next_state = [
                np.minimum(np.searchsorted(row, uniforms, side="right"), last).tolist()
                for row in self._cumulative
            ]
            current = self._states[-1]
            for j in range(_MARKOV_CHUNK):
                current = next_state[current][j]
                self._states.append(current)
        return self._states[step]

    def segments(self, start: float) -> Iterator[Segment]:
        _check_time(start)
        if len(self.levels) == 1:
            return iter([(start, math.inf, self.levels[0])])
        k = _cell(start, 0.0, self.step_s)

        def pieces() -> Iterator[tuple[float, float]]:
            for step in itertools.count(k):
                yield (step + 1) * self.step_s, self.levels[self.state(step)]

        return _chain(start, pieces())

    def __repr__(self) -> str:
        return (
            f"MarkovTrace(levels={list(self.levels)}, step_s={self.step_s}, "
            f"initial={self.initial}, seed={self.seed}, device_index={self.device_index})"
        )


class CsvTrace(AvailabilityTrace):
    """A step function replayed from (time, availability) rows.

    ``values[i]`` holds on ``[times[i], times[i+1])`` and the first value also before
    ``times[0]``. After the last row the last value holds forever; with ``loop`` the rows repeat
    instead, with period ``times[-1] - times[0] + median(step)`` where the steps are the gaps
    between consecutive times (so the last row lasts one median step). A single row is constant.

    Args:
        times: Strictly increasing, finite, non-negative times in seconds.
        values: Availability from each time on, each in (0, 1].
        loop: Repeat the rows instead of holding the last value.
    """

    def __init__(self, times: Sequence[float], values: Sequence[float], loop: bool = False) -> None:
        if len(times) == 0 or len(times) != len(values):
            raise ValueError("times and values must be non-empty and of equal length")
        for t in times:
            _check_time(t)
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError("times must be strictly increasing")
        for value in values:
            _check_fraction("every availability", value)
        self.times = tuple(float(t) for t in times)
        self.values = tuple(float(v) for v in values)
        self.loop = loop
        steps = [b - a for a, b in itertools.pairwise(self.times)]
        # Offsets of each row from the first, closed by the period, for one cycle of the loop.
        self.period_s = self.times[-1] - self.times[0] + statistics.median(steps) if steps else 0.0
        self._offsets = (*(t - self.times[0] for t in self.times), self.period_s)

    def segments(self, start: float) -> Iterator[Segment]:
        _check_time(start)
        return _chain(start, self._pieces(start))

    def _pieces(self, start: float) -> Iterator[tuple[float, float]]:
        times, values = self.times, self.values
        if len(times) == 1:
            yield math.inf, values[0]
            return
        # Before the first row the first value holds, so such a start is read as row 0.
        start = max(start, times[0])
        if not self.loop:
            i = bisect.bisect_right(times, start) - 1
            for j in range(i, len(times) - 1):
                yield times[j + 1], values[j]
            yield math.inf, values[-1]
            return
        origin, offsets, n = times[0], self._offsets, len(times)
        cycle = _cell(start, origin, self.period_s)
        base = origin + cycle * self.period_s
        # Start one row early: rounding in start - base may overshoot by a row, never undershoot
        # by two, and _chain drops a row that ends before start.
        i = min(max(bisect.bisect_right(offsets, start - base) - 2, 0), n - 1)
        while True:
            for j in range(i, n):
                yield base + offsets[j + 1], values[j]
            cycle += 1
            base = origin + cycle * self.period_s
            i = 0

    def __repr__(self) -> str:
        return f"CsvTrace({len(self.times)} rows, loop={self.loop})"


# --- CSV files -------------------------------------------------------------------------------

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


def _csv_trace_from_table(table: CsvTable, device: str, device_class: str, loop: bool) -> CsvTrace:
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
    return _csv_trace_from_table(parse_csv_table(path), device, device_class, loop)


# --- Building from config ---------------------------------------------------------------------


@dataclass(frozen=True)
class _TraceContext:
    seed: int
    device_index: int
    device_name: str
    device_class: str
    csv_tables: MutableMapping[Path, CsvTable] | None


def _constant(config: ConstantTraceConfig, ctx: _TraceContext) -> AvailabilityTrace:
    return ConstantTrace(config.availability)


def _periodic(config: PeriodicTraceConfig, ctx: _TraceContext) -> AvailabilityTrace:
    return PeriodicTrace(config.period_s, config.low, config.high, ctx.seed, ctx.device_index)


def _markov(config: MarkovTraceConfig, ctx: _TraceContext) -> AvailabilityTrace:
    return MarkovTrace(
        config.levels, config.transition, config.step_s, config.initial, ctx.seed, ctx.device_index
    )


def _csv(config: CsvTraceConfig, ctx: _TraceContext) -> AvailabilityTrace:
    if ctx.csv_tables is None:
        return read_csv_trace(config.path, ctx.device_name, ctx.device_class, config.loop)
    table = ctx.csv_tables.get(config.path)
    if table is None:
        table = ctx.csv_tables[config.path] = parse_csv_table(config.path)
    return _csv_trace_from_table(table, ctx.device_name, ctx.device_class, config.loop)


# Keyed by config class; each builder takes its own config type, which the dict cannot express.
_BUILDERS: Mapping[type[Any], Callable[[Any, _TraceContext], AvailabilityTrace]] = {
    ConstantTraceConfig: _constant,
    PeriodicTraceConfig: _periodic,
    MarkovTraceConfig: _markov,
    CsvTraceConfig: _csv,
}


def build_trace(
    config: TraceConfig,
    seed: int,
    device_index: int,
    device_name: str,
    device_class: str,
    *,
    csv_tables: MutableMapping[Path, CsvTable] | None = None,
) -> AvailabilityTrace:
    """Build one device's availability trace from its class's trace config.

    Args:
        config: The trace section of the device class.
        seed: The config's seed.
        device_index: The device's index in the fleet (keys the random streams).
        device_name: The device's name, ``<class>-<i>`` (selects CSV rows).
        device_class: The device's class name (selects CSV rows when none bear the name).
        csv_tables: Optional cache of parsed CSV files, so a fleet reads each file once.

    Raises:
        InputError: A CSV trace file is unreadable, has a bad row or no rows for the device.
    """
    builder = _BUILDERS.get(type(config))
    if builder is None:
        raise TypeError(f"unknown trace config {type(config).__name__}")
    context = _TraceContext(seed, device_index, device_name, device_class, csv_tables)
    return builder(config, context)
