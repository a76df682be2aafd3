"""The command line: end-to-end runs on tiny data, and bad input giving exit code 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from typer.testing import CliRunner

from conftest import tiny_raw
from leantrain.cli import EPSILON_HELP, app
from leantrain.pact.solver import DEFAULT_EPSILON

runner = CliRunner()


def _write(tmp_path: Path, raw: dict[str, Any], name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(raw))
    return path


def _assert_input_error(result: Any, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_train_compare_and_report_end_to_end(tmp_path: Path) -> None:
    config = _write(tmp_path, tiny_raw(training={"rounds": 2}))
    out = tmp_path / "train"
    result = runner.invoke(
        app, ["train", str(config), "--strategy", "fedavg-drop", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for name in ("config.toml", "rounds.jsonl", "summary.json", "accuracy.png", "energy.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"fedavg-drop"}
    assert set(summary["fedavg-drop"]["time_to_accuracy_s"]) == {"0.5", "0.9"}

    compared = tmp_path / "compare"
    result = runner.invoke(app, ["compare", str(config), "--out", str(compared)])
    assert result.exit_code == 0, result.output
    summary = json.loads((compared / "summary.json").read_text())
    assert list(summary) == ["fedavg", "fedavg-drop", "fedavg-partial"]
    for name in summary:
        assert (compared / name / "rounds.jsonl").is_file()
    assert "fedavg-partial" in result.stdout

    result = runner.invoke(app, ["report", str(compared)])
    assert result.exit_code == 0, result.output
    report = (compared / "report.md").read_text()
    assert "fedavg-drop" in report and "accuracy.png" in report


def test_an_existing_run_is_never_overwritten_without_resume(tmp_path: Path) -> None:
    config = _write(tmp_path, tiny_raw(training={"rounds": 1}))
    out = tmp_path / "out"
    assert runner.invoke(app, ["train", str(config), "--out", str(out)]).exit_code == 0
    before = (out / "rounds.jsonl").read_bytes()
    result = runner.invoke(app, ["train", str(config), "--out", str(out)])
    _assert_input_error(result, "--out", "--resume")
    assert (out / "rounds.jsonl").read_bytes() == before


def _trace_csv(tmp_path: Path, text: str) -> dict[str, Any]:
    csv = tmp_path / "trace.csv"
    csv.write_text(text)
    raw = tiny_raw()
    raw["fleet"]["classes"][0]["trace"] = {"kind": "csv", "path": "trace.csv"}
    return raw


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (lambda raw, tmp: raw["training"].update(epochs=3), ["training.epochs", "unknown key"]),
        (lambda raw, tmp: raw["training"].update(rounds="many"), ["training.rounds"]),
        (
            lambda raw, tmp: raw["fleet"]["classes"][1].update(flops=-1.0),
            ["fleet.classes[1].flops", "greater than 0"],
        ),
        (lambda raw, tmp: raw["fleet"].update(classes=[]), ["fleet.classes"]),
        (
            lambda raw, tmp: raw.update(data={"source": "cifar10", "path": "nowhere"}),
            ["data.path", "does not exist"],
        ),
    ],
    ids=["unknown-key", "wrong-type", "negative-speed", "empty-fleet", "missing-data-dir"],
)
def test_malformed_configs_exit_2_with_one_line(
    tmp_path: Path, mutate: Any, fragments: list[str]
) -> None:
    raw = tiny_raw()
    mutate(raw, tmp_path)
    config = _write(tmp_path, raw)
    result = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "out")])
    _assert_input_error(result, str(config), *fragments)
    assert not (tmp_path / "out").exists()


def test_a_trace_csv_with_bad_rows_exits_2_naming_the_csv_and_row(tmp_path: Path) -> None:
    raw = _trace_csv(tmp_path, "time_s,availability\n0,1.0\n5,abc\n")
    config = _write(tmp_path, raw)
    result = runner.invoke(app, ["train", str(config), "--out", str(tmp_path / "out")])
    _assert_input_error(result, "trace.csv", "row 3")


def test_unknown_strategy_and_unreadable_config(tmp_path: Path) -> None:
    config = _write(tmp_path, tiny_raw())
    _assert_input_error(
        runner.invoke(app, ["train", str(config), "--strategy", "nope"]), "strategy", "nope"
    )
    _assert_input_error(runner.invoke(app, ["train", str(tmp_path / "absent.toml")]), "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[training\nrounds = 2\n")
    _assert_input_error(runner.invoke(app, ["train", str(broken)]), "broken.toml")


ALL_METHODS = "distreal,uniform,feddropout,heterofl,fjord,fedavg,fedavg-drop,fedavg-partial"
SMALL_DSE = {
    "levels": 4,
    "population": 4,
    "generations": 1,
    "batches": 2,
    "seeds": 1,
    "warmup_batches": 3,
    "validation_samples": 100,
}


def test_compare_runs_every_method_on_the_same_fleet(tmp_path: Path) -> None:
    raw = tiny_raw(training={"rounds": 2}, distreal={"dse": SMALL_DSE})
    config = _write(tmp_path, raw)
    out = tmp_path / "all"
    result = runner.invoke(
        app, ["compare", str(config), "--strategies", ALL_METHODS, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary) == ALL_METHODS.split(",")
    first_round_devices: set[tuple[str, ...]] = set()
    for name in summary:
        assert name in result.stdout
        rounds = [
            json.loads(line) for line in (out / name / "rounds.jsonl").read_text().splitlines()
        ]
        assert [r["round"] for r in rounds] == [1, 2], name
        # The table is the runs' own outcome, not a placeholder.
        assert summary[name]["rounds"] == 2
        assert summary[name]["final_accuracy"] == rounds[-1]["accuracy"], name
        assert summary[name]["total_energy_j"] == rounds[-1]["cumulative_energy_j"], name
        first = rounds[0]
        first_round_devices.add(tuple(sorted(first["participants"] + first["dropped"])))
    # Same fleet, data and seed: every method asks the same devices in round 1.
    assert len(first_round_devices) == 1
    assert (out / "distreal" / "front.json").is_file()
    assert (out / "distreal" / "selections.jsonl").is_file()
    for figure in ("accuracy.png", "energy.png", "cost.png"):
        assert (out / figure).is_file(), figure


def test_a_front_for_another_model_is_rejected(tmp_path: Path) -> None:
    front = tmp_path / "front.json"
    result = runner.invoke(
        app,
        [
            "explore",
            str(_write(tmp_path, tiny_raw(distreal={"dse": SMALL_DSE}))),
            "--out",
            str(front),
        ],
    )
    assert result.exit_code == 0, result.output
    raw = tiny_raw(
        model={"name": "resnet8"}, training={"rounds": 1}, distreal={"front": str(front)}
    )
    config = _write(tmp_path, raw, "other.toml")
    result = runner.invoke(
        app, ["train", str(config), "--strategy", "distreal", "--out", str(tmp_path / "x")]
    )
    _assert_input_error(result, "front.json", "model", "digits-cnn")
    raw = tiny_raw(distreal={"front": str(tmp_path / "missing.json")})
    result = runner.invoke(
        app, ["train", str(_write(tmp_path, raw, "m.toml")), "--strategy", "distreal"]
    )
    _assert_input_error(result, "distreal.front", "no such file")
    raw = tiny_raw(distreal={"ordered_front": str(tmp_path / "missing.json")})
    result = runner.invoke(
        app, ["train", str(_write(tmp_path, raw, "o.toml")), "--strategy", "distreal-ordered"]
    )
    _assert_input_error(result, "distreal.ordered_front", "no such file")


def test_report_of_a_comparison_with_sub_models_links_every_figure(tmp_path: Path) -> None:
    raw = tiny_raw(training={"rounds": 2}, distreal={"dse": SMALL_DSE})
    out = tmp_path / "cmp"
    result = runner.invoke(
        app,
        [
            "compare",
            str(_write(tmp_path, raw)),
            "--strategies",
            "uniform,fedavg",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    for figure in ("accuracy.png", "energy.png", "cost.png"):
        assert f"]({figure})" in report, figure


def test_bad_values_name_the_flags_that_gave_them(tmp_path: Path) -> None:
    config = _write(tmp_path, tiny_raw())
    out = str(tmp_path / "p.toml")
    # ProfileOptions names its values (data_fractions); the command line names its flags.
    result = runner.invoke(app, ["profile", str(config), "--fractions", "0", "--out", out])
    _assert_input_error(result, "command line: --fractions:", "above 0")
    result = runner.invoke(app, ["profile", str(config), "--warmup-epochs", "-1", "--out", out])
    _assert_input_error(result, "command line: --warmup-epochs:", "-1")
    result = runner.invoke(app, ["train", str(config), "--engine", "ray"])
    _assert_input_error(result, "command line: --engine:", "unknown engine 'ray'; known: flower")
    assert not (tmp_path / "p.toml").exists()


def test_help_shows_the_planners_default_epsilon() -> None:
    assert float(EPSILON_HELP) == DEFAULT_EPSILON
    result = runner.invoke(app, ["plan", "--help"])
    assert result.exit_code == 0, result.output
    words = " ".join(result.stdout.replace("│", " ").split())  # the help's box, unwrapped
    assert f"(default {EPSILON_HELP})" in words
