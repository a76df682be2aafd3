"""Tests of leantrain.fl.strategy's round loop (``Strategy.start``), end to end on a tiny real
task: the same config and seed give the same run, and deadline strategies drop or cut slow
devices."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from conftest import tiny_config
from leantrain.engines import LocalExecutor
from leantrain.fl import build_setup, read_rounds
from leantrain.fl.run import run_strategy


def test_same_config_and_seed_give_identical_rounds_jsonl(tmp_path: Path) -> None:
    setup = build_setup(tiny_config())
    run_strategy(setup, "fedavg-partial", LocalExecutor, tmp_path / "a")
    run_strategy(build_setup(tiny_config()), "fedavg-partial", LocalExecutor, tmp_path / "b")
    first = (tmp_path / "a" / "rounds.jsonl").read_bytes()
    assert first == (tmp_path / "b" / "rounds.jsonl").read_bytes()
    records = read_rounds(tmp_path / "a" / "rounds.jsonl")
    assert [r.round for r in records] == [1, 2, 3]
    assert all(r.accuracy is not None and 0.0 <= r.accuracy <= 1.0 for r in records)
    # The simulated clock only moves forward and energy accumulates.
    assert all(b.sim_time_s > a.sim_time_s for a, b in itertools.pairwise(records))
    assert records[-1].cumulative_energy_j == pytest.approx(sum(r.energy_j for r in records))


def test_deadline_strategies_drop_or_cut_slow_devices(tmp_path: Path) -> None:
    # A tight deadline: half the time the median ('mid') class needs at full availability.
    config = tiny_config(training={"deadline_slack": 0.5, "rounds": 2, "devices_per_round": 12})
    setup = build_setup(config)
    summaries = {
        name: run_strategy(setup, name, LocalExecutor, tmp_path / name)
        for name in ("fedavg", "fedavg-drop", "fedavg-partial")
    }
    rounds = {name: read_rounds(tmp_path / name / "rounds.jsonl") for name in summaries}
    assert all(not r.dropped for r in rounds["fedavg"])
    assert all(r.dropped for r in rounds["fedavg-drop"])
    assert all(r.reasons[d] == "deadline" for r in rounds["fedavg-drop"] for d in r.dropped)
    # Partial work keeps more devices than dropping, and rounds end by the deadline.
    assert sum(len(r.participants) for r in rounds["fedavg-partial"]) > sum(
        len(r.participants) for r in rounds["fedavg-drop"]
    )
    for name in ("fedavg-drop", "fedavg-partial"):
        assert all(r.round_time_s <= setup.deadline_s + 1e-9 for r in rounds[name])
    # FedAvg waits for the slowest device, so it takes longer than the deadline-bound methods.
    assert summaries["fedavg"].sim_time_s > summaries["fedavg-partial"].sim_time_s
