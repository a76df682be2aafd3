"""Tests for the data sources, :class:`ArrayDataset` and :func:`load_data`.

CIFAR-10, FEMNIST and npz readers run on tiny files written here in the real formats; MNIST and
digits run on the real bundled data.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from leantrain.config import DataConfig
from leantrain.data import PARTITIONERS, SOURCES, ArrayDataset, DataSplit, load_data
from leantrain.data.cifar10 import CIFAR10_MEAN, CIFAR10_STD
from leantrain.data.mnist import MNIST_MEAN, MNIST_STD
from leantrain.errors import InputError
from leantrain.seeding import numpy_rng

# --- registries and ArrayDataset -------------------------------------------------------------


def test_registries_cover_every_config_choice() -> None:
    assert set(SOURCES) == {"cifar10", "digits", "femnist", "mnist", "npz"}
    assert set(PARTITIONERS) == {"dirichlet", "iid", "natural", "shards"}
    # The config accepts exactly the registered names, and lists them when refusing one.
    assert [DataConfig(partition=name).partition for name in PARTITIONERS] == list(PARTITIONERS)
    with pytest.raises(ValueError, match="unknown data source 'svhn'; known: cifar10, digits"):
        DataConfig(source="svhn")
    with pytest.raises(ValueError, match="unknown partitioner 'zipf'; known: dirichlet, iid"):
        DataConfig(partition="zipf")
    assert all(cls.name == name for name, cls in SOURCES.items())


def test_subset_keeps_groups_aligned_and_reports_shape() -> None:
    x = torch.arange(5 * 3 * 2 * 2, dtype=torch.float32).reshape(5, 3, 2, 2)
    dataset = ArrayDataset(x, torch.arange(5), 5, groups=np.array([10, 11, 12, 13, 14]))
    part = dataset.subset(np.array([4, 1]))
    assert len(part) == 2
    assert part.input_shape == (3, 2, 2)
    assert part.y.tolist() == [4, 1]
    assert part.groups is not None and part.groups.tolist() == [14, 11]
    assert torch.equal(part.x, x[[4, 1]])
    assert dataset.subset(np.array([], dtype=np.int64)).groups is not None


def test_array_dataset_rejects_misaligned_arrays() -> None:
    x = torch.zeros(3, 1, 2, 2)
    with pytest.raises(ValueError, match="samples"):
        ArrayDataset(x, torch.zeros(4, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match="groups"):
        ArrayDataset(x, torch.zeros(3, dtype=torch.int64), 2, groups=np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match="N×C×H×W"):
        ArrayDataset(torch.zeros(3, 4), torch.zeros(3, dtype=torch.int64), 2)


# --- mnist -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist() -> DataSplit:
    return load_data(DataConfig(source="mnist"), seed=0)


def test_mnist_has_the_official_split(mnist: DataSplit) -> None:
    assert mnist.name == "mnist"
    assert mnist.train.x.shape == (60000, 1, 28, 28)
    assert mnist.test.x.shape == (10000, 1, 28, 28)
    assert mnist.train.x.dtype == torch.float32 and mnist.train.y.dtype == torch.int64
    assert mnist.train.num_classes == 10
    for part in (mnist.train, mnist.test):
        assert sorted(set(part.y.tolist())) == list(range(10))
        assert part.groups is None
    # The first training digits of MNIST are famously 5, 0, 4, 1, 9.
    assert mnist.train.y[:5].tolist() == [5, 0, 4, 1, 9]


def test_mnist_normalisation(mnist: DataSplit) -> None:
    background = (0.0 - MNIST_MEAN) / MNIST_STD
    ink = (1.0 - MNIST_MEAN) / MNIST_STD
    assert mnist.train.x.min().item() == pytest.approx(background, abs=1e-6)
    assert mnist.train.x.max().item() == pytest.approx(ink, abs=1e-6)
    # 0.1307 / 0.3081 are the training set's own statistics.
    assert mnist.train.x.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert mnist.train.x.std().item() == pytest.approx(1.0, abs=1e-3)


def test_mnist_limits_draw_seeded_sorted_subsets(mnist: DataSplit) -> None:
    config = DataConfig(source="mnist", train_limit=500, test_limit=200)
    limited = load_data(config, seed=3)
    expected = np.sort(numpy_rng(3, "train-subset").choice(60000, 500, replace=False))
    assert len(limited.train) == 500 and len(limited.test) == 200
    assert torch.equal(limited.train.y, mnist.train.y[torch.from_numpy(expected)])
    assert torch.equal(limited.train.x, mnist.train.x[torch.from_numpy(expected)])


# --- digits ----------------------------------------------------------------------------------


def test_digits_split_is_fixed_whatever_the_seed() -> None:
    first = load_data(DataConfig(source="digits"), seed=0)
    second = load_data(DataConfig(source="digits"), seed=12345)
    assert (len(first.train), len(first.test)) == (1438, 359)
    assert first.train.input_shape == (1, 8, 8) and first.train.num_classes == 10
    for a, b in ((first.train, second.train), (first.test, second.test)):
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    # Standardised with the training part's statistics.
    assert first.train.x.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert first.train.x.std().item() == pytest.approx(1.0, abs=1e-3)


def test_digits_test_set_is_a_shuffled_holdout() -> None:
    from sklearn.datasets import load_digits

    split = load_data(DataConfig(source="digits"), seed=0)
    target = np.asarray(load_digits().target)
    # Not simply sklearn's last 20%: the split comes from a permutation.
    assert split.test.y.tolist() != target[-359:].tolist()
    assert sorted(split.train.y.tolist() + split.test.y.tolist()) == sorted(target.tolist())


def test_load_data_limits_are_seeded_and_stable() -> None:
    config = DataConfig(source="digits", train_limit=100, test_limit=50)
    full = load_data(DataConfig(source="digits"), seed=0)
    a = load_data(config, seed=1)
    b = load_data(config, seed=1)
    c = load_data(config, seed=2)
    assert (len(a.train), len(a.test)) == (100, 50)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.x, c.train.x)
    chosen = np.sort(numpy_rng(1, "test-subset").choice(len(full.test), 50, replace=False))
    assert torch.equal(a.test.x, full.test.x[torch.from_numpy(chosen)])
    # A fixed subset seed draws the same subsets under any run seed: seed 2's, for seed 1.
    fixed = DataConfig(source="digits", train_limit=100, test_limit=50, subset_seed=2)
    d = load_data(fixed, seed=1)
    assert torch.equal(d.train.x, c.train.x) and torch.equal(d.test.y, c.test.y)
    # A limit at or above the size keeps everything.
    whole = load_data(DataConfig(source="digits", train_limit=5000), seed=1)
    assert torch.equal(whole.train.x, full.train.x)


# --- cifar10 ---------------------------------------------------------------------------------


def _cifar_images(count: int, offset: int) -> npt.NDArray[np.uint8]:
    """Image i has every pixel of channel c equal to (offset + 7·i + 50·c) mod 256."""
    values = (offset + 7 * np.arange(count)[:, None] + 50 * np.arange(3)[None, :]) % 256
    return np.repeat(values[:, :, None], 1024, axis=2).reshape(count, 3072).astype(np.uint8)


def _write_cifar(root: Path, per_batch: int = 4, protocol: int = 2) -> None:
    """The official layout: Python-2 style pickles of dicts with bytes keys."""
    batches = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for number, name in enumerate(batches):
        batch = {
            b"batch_label": name.encode(),
            b"labels": [(number + i) % 10 for i in range(per_batch)],
            b"data": _cifar_images(per_batch, offset=number * per_batch * 7),
            b"filenames": [f"img{i}.png".encode() for i in range(per_batch)],
        }
        (root / name).write_bytes(pickle.dumps(batch, protocol=protocol))


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar10_reads_the_python_batches(tmp_path: Path, protocol: int) -> None:
    _write_cifar(tmp_path, protocol=protocol)
    split = load_data(DataConfig(source="cifar10", path=tmp_path), seed=0)
    assert split.name == "cifar10"
    assert split.train.x.shape == (20, 3, 32, 32) and split.test.x.shape == (4, 3, 32, 32)
    assert split.train.num_classes == 10
    assert split.train.y.tolist()[:8] == [0, 1, 2, 3, 1, 2, 3, 4]
    assert split.test.y.tolist() == [5, 6, 7, 8]
    raw = np.concatenate([_cifar_images(4, offset=b * 28) for b in range(5)])
    expected = (raw.reshape(20, 3, 32, 32) / 255.0 - np.reshape(CIFAR10_MEAN, (1, 3, 1, 1))) / (
        np.reshape(CIFAR10_STD, (1, 3, 1, 1))
    )
    np.testing.assert_allclose(split.train.x.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_cifar10_missing_batch_names_the_file(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(InputError) as caught:
        load_data(DataConfig(source="cifar10", path=tmp_path), seed=0)
    assert caught.value.file == str(tmp_path / "data_batch_3")
    assert caught.value.field == "data.path"


class _Malicious:
    """Unpickling this would run a shell command if the reader trusted arbitrary globals."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a pickle", "not a CIFAR-10 python batch"),
        (pickle.dumps([1, 2, 3]), "not a dict"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "b'labels'"),
        (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), "N×3072"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "entries"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}), "0..9"),
        (pickle.dumps({b"data": np.zeros((1, 3072), np.float64), b"labels": [0]}), "uint8"),
    ],
)
def test_cifar10_malformed_batch_names_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    _write_cifar(tmp_path)
    (tmp_path / "test_batch").write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        load_data(DataConfig(source="cifar10", path=tmp_path), seed=0)
    assert caught.value.file == str(tmp_path / "test_batch")


def test_cifar10_refuses_pickles_with_code(tmp_path: Path) -> None:
    _write_cifar(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": _Malicious(marker)}))
    with pytest.raises(InputError, match="refusing") as caught:
        load_data(DataConfig(source="cifar10", path=tmp_path), seed=0)
    assert caught.value.file == str(tmp_path / "data_batch_1")
    assert not marker.exists()


# --- femnist ---------------------------------------------------------------------------------


def _leaf_file(users: dict[str, list[int]], fill: float) -> dict[str, Any]:
    """A LEAF json object; user u's sample j has label users[u][j] and all pixels = fill + j/10."""
    return {
        "users": list(users),
        "num_samples": [len(labels) for labels in users.values()],
        "user_data": {
            user: {"x": [[fill + j / 10] * 784 for j in range(len(labels))], "y": labels}
            for user, labels in users.items()
        },
    }


def _write_femnist(root: Path) -> None:
    (root / "train").mkdir()
    (root / "test").mkdir()
    # Users are split over files out of order, to check the writer numbering is by sorted id.
    train_0 = _leaf_file({"f_0300": [61, 0], "f_0100": [5]}, fill=0.2)
    train_1 = _leaf_file({"f_0200": [7, 7, 8]}, fill=0.5)
    test_0 = _leaf_file({"f_0100": [1], "f_0300": [60, 2]}, fill=0.3)
    (root / "train" / "all_data_0_train.json").write_text(json.dumps(train_0))
    (root / "train" / "all_data_1_train.json").write_text(json.dumps(train_1))
    (root / "test" / "all_data_0_test.json").write_text(json.dumps(test_0))


def test_femnist_reads_leaf_json_with_writers(tmp_path: Path) -> None:
    _write_femnist(tmp_path)
    split = load_data(DataConfig(source="femnist", path=tmp_path), seed=0)
    assert split.name == "femnist"
    assert split.train.x.shape == (6, 1, 28, 28) and split.test.x.shape == (3, 1, 28, 28)
    assert split.train.num_classes == 62 and split.test.num_classes == 62
    # Ordered by writer id: f_0100, f_0200, f_0300 are writers 0, 1, 2.
    assert split.train.y.tolist() == [5, 7, 7, 8, 61, 0]
    assert split.train.groups is not None
    assert split.train.groups.tolist() == [0, 1, 1, 1, 2, 2]
    assert split.test.y.tolist() == [1, 60, 2]
    # Standardised with the training statistics.
    assert split.train.x.mean().item() == pytest.approx(0.0, abs=1e-5)
    assert split.train.x.std().item() == pytest.approx(1.0, abs=1e-3)
    train_pixels = np.array([0.2, 0.5, 0.6, 0.7, 0.2, 0.3])
    mean, std = train_pixels.mean(), train_pixels.std()
    expected_test = (np.array([0.3, 0.3, 0.4]) - mean) / std
    np.testing.assert_allclose(split.test.x[:, 0, 0, 0].numpy(), expected_test, rtol=1e-4)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps([1, 2]), "top level"),
        (json.dumps({"users": ["a"]}), "'user_data'"),
        (json.dumps({"users": ["a"], "user_data": {}}), "user_data\\['a'\\]"),
        (json.dumps({"users": ["a"], "user_data": {"a": {"x": [[0.0] * 10], "y": [1]}}}), "784"),
        (
            json.dumps({"users": ["a"], "user_data": {"a": {"x": [[0.0] * 784], "y": [1, 2]}}}),
            "samples",
        ),
        (
            json.dumps({"users": ["a"], "user_data": {"a": {"x": [[0.0] * 784], "y": [62]}}}),
            "0..61",
        ),
        (
            json.dumps({"users": ["a"], "user_data": {"a": {"x": [[0.0] * 784], "y": ["b"]}}}),
            "integers",
        ),
        (
            json.dumps(
                {
                    "users": ["a"],
                    "num_samples": [2],
                    "user_data": {"a": {"x": [[0.0] * 784], "y": [1]}},
                }
            ),
            "num_samples",
        ),
    ],
)
def test_femnist_malformed_json_names_the_file(tmp_path: Path, content: str, message: str) -> None:
    _write_femnist(tmp_path)
    broken = tmp_path / "train" / "all_data_1_train.json"
    broken.write_text(content)
    with pytest.raises(InputError, match=message) as caught:
        load_data(DataConfig(source="femnist", path=tmp_path), seed=0)
    assert caught.value.file == str(broken)
    assert caught.value.field == "data.path"


def test_femnist_missing_split_folder(tmp_path: Path) -> None:
    _write_femnist(tmp_path)
    for path in (tmp_path / "test").iterdir():
        path.unlink()
    with pytest.raises(InputError, match=r"no \*\.json") as caught:
        load_data(DataConfig(source="femnist", path=tmp_path), seed=0)
    assert caught.value.file == str(tmp_path / "test")
    (tmp_path / "test").rmdir()
    with pytest.raises(InputError, match="missing LEAF split folder"):
        load_data(DataConfig(source="femnist", path=tmp_path), seed=0)


# --- npz -------------------------------------------------------------------------------------


def _standardised(images: npt.NDArray[Any], reference: npt.NDArray[Any]) -> npt.NDArray[Any]:
    mean = reference.mean(axis=(0, 2, 3), keepdims=True)
    std = reference.std(axis=(0, 2, 3), keepdims=True)
    result: npt.NDArray[Any] = (images - mean) / std
    return result


@pytest.mark.parametrize(
    ("shape", "to_nchw"),
    [
        ((6, 5, 4), lambda a: a[:, None]),
        ((6, 1, 5, 4), lambda a: a),
        ((6, 3, 5, 4), lambda a: a),
        ((6, 5, 4, 1), lambda a: a.transpose(0, 3, 1, 2)),
        ((6, 5, 4, 3), lambda a: a.transpose(0, 3, 1, 2)),
    ],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_npz_accepts_each_layout(
    tmp_path: Path, shape: tuple[int, ...], to_nchw: Any, dtype: type[np.generic]
) -> None:
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, size=shape).astype(dtype)
    x_test = rng.integers(0, 256, size=(2, *shape[1:])).astype(dtype)
    path = tmp_path / "data.npz"
    np.savez(
        path,
        x_train=x_train,
        y_train=np.array([0, 1, 2, 0, 1, 2]),
        x_test=x_test,
        y_test=np.array([4, 0]),
        writer_train=np.array([3, 3, 9, 9, 1, 1]),
    )
    split = load_data(DataConfig(source="npz", path=path), seed=0)
    scale = 255.0 if dtype == np.uint8 else 1.0
    train = to_nchw(x_train.astype(np.float64)) / scale
    test = to_nchw(x_test.astype(np.float64)) / scale
    assert split.train.input_shape == train.shape[1:]
    np.testing.assert_allclose(split.train.x.numpy(), _standardised(train, train), atol=1e-4)
    np.testing.assert_allclose(split.test.x.numpy(), _standardised(test, train), atol=1e-4)
    # The largest label is in the test set: num_classes counts both splits.
    assert split.train.num_classes == split.test.num_classes == 5
    assert split.train.y.tolist() == [0, 1, 2, 0, 1, 2]
    assert split.train.groups is not None and split.train.groups.tolist() == [3, 3, 9, 9, 1, 1]
    assert split.test.groups is None


def _npz_arrays() -> dict[str, npt.NDArray[Any]]:
    return {
        "x_train": np.zeros((4, 8, 8), np.uint8),
        "y_train": np.array([0, 1, 0, 1]),
        "x_test": np.zeros((2, 8, 8), np.uint8),
        "y_test": np.array([1, 0]),
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x_test": None}, "missing array 'x_test'"),
        ({"y_train": None}, "missing array 'y_train'"),
        ({"x_train": np.zeros((4, 8, 8, 5))}, "got shape"),
        ({"x_train": np.zeros((4, 64))}, "got shape"),
        ({"x_test": np.zeros((2, 1, 9, 9))}, "samples are"),
        ({"y_train": np.array([0, 1, 0])}, "must have shape \\(4,\\)"),
        ({"y_test": np.array([0.5, 1.0])}, "integers"),
        ({"y_test": np.array([-1, 0])}, "negative"),
        ({"writer_train": np.array([1, 2])}, "'writer_train' must have shape"),
        ({"x_train": np.array(["a", "b", "c", "d"]).reshape(4, 1, 1)}, "numbers"),
    ],
)
def test_npz_malformed_arrays(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    arrays = _npz_arrays() | change
    path = tmp_path / "bad.npz"
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    with pytest.raises(InputError, match=message) as caught:
        load_data(DataConfig(source="npz", path=path), seed=0)
    assert caught.value.file == str(path)
    assert caught.value.field == "data.path"


def test_npz_not_an_archive(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"definitely not a zip file")
    with pytest.raises(InputError, match=r"not a readable \.npz") as caught:
        load_data(DataConfig(source="npz", path=garbage), seed=0)
    assert caught.value.file == str(garbage)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(InputError, match="single array"):
        load_data(DataConfig(source="npz", path=single), seed=0)
