"""Tests of leantrain.files: reading JSON files through pydantic models into InputErrors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, with_config

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


@with_config(ConfigDict(extra="forbid"))
@dataclass(frozen=True)
class Reading:
    """A result dataclass that is its own file entry."""

    label: str
    values: tuple[float, ...]
    count: int = 0


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


def test_a_dataclass_is_read_as_itself(tmp_path: Path) -> None:
    path = tmp_path / "reading.json"
    path.write_text('{"label": "a", "values": [1.5, 2]}')
    assert read_json_model(path, Reading) == Reading("a", (1.5, 2.0))


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        # A dataclass names these problems otherwise than a model; the reader says them alike.
        ('{"label": "a", "values": [], "z": 0}', "z", "unknown key"),
        ('{"values": []}', "label", "missing key"),
        ("[]", "<root>", "Input should be an object"),
        ('{"label": "a", "values": ["1"]}', "values[0]", "Input should be a valid number"),
        ('{"label": "a", "values": [], "count": 1.0}', "count", "Input should be a valid integer"),
    ],
)
def test_dataclass_errors_read_like_model_errors(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    path = tmp_path / "reading.json"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_json_model(path, Reading)
    assert (caught.value.field, caught.value.message) == (field, message)
    with pytest.raises(InputError) as caught:
        read_json_lines(path, Reading)
    assert (caught.value.field, caught.value.message) == (
        f"line 1.{field}" if field != "<root>" else "line 1",
        message,
    )
