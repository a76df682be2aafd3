"""Helpers shared by the tests of the availability traces."""

from __future__ import annotations

import itertools
from pathlib import Path

from leantrain.fleet import AvailabilityTrace

LEVELS = [0.2, 0.6, 1.0]
MATRIX = [[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.3, 0.0, 0.7]]


def first_segments(
    trace: AvailabilityTrace, start: float, n: int
) -> list[tuple[float, float, float]]:
    """The first ``n`` segments of ``trace`` from ``start``."""
    return list(itertools.islice(trace.segments(start), n))


def assert_contiguous(segments: list[tuple[float, float, float]], start: float) -> None:
    """Segments begin at ``start``, each where the previous ended, non-empty, values in (0, 1]."""
    assert segments[0][0] == start
    for (_, end, _), (begin, _, _) in itertools.pairwise(segments):
        assert begin == end
    for begin, end, value in segments:
        assert begin < end
        assert 0.0 < value <= 1.0


def write_csv(tmp_path: Path, text: str, name: str = "trace.csv") -> Path:
    """Write ``text`` as a CSV file in ``tmp_path``."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
