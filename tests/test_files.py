"""Tests of leantrain.files: reading JSON files through pydantic models into InputErrors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from leantrain.errors import InputError
from leantrain.files import field_path, read_json_lines, read_json_model


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: int
    tags: list[str] = []


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    points: list[Point]


def test_field_paths_read_like_the_config_errors() -> None:
    assert field_path(("points", 2, "tags", 0)) == "points[2].tags[0]"
    assert field_path(("x",), "line 4") == "line 4.x"
    assert field_path((), "line 4") == "line 4"
    assert field_path(()) == "<root>"


def _error(path: Path, text: str) -> InputError:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_json_model(path, Shape)
    assert caught.value.file == str(path)
    return caught.value


def test_a_valid_document_is_read(tmp_path: Path) -> None:
    path = tmp_path / "shape.json"
    path.write_text('{"name": "a", "points": [{"x": 1}, {"x": 2, "tags": ["t"]}]}')
    shape = read_json_model(path, Shape)
    assert shape == Shape(name="a", points=[Point(x=1), Point(x=2, tags=["t"])])


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ('{"name": "a", "points": [], "z": 0}', "z", "unknown key"),
        ('{"points": []}', "name", "missing key"),
        ('{"name": "a", "points": [{"x": "1"}]}', "points[0].x", "Input should be a valid integer"),
        ('{"name": "a", "points": [{"x": 1.5}]}', "points[0].x", "Input should be a valid integer"),
        (
            '{"name": "a", "points": [{"x": true}]}',
            "points[0].x",
            "Input should be a valid integer",
        ),
        ('{"name": "a",\n "points": [\n}', "line 3", "invalid JSON: Expecting value"),
    ],
)
def test_errors_name_the_field_strictly(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    """Strict: no string, float or bool passes for an integer."""
    error = _error(tmp_path / "shape.json", text)
    assert (error.field, error.message) == (field, message)


def test_json_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "points.jsonl"
    path.write_text('{"x": 1}\n\n{"x": 2}\n{"x": 3, "y": 0}\n')
    with pytest.raises(InputError) as caught:
        read_json_lines(path, Point)
    assert (caught.value.field, caught.value.message) == ("line 4.y", "unknown key")

    path.write_text('{"x": 1}\n\n{"x": 2}\n')
    assert read_json_lines(path, Point) == [Point(x=1), Point(x=2)]


def test_an_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_json_model(tmp_path / "absent.json", Shape)
    assert caught.value.field == "<file>"
    assert caught.value.message.startswith("cannot read: ")
