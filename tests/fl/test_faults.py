"""Tests of leantrain.fl.faults: injected faults drawn per (seed, round, device)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from conftest import tiny_config
from leantrain.config import FaultConfig
from leantrain.engines import LocalExecutor
from leantrain.fl import build_setup, read_rounds
from leantrain.fl.faults import draw_fault
from leantrain.fl.run import run_strategy
from leantrain.fl.store import RunStore


def test_no_faults_at_rate_zero() -> None:
    config = FaultConfig(rate=0.0)
    assert all(draw_fault(config, 1, r, d) is None for r in range(20) for d in range(20))


def test_every_update_is_faulty_at_rate_one_with_a_configured_kind() -> None:
    config = FaultConfig(rate=1.0, kinds=["nan", "timeout"])
    kinds = Counter(draw_fault(config, 1, r, d) for r in range(20) for d in range(20))
    assert set(kinds) == {"nan", "timeout"}


def test_the_draw_depends_only_on_seed_round_and_device() -> None:
    config = FaultConfig(rate=0.5)
    cells = [(r, d) for r in range(1, 30) for d in range(12)]
    forward = [draw_fault(config, 7, r, d) for r, d in cells]
    backward = [draw_fault(config, 7, r, d) for r, d in reversed(cells)][::-1]
    assert forward == backward
    # About half are faulty: 348 draws, the binomial's standard deviation is about 9.3, so a
    # count outside 174 +- 60 would mean the rate is not applied (the draw is fixed by the seed).
    faulty = sum(f is not None for f in forward)
    assert 114 <= faulty <= 234
    assert forward != [draw_fault(config, 8, r, d) for r, d in cells]


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
    final = RunStore(tmp_path).latest()
    assert final is not None
    assert all(
        torch.isfinite(v).all() for v in final.global_state.values() if v.is_floating_point()
    )
