"""The shipped example configs and the demo config stay valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from leantrain.cli import demo_config
from leantrain.config import load_config
from leantrain.engines import LocalExecutor
from leantrain.fl import build_setup, read_rounds
from leantrain.fl.run import run_strategy

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_configs_validate(path: Path) -> None:
    config = load_config(path)
    assert config.fleet.classes


def test_demo_config_validates() -> None:
    config = demo_config()
    assert config.data.source == "mnist"
    assert len({c.name for c in config.fleet.classes}) >= 3


def test_the_digits_example_runs_with_its_csv_trace(tmp_path: Path) -> None:
    config = load_config(Path(__file__).resolve().parent.parent / "examples" / "digits-quick.toml")
    config = config.model_copy(
        update={"training": config.training.model_copy(update={"rounds": 2})}
    )
    setup = build_setup(config)
    assert setup.fleet.devices[0].trace.at(3.0) == pytest.approx(0.6)
    run_strategy(setup, "fedavg-partial", LocalExecutor, tmp_path)
    assert len(read_rounds(tmp_path / "rounds.jsonl")) == 2
