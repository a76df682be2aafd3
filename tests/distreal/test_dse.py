"""DISTREAL's design-space exploration on the tiny digits task: the front's invariants,
determinism, the evaluation cache, a golden front, the plot and ``leantrain explore``.

The explorations of this module run the proxy in float64: float32 kernels round differently on
different CPUs and thread counts, which changes a few validation predictions and with them the
front, while the float64 front is the same on all of them (docs/testing.md, "Numerical
portability of the tests"). The golden front pins (R, Q, d) for the tiny model and seed, per
initial model: torch draws other initial weights on a CPU without AVX2 (its scalar normal
sampler rounds differently from the vectorised one), so the golden file holds one front per
digest of the initial weights. After an intended change to the proxy or the search, regenerate
both, once natively and once without AVX2::

    export LEANTRAIN_REGEN_GOLDEN=1
    .venv/bin/pytest tests/distreal/test_dse.py -k golden
    ATEN_CPU_CAPABILITY=default .venv/bin/pytest tests/distreal/test_dse.py -k golden
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import torch
from typer.testing import CliRunner

from conftest import tiny_config, tiny_raw
from leantrain.cli import app
from leantrain.config import DseConfig
from leantrain.distreal import (
    ConvergenceProxy,
    DseProgress,
    EvaluationCache,
    Front,
    FrontPoint,
    explore,
    hypervolume,
    model_identity,
    plot_front,
)
from leantrain.errors import InputError
from leantrain.fl import build_setup
from leantrain.nn.groups import channel_groups

GOLDEN = Path(__file__).parent / "golden" / "tiny_front.json"
REGENERATE = os.environ.get("LEANTRAIN_REGEN_GOLDEN") == "1"

#: 6 levels over the two groups of digits-cnn: 36 vectors, of which NSGA-II sees at most 18.
SMALL_DSE: dict[str, Any] = {
    "levels": 6,
    "population": 6,
    "generations": 3,
    "batches": 4,
    "seeds": 1,
    "warmup_batches": 10,
    "validation_samples": 200,
}


@dataclass(frozen=True)
class Runs:
    """Three explorations of the same config: no cache, filling a cache, from the cache."""

    plain: Front
    filling: Front
    cached: Front
    filling_events: list[DseProgress]
    cached_events: list[DseProgress]


#: The proxy's precision in this module: the front is then the same on every CPU and thread count.
DTYPE = torch.float64


#: A floor of one grid step keeps all 6 levels (the golden front predates the floor).
NO_FLOOR: dict[str, Any] = {"min_keep": 1 / 6}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    config = tiny_config(distreal={"dse": {**SMALL_DSE, **NO_FLOOR}})
    cache = tmp_path_factory.mktemp("dse") / "cache.json"
    plain = explore(build_setup(config), dtype=DTYPE)
    filling_events: list[DseProgress] = []
    filling = explore(
        build_setup(config), cache_path=cache, progress=filling_events.append, dtype=DTYPE
    )
    cached_events: list[DseProgress] = []
    cached = explore(
        build_setup(config), cache_path=cache, progress=cached_events.append, dtype=DTYPE
    )
    return Runs(plain, filling, cached, filling_events, cached_events)


def _rows(points: tuple[FrontPoint, ...]) -> list[tuple[float, float, tuple[float, ...]]]:
    return [(p.cost, p.quality, p.dropout) for p in points]


def test_the_front_is_the_sorted_non_dominated_archive_ending_with_the_full_model(
    runs: Runs,
) -> None:
    front = runs.plain
    points = front.points
    assert [p.cost for p in points] == sorted(p.cost for p in points)
    last = points[-1]
    assert last.dropout == (0.0, 0.0) and last.cost == 1.0
    cheaper = points[:-1]
    assert all(p.cost < 1.0 for p in cheaper)
    # Strictly better Q for strictly more R: no point of the front dominates another.
    for a, b in itertools.pairwise(cheaper):
        assert a.cost < b.cost and a.quality < b.quality
    # Nothing evaluated beats a front point.
    archive = front.evaluated
    for point in cheaper:
        assert not any(
            (o.cost <= point.cost and o.quality >= point.quality)
            and (o.cost < point.cost or o.quality > point.quality)
            for o in archive
            if o.cost < 1.0
        )
    # Every evaluated vector with R < 1 is either on the front or dominated by a front point.
    for other in archive:
        if other.cost < 1.0 and other not in points:
            assert any(p.cost <= other.cost and p.quality >= other.quality for p in cheaper)
    assert set(points) <= set(archive)
    dominated = any(p.quality >= last.quality for p in cheaper)
    assert front.settings["full_model_dominated"] is dominated


def test_uniform_vectors_are_all_evaluated_and_the_archive_is_bounded(runs: Runs) -> None:
    front = runs.plain
    levels = SMALL_DSE["levels"]
    grid = [g / levels for g in range(levels)]
    assert sorted(p.dropout[0] for p in front.uniform) == grid
    assert all(p.dropout[0] == p.dropout[1] for p in front.uniform)
    archive = {p.dropout: p for p in front.evaluated}
    assert len(archive) == len(front.evaluated) == front.settings["evaluations"]
    for point in front.uniform:
        assert archive[point.dropout] == point
    # At most the seeded population plus one population per further generation.
    assert levels <= len(archive) <= SMALL_DSE["population"] * SMALL_DSE["generations"]
    assert len(archive) < levels**2  # the search did not enumerate everything
    assert all(0.0 <= p.quality <= 1.0 for p in archive.values())
    identity = front.identity
    assert identity == model_identity(build_setup(tiny_config()))
    assert identity.model == "digits-cnn" and identity.channels == (16, 32)


def test_the_same_config_and_seed_give_the_same_front(runs: Runs) -> None:
    assert _rows(runs.filling.points) == _rows(runs.plain.points)
    assert _rows(runs.filling.evaluated) == _rows(runs.plain.evaluated)
    assert runs.filling.settings == runs.plain.settings
    assert runs.filling.to_json() == runs.plain.to_json()


def test_a_second_run_from_the_disk_cache_trains_nothing_and_gives_the_same_front(
    runs: Runs,
) -> None:
    computed = runs.filling_events[-1].computed
    assert computed == runs.filling.settings["evaluations"]
    assert [e.computed for e in runs.cached_events] == [0] * len(runs.cached_events)
    assert runs.cached.to_json() == runs.filling.to_json()
    generations = [e.generation for e in runs.cached_events if e.event == "generation"]
    assert generations == list(range(SMALL_DSE["generations"] + 1))


def test_a_cache_written_for_other_settings_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    cache = EvaluationCache("one", path)
    cache[(1, 2)] = 0.5
    cache.flush()
    assert EvaluationCache("one", path)[(1, 2)] == 0.5
    assert len(EvaluationCache("two", path)) == 0
    path.write_text("{not json")
    assert len(EvaluationCache("one", path)) == 0


def test_the_fingerprint_changes_with_what_q_depends_on() -> None:
    def fingerprint(dtype: torch.dtype = torch.float32, **dse: Any) -> str:
        config = tiny_config(distreal={"dse": {**SMALL_DSE, **dse}})
        setup = build_setup(config)
        groups = channel_groups(setup.build_model(), setup.data.train.input_shape)
        return ConvergenceProxy(setup, config.distreal.dse, groups, dtype=dtype).fingerprint

    base = fingerprint()
    assert fingerprint() == base
    assert fingerprint(population=12, generations=5) == base  # search settings do not matter
    assert fingerprint(batches=5) != base
    assert fingerprint(validation_samples=300) != base
    assert fingerprint(levels=4) != base  # the genes mean other rates
    assert fingerprint(torch.float64) != base  # Q of float64 training is another number


def test_too_many_validation_samples_is_an_input_error() -> None:
    setup = build_setup(tiny_config())
    dse = DseConfig(validation_samples=len(setup.data.train))
    with pytest.raises(InputError, match="validation_samples"):
        explore(setup, dse=dse)


def test_hypervolume_of_a_staircase() -> None:
    points = [
        FrontPoint(0.2, 0.5, (0.5,)),
        FrontPoint(0.5, 0.8, (0.25,)),
        FrontPoint(0.6, 0.7, (0.25,)),  # dominated: ignored
        FrontPoint(1.0, 0.9, (0.0,)),  # at the reference R: no area
    ]
    assert hypervolume(points) == pytest.approx(0.3 * 0.5 + 0.5 * 0.8)
    assert hypervolume(points, reference=(1.0, 0.5)) == pytest.approx(0.5 * 0.3)
    assert hypervolume([]) == 0.0


def _initial_weights_digest() -> str:
    """A digest of the tiny config's initial model: the key of its golden front."""
    digest = hashlib.sha256()
    for key, value in sorted(build_setup(tiny_config()).build_model().state_dict().items()):
        digest.update(key.encode("utf-8"))
        digest.update(value.numpy().tobytes())
    return digest.hexdigest()[:16]


def test_golden_front(runs: Runs) -> None:
    rows = [[p.cost, p.quality, list(p.dropout)] for p in runs.plain.points]
    key = _initial_weights_digest()
    if REGENERATE:
        fronts = json.loads(GOLDEN.read_text())["fronts"] if GOLDEN.is_file() else {}
        fronts[key] = rows
        body = ",\n  ".join(
            f"{json.dumps(k)}: [\n   " + ",\n   ".join(json.dumps(row) for row in points) + "\n  ]"
            for k, points in sorted(fronts.items())
        )
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(
            f'{{\n "config": {json.dumps(SMALL_DSE)},\n "dtype": "{DTYPE}",\n'
            f' "fronts": {{\n  {body}\n }}\n}}\n'
        )
    golden = json.loads(GOLDEN.read_text())
    assert golden["config"] == SMALL_DSE, "golden file is for other settings; regenerate it"
    assert golden["dtype"] == str(DTYPE)
    assert key in golden["fronts"], f"no golden front for initial weights {key}; regenerate it"
    # Exact: R is a ratio of integer FLOP counts, Q a mean of validation counts over 200, and
    # float64 training gives the same counts on every CPU configuration of docs/testing.md.
    assert rows == golden["fronts"][key]


def test_the_front_round_trips_and_plots(runs: Runs, tmp_path: Path) -> None:
    path = runs.plain.save(tmp_path / "front.json")
    loaded = Front.load(path, runs.plain.identity)
    assert loaded.to_json() == runs.plain.to_json()
    picture = plot_front(loaded, tmp_path / "front.png")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


runner = CliRunner()


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def test_explore_command_writes_the_front_and_its_plot(tmp_path: Path) -> None:
    dse = {**SMALL_DSE, "levels": 2, "population": 4, "generations": 2, "batches": 2}
    config = _write(tmp_path, tiny_raw(distreal={"dse": dse}))
    out = tmp_path / "out" / "tiny.json"
    result = runner.invoke(app, ["explore", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    front = Front.load(out)
    assert front.points[-1].dropout == (0.0, 0.0)
    assert (tmp_path / "out" / "tiny.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out" / "tiny.cache.json").is_file()
    assert "Pareto front of digits-cnn" in result.stdout
    assert "generation 2/2" in result.stderr

    before = out.read_bytes()
    again = runner.invoke(app, ["explore", str(config), "--out", str(out)])
    assert again.exit_code == 2, again.output
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and "--force" in lines[0], again.stderr
    assert out.read_bytes() == before

    forced = runner.invoke(app, ["explore", str(config), "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "generation 2/2 4 vectors evaluated (0 trained)" in forced.stderr
    assert out.read_bytes() == before


def test_explore_command_with_a_malformed_config_exits_2_with_one_line(tmp_path: Path) -> None:
    raw = tiny_raw(distreal={"dse": {"levels": 1}})
    config = _write(tmp_path, raw)
    result = runner.invoke(app, ["explore", str(config), "--out", str(tmp_path / "f.json")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "levels" in lines[0], result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not (tmp_path / "f.json").exists()
