"""FEMNIST from a LEAF-format directory, with each training sample's writer
(docs/world-model.md, 'Data and partitions').

The directory holds ``train/`` and ``test/`` subfolders of ``*.json`` files, each
``{"users": [...], "num_samples": [...], "user_data": {user: {"x": [[784 floats]], "y": [...]}}}``
as written by LEAF's preprocessing: 28×28 grey images flattened row-major, 62 classes (digits,
upper- and lower-case letters).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from leantrain.config import DataConfig
from leantrain.data.dataset import ArrayDataset, DataSplit, channel_stats, standardise
from leantrain.data.source import DataSource, source_path
from leantrain.errors import InputError

__all__ = ["FEMNIST_CLASSES", "FemnistSource"]

FEMNIST_CLASSES = 62
_SIDE = 28


@dataclass
class _Writers:
    """Samples per writer id, gathered across the json files of one split."""

    images: dict[str, list[npt.NDArray[np.float32]]] = field(default_factory=dict)
    labels: dict[str, list[npt.NDArray[np.int64]]] = field(default_factory=dict)

    def add(self, user: str, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> None:
        self.images.setdefault(user, []).append(x)
        self.labels.setdefault(user, []).append(y)

    def arrays(
        self,
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Images N×1×28×28, labels and writer indices, writers in sorted order of their ids."""
        users = sorted(self.images)
        x = [part for user in users for part in self.images[user]]
        y = [part for user in users for part in self.labels[user]]
        sizes = [sum(len(part) for part in self.labels[user]) for user in users]
        groups = np.repeat(np.arange(len(users), dtype=np.int64), sizes)
        images = np.concatenate(x).reshape(-1, 1, _SIDE, _SIDE)
        return images, np.concatenate(y), groups


class FemnistSource(DataSource):
    """Handwritten characters by writer: 1×28×28, 62 classes, ``groups`` = writer index.

    Samples are ordered by writer (sorted by user id) so the dataset does not depend on how
    LEAF sharded users into files. Images are standardised with the training set's mean and
    standard deviation. Only the training set carries writer ids: the natural partition splits
    the training set, and the test set is evaluated as a whole.
    """

    name = "femnist"

    def load(self, config: DataConfig) -> DataSplit:
        """Read ``train/*.json`` and ``test/*.json`` under ``config.path``.

        Raises:
            InputError: A folder is missing or empty, or a json file is not valid JSON or not
                in the LEAF layout; the error names that file.
        """
        root = source_path(config)
        x_train, y_train, groups = _read_split(root / "train").arrays()
        x_test, y_test, _ = _read_split(root / "test").arrays()
        mean, std = channel_stats(x_train)
        return DataSplit(
            train=ArrayDataset(
                standardise(x_train, mean, std),
                torch.from_numpy(y_train),
                FEMNIST_CLASSES,
                groups,
            ),
            test=ArrayDataset(
                standardise(x_test, mean, std), torch.from_numpy(y_test), FEMNIST_CLASSES
            ),
            name=self.name,
        )


def _read_split(folder: Path) -> _Writers:
    if not folder.is_dir():
        raise InputError(folder, "data.path", "missing LEAF split folder (need train/ and test/)")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise InputError(folder, "data.path", "no *.json files in this LEAF split folder")
    writers = _Writers()
    for path in files:
        _read_file(path, writers)
    if not writers.images:
        raise InputError(folder, "data.path", "the json files hold no samples")
    return writers


def _read_file(path: Path, writers: _Writers) -> None:
    def bad(message: str) -> InputError:
        return InputError(path, "data.path", message)

    try:
        with path.open("rb") as stream:
            content: Any = json.load(stream)
    except OSError as error:
        raise bad(f"cannot read: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise bad(f"not valid JSON ({error})") from None
    if not isinstance(content, dict):
        raise bad("not a LEAF json file (top level must be an object)")
    users = content.get("users")
    user_data = content.get("user_data")
    if not isinstance(users, list) or not isinstance(user_data, dict):
        raise bad("not a LEAF json file (needs 'users' list and 'user_data' object)")
    counts = content.get("num_samples")
    if counts is not None and (not isinstance(counts, list) or len(counts) != len(users)):
        raise bad("'num_samples' must list one count per user")
    for position, user in enumerate(users):
        record = user_data.get(str(user))
        if not isinstance(record, dict) or "x" not in record or "y" not in record:
            raise bad(f"user_data[{user!r}] must be an object with 'x' and 'y'")
        x, y = _user_arrays(record["x"], record["y"], f"user_data[{user!r}]", bad)
        if counts is not None and counts[position] != len(y):
            raise bad(f"num_samples says {counts[position]} for {user!r} but it has {len(y)}")
        if len(y):  # a writer without samples would only leave a gap in the writer numbering
            writers.add(str(user), x, y)


def _user_arrays(
    raw_x: Any, raw_y: Any, where: str, bad: Callable[[str], InputError]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    pixels = _SIDE * _SIDE
    try:
        x = np.asarray(raw_x, dtype=np.float32)
        y_raw = np.asarray(raw_y)
    except (TypeError, ValueError):
        raise bad(f"{where}: 'x' must be a list of {pixels} numbers per sample") from None
    if x.shape == (0,):  # an empty list decodes without the pixel axis
        x = x.reshape(0, pixels)
    if x.ndim != 2 or x.shape[1] != pixels:
        raise bad(f"{where}: 'x' must be a list of {pixels} numbers per sample")
    if y_raw.ndim != 1 or (y_raw.size and y_raw.dtype.kind not in "iu"):
        raise bad(f"{where}: 'y' must be a list of integers")
    y = y_raw.astype(np.int64)
    if x.shape[0] != y.size:
        raise bad(f"{where}: 'x' has {x.shape[0]} samples but 'y' has {y.size}")
    if y.size and (y.min() < 0 or y.max() >= FEMNIST_CLASSES):
        raise bad(f"{where}: labels must lie in 0..{FEMNIST_CLASSES - 1}")
    return x, y
