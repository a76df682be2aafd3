"""Tests of leantrain.fl.run_dir: reading single-run and comparison directories back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leantrain.errors import InputError
from leantrain.fl.run_dir import RunResult, load_run_dir
from leantrain.fl.run_files import rounds_text
from run_dir_cases import make_records, write_example_comparison, write_single


@pytest.fixture
def comparison(tmp_path: Path) -> Path:
    return write_example_comparison(tmp_path / "cmp")


def test_load_single_run_round_trips(tmp_path: Path) -> None:
    records = make_records([0.5, 0.8, 0.9])
    summary = write_single(tmp_path, "fedavg", records)

    runs = load_run_dir(tmp_path)

    assert runs == [RunResult("fedavg", tuple(records), summary)]
    assert summary.time_to_accuracy_s == {"0.8": 20.0, "0.95": None}


def test_load_comparison_keeps_summary_order(comparison: Path) -> None:
    runs = load_run_dir(comparison)

    assert [r.strategy for r in runs] == ["fedavg-drop", "fedavg"]
    assert runs[0].records[1].accuracy is None
    assert runs[0].records[1].reasons == {"d3": "deadline", "d4": "exception: boom"}
    assert runs[1].summary.total_energy_j == pytest.approx(4500.0)
    assert runs[1].records == tuple(make_records([0.6, 0.9, 0.96], energy_j=1500.0))


def test_rounds_without_summary_are_read_as_a_single_run(tmp_path: Path) -> None:
    directory = tmp_path / "interrupted"
    directory.mkdir()
    records = make_records([0.4, 0.7])
    (directory / "rounds.jsonl").write_text(rounds_text(records))

    (run,) = load_run_dir(directory)

    assert run.strategy == "interrupted"
    assert run.records == tuple(records)
    assert run.summary.rounds == 2
    assert run.summary.wall_time_s == 0.0


def test_non_run_directory_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")

    with pytest.raises(InputError) as caught:
        load_run_dir(tmp_path)

    assert caught.value.file == str(tmp_path)
    assert caught.value.field == "<dir>"
    assert caught.value.message == "no rounds.jsonl or summary.json: not a run directory"


def test_corrupted_rounds_line_names_file_and_line(tmp_path: Path) -> None:
    write_single(tmp_path, "fedavg", make_records([0.5, 0.8, 0.9]))
    rounds = tmp_path / "rounds.jsonl"
    lines = rounds.read_text().splitlines()
    lines[1] = lines[1][: len(lines[1]) // 2]
    rounds.write_text("\n".join(lines) + "\n")

    with pytest.raises(InputError) as caught:
        load_run_dir(tmp_path)

    assert caught.value.file == str(rounds)
    assert caught.value.field == "line 2"
    assert caught.value.message.startswith("invalid JSON: ")


def test_round_record_with_wrong_type_is_an_input_error(tmp_path: Path) -> None:
    write_single(tmp_path, "fedavg", make_records([0.5]))
    rounds = tmp_path / "rounds.jsonl"
    data = json.loads(rounds.read_text())
    data["accuracy"] = "high"
    rounds.write_text(json.dumps(data) + "\n")

    with pytest.raises(InputError) as caught:
        load_run_dir(tmp_path)

    assert (caught.value.field, caught.value.message) == (
        "line 1.accuracy",
        "Input should be a valid number",
    )


def test_corrupted_summary_names_file_and_line(tmp_path: Path) -> None:
    write_single(tmp_path, "fedavg", make_records([0.5]))
    summary = tmp_path / "summary.json"
    text = summary.read_text().replace('"rounds": 1', '"rounds": ')
    summary.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if '"rounds"' in s)

    with pytest.raises(InputError) as caught:
        load_run_dir(tmp_path)

    assert caught.value.file == str(summary)
    assert caught.value.field == f"line {line}"
    assert caught.value.message.startswith("invalid JSON: ")


def test_summary_strategy_without_rounds_is_an_input_error(comparison: Path) -> None:
    (comparison / "fedavg" / "rounds.jsonl").unlink()

    with pytest.raises(InputError) as caught:
        load_run_dir(comparison)

    assert caught.value.field == "fedavg"
    assert "no rounds" in caught.value.message


def test_summary_strategy_named_like_a_path_is_not_followed(tmp_path: Path) -> None:
    """A strategy key such as ``../x`` never selects a directory outside the run directory."""
    write_example_comparison(tmp_path / "cmp")
    summary = tmp_path / "cmp" / "summary.json"
    data = json.loads(summary.read_text())
    data["../cmp/fedavg"] = data.pop("fedavg")
    summary.write_text(json.dumps(data))

    with pytest.raises(InputError) as caught:
        load_run_dir(tmp_path / "cmp")

    assert caught.value.field == "../cmp/fedavg"
