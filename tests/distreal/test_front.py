"""Tests of leantrain.distreal.front: the front's invariants, budget selection and its JSON
file (written and read through FrontFile)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from leantrain.distreal.front import Front, FrontPoint, ModelIdentity, non_dominated
from leantrain.errors import InputError

IDENTITY = ModelIdentity("tiny", (1, 8, 8), 10, ("conv1", "conv2"), (4, 8))


def _front() -> Front:
    return Front(
        IDENTITY,
        (
            FrontPoint(0.25, 0.5, (0.5, 0.5)),
            FrontPoint(0.5, 0.625, (0.25, 0.5)),
            FrontPoint(1.0, 0.75, (0.0, 0.0)),
        ),
        {"method": "nsga2", "seed": 3, "full_model_dominated": False},
        (FrontPoint(0.75, 0.5, (0.0, 0.5)), FrontPoint(0.25, 0.5, (0.5, 0.5))),
        (FrontPoint(0.25, math.nan, (0.5, 0.5)), FrontPoint(1.0, 0.75, (0.0, 0.0))),
    )


def test_the_file_has_the_documented_layout(tmp_path: Path) -> None:
    """Rows ``[R, Q or null, [d...]]`` under the format tag, one-space indented."""
    path = _front().save(tmp_path / "front.json")

    expected = {
        "format": "leantrain.distreal.front/1",
        "model": {
            "model": "tiny",
            "input_shape": [1, 8, 8],
            "num_classes": 10,
            "groups": ["conv1", "conv2"],
            "channels": [4, 8],
        },
        "settings": {"method": "nsga2", "seed": 3, "full_model_dominated": False},
        "points": [[0.25, 0.5, [0.5, 0.5]], [0.5, 0.625, [0.25, 0.5]], [1.0, 0.75, [0.0, 0.0]]],
        "uniform": [[0.25, None, [0.5, 0.5]], [1.0, 0.75, [0.0, 0.0]]],
        "evaluated": [[0.75, 0.5, [0.0, 0.5]], [0.25, 0.5, [0.5, 0.5]]],
    }
    assert path.read_text() == json.dumps(expected, indent=1) + "\n"


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    front = _front()

    loaded = Front.load(front.save(tmp_path / "front.json"), IDENTITY)

    assert loaded.points == front.points
    assert loaded.evaluated == front.evaluated
    assert loaded.identity == IDENTITY
    assert dict(loaded.settings) == dict(front.settings)
    assert math.isnan(loaded.uniform[0].quality)
    assert loaded.uniform[1] == front.uniform[1]


def _write(tmp_path: Path, change: dict[str, Any]) -> Path:
    path = _front().save(tmp_path / "front.json")
    raw = json.loads(path.read_text())
    raw.update(change)
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"format": "other/1"}, "format", "leantrain.distreal.front/1"),
        ({"extra": 1}, "extra", "unknown key"),
        ({"points": [[0.5, "high", [0.0, 0.0]]]}, "points[0][1]", "valid number"),
        ({"points": [[1.0, 0.7, [0.0]]]}, "points[0]", "needs 2 rates"),
        ({"points": [[1.0, 0.7, [0.0, 0.0]], [0.5, 0.6, [0.5, 0.0]]]}, "points", "sorted by R"),
        ({"points": [[0.5, 0.6, [0.5, 0.0]]]}, "points", "end with d = 0"),
        ({"points": []}, "points", "at least one point"),
    ],
)
def test_bad_front_files_are_input_errors(
    tmp_path: Path, change: dict[str, Any], field: str, fragment: str
) -> None:
    path = _write(tmp_path, change)

    with pytest.raises(InputError) as caught:
        Front.load(path)

    assert (caught.value.file, caught.value.field) == (str(path), field)
    assert fragment in caught.value.message


def test_a_missing_section_is_named(tmp_path: Path) -> None:
    path = _front().save(tmp_path / "front.json")
    raw = json.loads(path.read_text())
    del raw["model"]["channels"]
    path.write_text(json.dumps(raw))

    with pytest.raises(InputError, match=r"model\.channels: missing key$"):
        Front.load(path)


def test_a_front_for_another_model_is_refused(tmp_path: Path) -> None:
    path = _front().save(tmp_path / "front.json")
    other = ModelIdentity("tiny", (1, 8, 8), 10, ("conv1", "conv2"), (4, 16))

    with pytest.raises(InputError) as caught:
        Front.load(path, other)

    assert caught.value.field == "model"
    assert "[4, 8]" in caught.value.message and "[4, 16]" in caught.value.message


def test_best_within_takes_the_largest_cost_that_fits() -> None:
    front = _front()

    assert front.best_within(0.1) is None
    assert front.best_within(0.3) == front.points[0]
    assert front.best_within(0.5) == front.points[1]
    assert front.best_within(0.99) == front.points[1]
    assert front.best_within(1.0) == front.points[2]
    assert front.cheapest == front.points[0]


def test_non_dominated_keeps_each_point_better_than_every_cheaper_one() -> None:
    a = FrontPoint(0.2, 0.4, (0.8,))
    b = FrontPoint(0.4, 0.4, (0.6,))  # as good as a but dearer
    c = FrontPoint(0.4, 0.6, (0.6,))
    d = FrontPoint(0.6, 0.5, (0.4,))  # dearer and worse than c
    e = FrontPoint(1.0, 0.7, (0.0,))

    assert non_dominated([e, d, c, b, a]) == [a, c, e]
