"""The shipped example configs and the demo config stay valid."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from leantrain.config import MarkovTraceConfig, load_config
from leantrain.engines import LocalExecutor
from leantrain.fl import build_setup, read_rounds
from leantrain.fl.run import run_strategy
from leantrain.workflows import demo_config

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_configs_validate_and_build_their_fleet_and_partition(path: Path) -> None:
    raw = tomllib.loads(path.read_text())
    setup = build_setup(load_config(path))
    # Every class the file lists becomes `count` devices with the file's figures, in file order.
    classes = raw["fleet"]["classes"]
    expected = [f"{c['name']}-{i}" for c in classes for i in range(c["count"])]
    assert [d.name for d in setup.fleet.devices] == expected
    by_name = {c["name"]: c for c in classes}
    for device in setup.fleet.devices:
        written = by_name[device.device_class]
        assert (device.flops, device.power_w) == (written["flops"], written["power_w"])
        assert 0.0 <= device.trace.at(0.0) <= 1.0
    # The partition hands every training sample to exactly one device, and every device some.
    assert len(setup.partitions) == len(expected)
    assert all(len(part) > 0 for part in setup.partitions)
    everything = np.sort(np.concatenate(setup.partitions))
    assert np.array_equal(everything, np.arange(len(setup.data.train)))


def test_demo_config_validates() -> None:
    config = demo_config()
    assert config.data.source == "mnist"
    assert len({c.name for c in config.fleet.classes}) >= 3


def test_the_demo_runs_the_distreal_grids_headline_regime_scaled_down() -> None:
    # The headline cell of benchmarks/distreal_grid.py (Dirichlet alpha 0.1 x Markov busy/idle):
    # only sizes (devices, samples, rounds, DSE) may differ in the demo.
    config = demo_config()
    assert (config.data.partition, config.data.alpha) == ("dirichlet", 0.1)
    training = config.training
    assert training.deadline_slack == 0.5
    assert (training.devices_per_round, training.local_epochs, training.batch_size) == (10, 1, 32)
    assert (training.lr, training.momentum, training.lr_schedule) == (0.05, 0.5, None)
    assert training.accuracy_targets == [0.95, 0.97]
    assert config.distreal.overrun == "partial"
    # Three classes at speeds 1 : 0.5 : 0.25 and powers 8 : 4 : 2 W; T from the medium one.
    classes = sorted(config.fleet.classes, key=lambda c: -c.flops)
    assert [c.flops / classes[0].flops for c in classes] == [1.0, 0.5, 0.25]
    assert [c.power_w for c in classes] == [8.0, 4.0, 2.0]
    assert config.fleet.reference_class == classes[1].name
    for device_class in classes:
        trace = device_class.trace
        assert isinstance(trace, MarkovTraceConfig), device_class.name
        assert (trace.levels, trace.step_s) == ([0.2, 1.0], 1.0)
        assert trace.transition == [[0.9, 0.1], [0.1, 0.9]]
    # Both mask variants of DISTREAL, paper-style HeteroFL and the FedAvg tiers are compared.
    assert {"distreal", "distreal-ordered", "heterofl", "fedavg", "fedavg-partial"} <= set(
        config.strategies
    )


def test_the_digits_example_runs_with_its_csv_trace(tmp_path: Path) -> None:
    config = load_config(Path(__file__).resolve().parent.parent / "examples" / "digits-quick.toml")
    config = config.model_copy(
        update={"training": config.training.model_copy(update={"rounds": 2})}
    )
    setup = build_setup(config)
    assert setup.fleet.devices[0].trace.at(3.0) == pytest.approx(0.6)
    run_strategy(setup, "fedavg-partial", LocalExecutor, tmp_path)
    assert len(read_rounds(tmp_path / "rounds.jsonl")) == 2
