"""Tests of leantrain.fl.run_files: the pydantic models of rounds.jsonl, selections.jsonl and
summary.json, their exact text and their strict reading."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from leantrain.errors import InputError
from leantrain.fl.records import summarise
from leantrain.fl.run_files import (
    read_rounds,
    read_selections,
    read_summary,
    rounds_text,
    selections_text,
    summary_text,
)
from run_dir_cases import TARGETS, make_records


def test_rounds_text_is_sorted_json_without_selections(tmp_path: Path) -> None:
    """The format every run directory written so far holds: ``json.dumps(asdict(record),
    sort_keys=True)`` without the selections, one line per round."""
    records = [replace(r, selections={"d0": [[1.5, 0.25]]}) for r in make_records([0.5, None])]

    text = rounds_text(records)

    expected = []
    for record in records:
        data = asdict(record)
        del data["selections"]
        expected.append(json.dumps(data, sort_keys=True) + "\n")
    assert text == "".join(expected)
    (tmp_path / "rounds.jsonl").write_text(text)
    assert read_rounds(tmp_path / "rounds.jsonl") == [replace(r, selections={}) for r in records]


def test_selections_text_has_one_line_per_logged_round(tmp_path: Path) -> None:
    first, second = make_records([0.5, 0.6])
    logged = replace(second, selections={"d1": [[0.0, 1.0], [2.5, 0.5]]})

    text = selections_text([first, logged])

    assert text == '{"devices": {"d1": [[0.0, 1.0], [2.5, 0.5]]}, "round": 2}\n'
    (tmp_path / "selections.jsonl").write_text(text)
    (line,) = read_selections(tmp_path / "selections.jsonl")
    assert (line.round, line.devices) == (2, logged.selections)


def test_summary_text_keeps_order_and_reads_back(tmp_path: Path) -> None:
    b = summarise("b", make_records([0.9]), TARGETS, 2.0)
    a = summarise("a", make_records([0.5, 0.85]), TARGETS, 1.0)

    text = summary_text([b, a])

    assert text == json.dumps({"b": asdict(b), "a": asdict(a)}, indent=2) + "\n"
    (tmp_path / "summary.json").write_text(text)
    assert list(read_summary(tmp_path / "summary.json").items()) == [("b", b), ("a", a)]


def test_non_finite_loss_round_trips(tmp_path: Path) -> None:
    """A diverged run records a NaN or infinite loss; JSON holds it as NaN/Infinity."""
    (record,) = make_records([0.1])
    diverged = replace(record, loss=math.inf, extra={"ratio": math.nan})
    (tmp_path / "rounds.jsonl").write_text(rounds_text([diverged]))

    (back,) = read_rounds(tmp_path / "rounds.jsonl")

    assert back.loss == math.inf
    assert math.isnan(back.extra["ratio"])


def _round_line(**changes: object) -> str:
    data = json.loads(rounds_text(make_records([0.5])))
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (_round_line(colour="red"), "line 1.colour", "unknown key"),
        (_round_line(round=True), "line 1.round", "Input should be a valid integer"),
        (_round_line(round=1.0), "line 1.round", "Input should be a valid integer"),
        (_round_line(energy_j="3"), "line 1.energy_j", "Input should be a valid number"),
        (
            _round_line(participants=["d0", 3]),
            "line 1.participants[1]",
            "Input should be a valid string",
        ),
        (_round_line(reasons={"d0": 1}), "line 1.reasons.d0", "Input should be a valid string"),
        (_round_line(extra={"x": "y"}), "line 1.extra.x", "Input should be a valid number"),
        ("[1, 2]", "line 1", "Input should be an object"),
    ],
)
def test_bad_round_lines_name_the_field(
    tmp_path: Path, line: str, field: str, message: str
) -> None:
    path = tmp_path / "rounds.jsonl"
    path.write_text(line + "\n")

    with pytest.raises(InputError) as caught:
        read_rounds(path)

    assert (caught.value.file, caught.value.field, caught.value.message) == (
        str(path),
        field,
        message,
    )


def test_missing_round_field_is_named(tmp_path: Path) -> None:
    data = json.loads(_round_line())
    del data["participants"]
    path = tmp_path / "rounds.jsonl"
    path.write_text("\n" + json.dumps(data) + "\n")

    with pytest.raises(InputError, match=r"rounds.jsonl: line 2.participants: missing key$"):
        read_rounds(path)


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("{}", "<root>", "at least one strategy"),
        ('{"a": []}', "a", "Input should be an object"),
        ("[]", "<root>", "Input should be an object"),
    ],
)
def test_bad_summary_files(tmp_path: Path, text: str, field: str, fragment: str) -> None:
    path = tmp_path / "summary.json"
    path.write_text(text)

    with pytest.raises(InputError) as caught:
        read_summary(path)

    assert caught.value.field == field
    assert fragment in caught.value.message


def test_summary_entry_fields_are_checked(tmp_path: Path) -> None:
    summary = summarise("a", make_records([0.5]), TARGETS, 1.0)
    entry = asdict(summary)
    path = tmp_path / "summary.json"

    path.write_text(json.dumps({"a": {**entry, "time_to_accuracy_s": {"high": 1.0}}}))
    with pytest.raises(InputError, match=r"a\.time_to_accuracy_s: target 'high' is not a number"):
        read_summary(path)

    path.write_text(json.dumps({"a": {**entry, "wall_time_s": None}}))
    with pytest.raises(InputError, match=r"a\.wall_time_s: Input should be a valid number"):
        read_summary(path)

    del entry["rounds"]
    path.write_text(json.dumps({"a": entry}))
    with pytest.raises(InputError, match=r"a\.rounds: missing key"):
        read_summary(path)


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "rounds.jsonl"
    path.write_bytes(b"\xff\xfe\x00")

    with pytest.raises(InputError) as caught:
        read_rounds(path)

    assert caught.value.field == "<file>"
