"""Tests of leantrain.distreal.cache: the DSE's evaluation cache and its JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leantrain.distreal.cache import CACHE_FORMAT, EvaluationCache


def test_the_file_holds_sorted_rows_under_the_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    cache = EvaluationCache("abc", path)
    cache[(2, 0)] = 0.25
    cache[(0, 1)] = 0.5

    cache.flush()

    expected = {
        "format": CACHE_FORMAT,
        "fingerprint": "abc",
        "entries": [[[0, 1], 0.5], [[2, 0], 0.25]],
    }
    assert path.read_text() == json.dumps(expected) + "\n"
    again = EvaluationCache("abc", path)
    assert (again.loaded, again[(0, 1)], again[(2, 0)]) == (2, 0.5, 0.25)
    assert (1, 1) not in again


def test_flush_writes_only_after_a_change(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    cache = EvaluationCache("abc", path)

    cache.flush()
    assert not path.exists()

    cache[(1,)] = 0.5
    cache.flush()
    path.write_text("sentinel")
    cache.flush()  # nothing new since the last write
    assert path.read_text() == "sentinel"


def test_an_in_memory_cache_writes_nothing(tmp_path: Path) -> None:
    cache = EvaluationCache("abc")
    cache[(1,)] = 0.5
    cache.flush()
    assert len(cache) == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"format": "other/1", "fingerprint": "abc", "entries": []}),
        json.dumps({"format": CACHE_FORMAT, "fingerprint": "abc", "entries": [[[0], "q"]]}),
        json.dumps({"format": CACHE_FORMAT, "fingerprint": "abc", "entries": [], "more": 1}),
        json.dumps([1, 2]),
    ],
)
def test_an_unusable_file_is_ignored_and_replaced(tmp_path: Path, text: str) -> None:
    """A cache only saves work: what cannot be used is recomputed, never an error."""
    path = tmp_path / "cache.json"
    path.write_text(text)

    cache = EvaluationCache("abc", path)
    assert (len(cache), cache.loaded) == (0, 0)

    cache[(3,)] = 0.75
    cache.flush()
    assert EvaluationCache("abc", path)[(3,)] == 0.75
