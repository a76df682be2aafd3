"""CIFAR-10 from a directory holding the standard python batches
(docs/world-model.md, 'Data and partitions').

The directory is what ``cifar-10-python.tar.gz`` unpacks to: ``data_batch_1`` to
``data_batch_5`` and ``test_batch``, each a pickled dict with ``b"data"`` (uint8, N×3072, the
red, green and blue planes of 32×32 images, row-major) and ``b"labels"`` (N ints in 0..9).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from leantrain.config import DataConfig
from leantrain.data.dataset import ArrayDataset, DataSplit, standardise
from leantrain.data.source import DataSource, load_array_pickle, source_path
from leantrain.errors import InputError

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "CIFAR10_TEST_BATCH",
    "CIFAR10_TRAIN_BATCHES",
    "Cifar10Source",
]

CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"
# Per-channel statistics of the 50k training images on the [0, 1] scale.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

_NUM_CLASSES = 10
_PIXELS = 3 * 32 * 32


class Cifar10Source(DataSource):
    """The 50000 training and 10000 test images, 3×32×32, standardised per channel."""

    name = "cifar10"

    def load(self, config: DataConfig) -> DataSplit:
        """Read every batch under ``config.path``.

        Raises:
            InputError: A batch is missing, is not a pickle of the expected dict, or holds
                data of the wrong shape or labels outside 0..9; the error names that file.
        """
        directory = source_path(config)
        train = [_read_batch(directory / name) for name in CIFAR10_TRAIN_BATCHES]
        test = _read_batch(directory / CIFAR10_TEST_BATCH)
        return DataSplit(
            train=_dataset(
                np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])
            ),
            test=_dataset(*test),
            name=self.name,
        )


def _dataset(data: npt.NDArray[np.uint8], labels: npt.NDArray[np.int64]) -> ArrayDataset:
    images = data.reshape(-1, 3, 32, 32).astype(np.float32) / np.float32(255.0)
    x = standardise(images, CIFAR10_MEAN, CIFAR10_STD)
    return ArrayDataset(x, torch.from_numpy(labels), num_classes=_NUM_CLASSES)


def _read_batch(path: Path) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """The uint8 N×3072 pixels and int64 labels of one batch file, validated."""

    def bad(message: str) -> InputError:
        return InputError(path, "data.path", message)

    if not path.is_file():
        raise bad("missing CIFAR-10 batch file")
    try:
        with path.open("rb") as stream:
            # The official batches are Python 2 pickles; "bytes" keeps their str keys as bytes.
            batch: Any = load_array_pickle(stream, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise bad(f"not a CIFAR-10 python batch ({error})") from None
    except OSError as error:
        raise bad(f"cannot read: {error.strerror}") from None
    if not isinstance(batch, dict):
        raise bad(f"not a CIFAR-10 python batch (holds {type(batch).__name__}, not a dict)")
    for key in (b"data", b"labels"):
        if key not in batch:
            raise bad(f"not a CIFAR-10 python batch (no {key!r} entry)")
    data = np.asarray(batch[b"data"])
    if data.ndim != 2 or data.shape[1] != _PIXELS:
        raise bad(f"b'data' must be N×{_PIXELS}, got shape {data.shape}")
    if data.dtype != np.uint8:
        raise bad(f"b'data' must be uint8, got {data.dtype}")
    try:
        raw_labels = np.asarray(batch[b"labels"])
    except ValueError:  # ragged nested lists
        raise bad("b'labels' must be a list of integers") from None
    if raw_labels.size and raw_labels.dtype.kind not in "iu":
        raise bad("b'labels' must be a list of integers")
    labels = raw_labels.astype(np.int64)
    if labels.shape != (data.shape[0],):
        raise bad(f"b'labels' has {labels.size} entries for {data.shape[0]} images")
    if labels.size and (labels.min() < 0 or labels.max() >= _NUM_CLASSES):
        raise bad(f"b'labels' must lie in 0..{_NUM_CLASSES - 1}")
    return data, labels
