"""Tests for the partitioners in :mod:`leantrain.data.partition`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from leantrain.config import DataConfig
from leantrain.data import (
    ArrayDataset,
    DirichletPartitioner,
    IidPartitioner,
    NaturalPartitioner,
    ShardsPartitioner,
    partition,
)
from leantrain.errors import InputError

NUM_CLASSES = 10


def _dataset(labels: np.ndarray, groups: np.ndarray | None = None) -> ArrayDataset:
    x = torch.zeros(len(labels), 1, 2, 2)
    return ArrayDataset(x, torch.from_numpy(labels.astype(np.int64)), NUM_CLASSES, groups)


def _balanced(per_class: int = 100, writers: int = 50) -> ArrayDataset:
    """Labels 0..9 with ``per_class`` each, interleaved; writer ids cycle over ``writers``."""
    labels = np.tile(np.arange(NUM_CLASSES), per_class)
    return _dataset(labels, np.arange(len(labels)) % writers)


def _assert_disjoint_cover(parts: list[np.ndarray], size: int, num_devices: int) -> None:
    assert len(parts) == num_devices
    for part in parts:
        assert part.dtype == np.int64
        assert np.all(np.diff(part) > 0)  # sorted, no repeats
    joined = np.concatenate(parts)
    assert len(joined) == size and np.array_equal(np.sort(joined), np.arange(size))


def _label_entropy(parts: list[np.ndarray], labels: np.ndarray) -> float:
    """Mean over devices of the entropy (bits) of the device's label distribution."""
    entropies = []
    for part in parts:
        counts = np.bincount(labels[part], minlength=NUM_CLASSES)
        p = counts[counts > 0] / counts.sum()
        entropies.append(float(-(p * np.log2(p)).sum()))
    return float(np.mean(entropies))


CONFIGS = {
    "iid": DataConfig(partition="iid"),
    "dirichlet": DataConfig(partition="dirichlet", alpha=0.5),
    "shards": DataConfig(partition="shards", shards_per_device=2),
    "natural": DataConfig(partition="natural"),
}


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_partition_is_a_disjoint_cover(kind: str) -> None:
    dataset = _balanced()
    parts = partition(dataset, CONFIGS[kind], num_devices=10, seed=0)
    _assert_disjoint_cover(parts, len(dataset), 10)


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_partition_depends_only_on_the_seed(kind: str) -> None:
    dataset = _balanced()
    first = partition(dataset, CONFIGS[kind], num_devices=10, seed=7)
    again = partition(dataset, CONFIGS[kind], num_devices=10, seed=7)
    other = partition(dataset, CONFIGS[kind], num_devices=10, seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_iid_sizes_differ_by_at_most_one() -> None:
    parts = partition(_balanced(per_class=101), CONFIGS["iid"], num_devices=7, seed=0)
    sizes = [len(part) for part in parts]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == 1010


def test_dirichlet_small_alpha_skews_labels_more() -> None:
    dataset = _balanced(per_class=200)
    labels = dataset.y.numpy()
    skewed = partition(dataset, DataConfig(partition="dirichlet", alpha=0.1), 10, seed=0)
    even = partition(dataset, DataConfig(partition="dirichlet", alpha=100.0), 10, seed=0)
    assert _label_entropy(skewed, labels) < _label_entropy(even, labels) - 1.0
    # Large α is close to iid: nearly log2(10) bits per device.
    assert _label_entropy(even, labels) > 3.2


def test_dirichlet_gives_every_device_enough_samples() -> None:
    dataset = _balanced(per_class=200)
    parts = partition(dataset, DataConfig(partition="dirichlet", alpha=0.1), 20, seed=3)
    assert min(len(part) for part in parts) >= 10


def test_dirichlet_impossible_split_is_an_input_error() -> None:
    # Two classes, each landing almost whole on one device: 20 devices cannot all get data.
    dataset = _dataset(np.repeat([0, 1], 10))
    with pytest.raises(InputError) as caught:
        DirichletPartitioner(alpha=0.001).split(dataset, 20, np.random.default_rng(0))
    assert caught.value.field == "data.alpha"


def test_shards_give_at_most_k_labels_when_classes_align() -> None:
    # 100 samples per class and 10 devices × 2 shards of 50: each shard holds one label.
    dataset = _balanced(per_class=100)
    labels = dataset.y.numpy()
    for seed in range(5):
        parts = partition(dataset, CONFIGS["shards"], num_devices=10, seed=seed)
        assert all(len(np.unique(labels[part])) <= 2 for part in parts)
        assert all(len(part) == 100 for part in parts)


def test_shards_need_enough_samples() -> None:
    with pytest.raises(InputError) as caught:
        ShardsPartitioner(3).split(_dataset(np.arange(10) % 2), 4, np.random.default_rng(0))
    assert caught.value.field == "data.shards_per_device"


def test_natural_keeps_each_writer_on_one_device() -> None:
    dataset = _balanced(writers=23)
    assert dataset.groups is not None
    parts = partition(dataset, CONFIGS["natural"], num_devices=5, seed=0)
    owner: dict[int, int] = {}
    for device, part in enumerate(parts):
        for writer in np.unique(dataset.groups[part]):
            assert owner.setdefault(int(writer), device) == device
        # Every sample of each of its writers is on the device.
        mine = np.flatnonzero(np.isin(dataset.groups, dataset.groups[part]))
        assert np.array_equal(mine, part)
    assert len(owner) == 23
    writers_per_device = [len(np.unique(dataset.groups[part])) for part in parts]
    assert max(writers_per_device) - min(writers_per_device) <= 1


def test_natural_works_with_sparse_writer_ids() -> None:
    groups = np.array([1000, 7, 7, 1000, 42, 42, 42, 5])
    parts = NaturalPartitioner().split(_dataset(np.zeros(8), groups), 4, np.random.default_rng(1))
    _assert_disjoint_cover(parts, 8, 4)
    assert sorted(len(part) for part in parts) == [1, 2, 2, 3]


def test_natural_needs_writer_ids() -> None:
    with pytest.raises(InputError, match="writer ids") as caught:
        partition(_dataset(np.zeros(10)), CONFIGS["natural"], num_devices=2, seed=0)
    assert caught.value.field == "data.partition"


def test_natural_needs_as_many_writers_as_devices() -> None:
    dataset = _balanced(writers=4)
    with pytest.raises(InputError, match="6 devices but only 4 writers") as caught:
        partition(dataset, CONFIGS["natural"], num_devices=6, seed=0)
    assert caught.value.field == "fleet"


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_more_devices_than_samples_is_an_input_error(kind: str) -> None:
    dataset = _dataset(np.arange(5) % 2, np.arange(5))
    with pytest.raises(InputError, match="6 devices"):
        partition(dataset, CONFIGS[kind], num_devices=6, seed=0)


@pytest.mark.parametrize(
    "partitioner",
    [IidPartitioner(), ShardsPartitioner(1), ShardsPartitioner(3), NaturalPartitioner()],
)
@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=300),
    num_devices=st.integers(min_value=1, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_partitioners_cover_any_feasible_input(
    partitioner: Any, size: int, num_devices: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, size=size)
    dataset = _dataset(labels, rng.integers(0, 30, size=size))
    try:
        parts = partitioner.split(dataset, num_devices, rng)
    except InputError:
        assert dataset.groups is not None
        writers = len(np.unique(dataset.groups))
        shards = getattr(partitioner, "shards_per_device", 1)
        assert num_devices * shards > size or num_devices > writers
        return
    _assert_disjoint_cover(parts, size, num_devices)
