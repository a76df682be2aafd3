"""Tests of leantrain.fl.run's helpers: strategy names, config.toml and summary.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import tiny_config
from leantrain.config import load_config
from leantrain.errors import InputError
from leantrain.fl import build_setup
from leantrain.fl.records import summarise
from leantrain.fl.run import check_strategies, write_config, write_summary
from leantrain.fl.run_files import read_summary
from run_dir_cases import TARGETS, make_records


def test_an_unknown_strategy_is_named_with_the_known_ones() -> None:
    check_strategies(["fedavg", "heterofl", "distreal"])

    with pytest.raises(InputError) as caught:
        check_strategies(["fedavg", "fedsgd"], "run.toml")

    assert (caught.value.file, caught.value.field) == ("run.toml", "strategy")
    assert caught.value.message.startswith("unknown strategy 'fedsgd'; known: ")
    assert "fedavg-partial" in caught.value.message and "distreal" in caught.value.message


def test_the_written_config_reads_back_as_the_same_config(tmp_path: Path) -> None:
    config = tiny_config(training={"rounds": 7})

    path = write_config(tmp_path, build_setup(config))

    assert path == tmp_path / "config.toml"
    assert load_config(path) == config


def test_summary_json_reads_back_in_order(tmp_path: Path) -> None:
    summaries = [summarise(n, make_records([0.9]), TARGETS, 1.0) for n in ("z", "a")]

    path = write_summary(tmp_path, summaries)

    assert list(read_summary(path).values()) == summaries
