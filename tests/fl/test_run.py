"""End-to-end federated runs on a tiny real task: determinism, resume, faults, deadlines."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from leantrain.engines import LocalExecutor
from leantrain.fl import RoundRecord, RunStore, build_setup, read_rounds
from leantrain.fl.faults import draw_fault
from leantrain.fl.run import run_strategy


def _final_state(directory: Path) -> dict[str, torch.Tensor]:
    state = RunStore(directory).latest()
    assert state is not None
    return state.global_state


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


def test_a_run_killed_after_round_k_and_resumed_ends_with_the_same_weights(
    tmp_path: Path,
) -> None:
    setup = build_setup(tiny_config())
    run_strategy(setup, "fedavg", LocalExecutor, tmp_path / "whole")

    def kill_after_round_2(record: RoundRecord) -> None:
        if record.round == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_strategy(setup, "fedavg", LocalExecutor, tmp_path / "cut", on_round=kill_after_round_2)
    assert len(read_rounds(tmp_path / "cut" / "rounds.jsonl")) == 2
    run_strategy(build_setup(tiny_config()), "fedavg", LocalExecutor, tmp_path / "cut", resume=True)

    whole, resumed = _final_state(tmp_path / "whole"), _final_state(tmp_path / "cut")
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert torch.equal(whole[key], resumed[key]), key
    assert (tmp_path / "whole" / "rounds.jsonl").read_bytes() == (
        tmp_path / "cut" / "rounds.jsonl"
    ).read_bytes()


def test_injected_faults_are_rejected_and_logged_and_the_run_completes(tmp_path: Path) -> None:
    config = tiny_config(
        training={"rounds": 5, "devices_per_round": 8},
        faults={"rate": 0.2, "kinds": ["exception", "nan", "timeout"]},
    )
    setup = build_setup(config)
    run_strategy(setup, "fedavg", LocalExecutor, tmp_path)
    records = read_rounds(tmp_path / "rounds.jsonl")
    assert len(records) == 5

    expected: dict[tuple[int, str], str] = {}
    for record in records:
        for name in record.participants + record.dropped:
            index = next(d.index for d in setup.fleet.devices if d.name == name)
            fault = draw_fault(config.faults, config.seed, record.round, index)
            if fault is not None:
                expected[(record.round, name)] = fault
    kinds = set(expected.values())
    assert kinds == {"exception", "nan", "timeout"}, "the seed should exercise every kind"
    assert 4 <= len(expected) <= 14  # about 20% of 40 updates

    for (round_index, name), fault in expected.items():
        record = records[round_index - 1]
        assert name in record.dropped and name not in record.participants
        reason = record.reasons[name]
        assert {"exception": "exception:", "nan": "non-finite", "timeout": "timeout"}[
            fault
        ] in reason
    # Healthy devices were all aggregated: fedavg has no deadline.
    for record in records:
        faulty = {name for (r, name) in expected if r == record.round}
        assert set(record.dropped) == faulty
    final = _final_state(tmp_path)
    assert all(torch.isfinite(v).all() for v in final.values() if v.is_floating_point())


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
