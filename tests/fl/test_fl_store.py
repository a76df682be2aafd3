"""Tests of leantrain.fl.store: checkpoints, rounds.jsonl and selections.jsonl of a run
directory, resuming from the newest checkpoint, and bad checkpoints as input errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from conftest import tiny_config
from leantrain.engines import LocalExecutor
from leantrain.errors import InputError
from leantrain.fl import RoundRecord, build_setup
from leantrain.fl.run import run_strategy
from leantrain.fl.run_files import read_rounds, read_selections
from leantrain.fl.store import RunState, RunStore
from run_dir_cases import make_records


def _state(rounds: int) -> RunState:
    records = make_records([0.5 + 0.1 * i for i in range(rounds)])
    records[-1] = replace(records[-1], selections={"d0": [[0.0, 1.0], [3.0, 0.5]]})
    return RunState(
        round=rounds,
        sim_time_s=10.0 * rounds,
        cumulative_energy_j=100.0 * rounds,
        global_state={"w": torch.arange(6, dtype=torch.float32).reshape(2, 3) * rounds},
        records=records,
        strategy_state={"last": rounds, "weights": torch.ones(2)},
        wall_time_s=0.25 * rounds,
    )


def test_save_then_latest_restores_the_state(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    state = _state(3)

    store.save(state)
    back = store.latest()

    assert back is not None
    assert (back.round, back.sim_time_s, back.cumulative_energy_j, back.wall_time_s) == (
        3,
        30.0,
        300.0,
        0.75,
    )
    assert back.records == state.records  # selections included: the checkpoint keeps them
    assert torch.equal(back.global_state["w"], state.global_state["w"])
    assert back.strategy_state["last"] == 3
    assert torch.equal(back.strategy_state["weights"], torch.ones(2))


def test_rounds_and_selections_files_match_the_checkpoint(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    state = _state(2)

    store.save(state)

    assert read_rounds(store.rounds_path) == [replace(r, selections={}) for r in state.records]
    (line,) = read_selections(store.selections_path)
    assert (line.round, line.devices) == (2, state.records[-1].selections)


def test_only_the_newest_checkpoints_are_kept_and_latest_reads_the_newest(tmp_path: Path) -> None:
    store = RunStore(tmp_path, keep_checkpoints=2)

    for rounds in (1, 2, 3):
        store.save(_state(rounds))

    names = sorted(p.name for p in store.checkpoint_dir.iterdir())
    assert names == ["round_00002.pt", "round_00003.pt"]
    latest = store.latest()
    assert latest is not None and latest.round == 3
    assert len(read_rounds(store.rounds_path)) == 3


def test_empty_directory_has_no_state(tmp_path: Path) -> None:
    assert RunStore(tmp_path / "new").latest() is None


def test_corrupt_checkpoint_is_an_input_error(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.save(_state(1))
    path = store.checkpoint_dir / "round_00001.pt"
    path.write_bytes(path.read_bytes()[:40])

    with pytest.raises(InputError) as caught:
        store.latest()

    assert (caught.value.file, caught.value.field) == (str(path), "<checkpoint>")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"round": "1"}, "round", "Input should be a valid integer"),
        ({"colour": 1}, "colour", "unknown key"),
        ({"global_state": {"w": [1.0]}}, "global_state.w", "must be a tensor"),
        ({"records": ['{"round": 1}']}, "records[0].sim_time_s", "missing key"),
        (
            {"records": ["{"]},
            "records[0]",
            "invalid JSON: EOF while parsing an object at line 1 column 1",
        ),
    ],
)
def test_checkpoint_fields_are_validated(
    tmp_path: Path, change: dict[str, object], field: str, message: str
) -> None:
    store = RunStore(tmp_path)
    store.save(_state(1))
    path = store.checkpoint_dir / "round_00001.pt"
    payload = torch.load(path, weights_only=False)
    torch.save({**payload, **change}, path)

    with pytest.raises(InputError) as caught:
        store.latest()

    assert (caught.value.field, caught.value.message) == (field, message)


def test_missing_checkpoint_field_is_named(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.save(_state(1))
    path = store.checkpoint_dir / "round_00001.pt"
    payload = torch.load(path, weights_only=False)
    del payload["wall_time_s"]
    torch.save(payload, path)

    with pytest.raises(InputError, match=r"round_00001\.pt: wall_time_s: missing key$"):
        store.latest()


def _final_state(directory: Path) -> dict[str, torch.Tensor]:
    state = RunStore(directory).latest()
    assert state is not None
    return state.global_state


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
