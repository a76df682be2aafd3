"""Q(d) computed in worker processes equals Q(d) computed in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from conftest import SMALL_DSE, tiny_config
from leantrain.distreal import DseProgress, explore
from leantrain.distreal.pool import ProxyPool
from leantrain.distreal.proxy import ConvergenceProxy
from leantrain.fl import build_setup


@pytest.fixture
def single_thread() -> Iterator[None]:
    """The workers compute with one torch thread; so does this process here, so both run the
    same kernels and the comparison is exact on any CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_parallel_exploration_equals_the_sequential_one(
    tmp_path: Path, single_thread: None
) -> None:
    dse = {**SMALL_DSE, "levels": 5, "population": 6, "generations": 3, "min_keep": 0.2}
    config = tiny_config(distreal={"dse": dse})
    events: dict[int, list[DseProgress]] = {1: [], 2: []}
    fronts = {
        workers: explore(
            build_setup(config),
            workers=workers,
            progress=events[workers].append,
            cache_path=tmp_path / f"cache{workers}.json",
        )
        for workers in (1, 2)
    }
    sequential, parallel = fronts[1], fronts[2]
    assert parallel.points == sequential.points
    assert parallel.evaluated == sequential.evaluated
    assert parallel.uniform == sequential.uniform
    assert parallel.settings == sequential.settings
    assert events[2] == events[1]
    assert len(sequential.evaluated) > len(sequential.uniform)  # the search ran
    assert (tmp_path / "cache2.json").read_text() == (tmp_path / "cache1.json").read_text()


def test_pool_values_are_the_proxy_values_in_order(single_thread: None) -> None:
    setup = build_setup(tiny_config(distreal={"dse": SMALL_DSE}))
    proxy = ConvergenceProxy(setup, setup.config.distreal.dse, setup.channel_groups)
    vectors = [(0.5, 0.25), (0.0, 0.0), (0.25, 0.5)]
    pool = ProxyPool(proxy, 2, "<test>")
    try:
        values = pool.qualities(vectors)
    finally:
        pool.close()
    assert proxy.computed == 3
    assert values == [proxy(vector) for vector in vectors]
    assert len(set(values)) > 1  # different vectors, different Q: the order is checked
    with pytest.raises(ValueError, match="workers"):
        ProxyPool(proxy, 0, "<test>")
