"""Arbitrary image classification data from one ``.npz`` file
(docs/world-model.md, 'Data and partitions').

The file holds ``x_train``, ``y_train``, ``x_test``, ``y_test`` and optionally ``writer_train``
(an integer writer id per training sample, for the natural partition). Images may be N×H×W,
N×C×H×W or N×H×W×C with C in {1, 3}; uint8 pixels are scaled to [0, 1], other numeric types
are taken as they are. Both splits are standardised per channel with the training statistics.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from leantrain.config import DataConfig
from leantrain.data.dataset import ArrayDataset, DataSplit, channel_stats, standardise
from leantrain.data.source import DataSource, source_path
from leantrain.errors import InputError

__all__ = ["NpzSource"]

_REQUIRED = ("x_train", "y_train", "x_test", "y_test")
_CHANNELS = (1, 3)


class NpzSource(DataSource):
    """Images and labels from a ``.npz`` file; ``num_classes`` is the largest label + 1."""

    name = "npz"

    def load(self, config: DataConfig) -> DataSplit:
        """Read and validate the arrays in ``config.path``.

        Raises:
            InputError: The file is unreadable, lacks a required array, or holds arrays of the
                wrong shape or type.
        """
        path = source_path(config)

        def bad(message: str) -> InputError:
            return InputError(path, "data.path", message)

        arrays = _read(path, bad)
        x_train = _images(arrays["x_train"], "x_train", bad)
        x_test = _images(arrays["x_test"], "x_test", bad)
        if x_train.shape[0] == 0:
            raise bad("'x_train' holds no samples")
        if x_train.shape[1:] != x_test.shape[1:]:
            raise bad(
                f"'x_train' samples are {x_train.shape[1:]} (C, H, W) but 'x_test' samples "
                f"are {x_test.shape[1:]}"
            )
        y_train = _labels(arrays["y_train"], "y_train", x_train.shape[0], bad)
        y_test = _labels(arrays["y_test"], "y_test", x_test.shape[0], bad)
        groups = None
        if "writer_train" in arrays:
            groups = _labels(arrays["writer_train"], "writer_train", x_train.shape[0], bad)
        num_classes = int(max(y_train.max(), y_test.max(initial=0))) + 1
        mean, std = channel_stats(x_train)
        return DataSplit(
            train=ArrayDataset(
                standardise(x_train, mean, std), torch.from_numpy(y_train), num_classes, groups
            ),
            test=ArrayDataset(
                standardise(x_test, mean, std), torch.from_numpy(y_test), num_classes
            ),
            name=self.name,
        )


def _read(path: Path, bad: Callable[[str], InputError]) -> Mapping[str, npt.NDArray[Any]]:
    """Every array in the file, read eagerly so the file is closed on return."""
    try:
        # allow_pickle=False: object arrays would unpickle arbitrary code from user input.
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise bad(f"not a readable .npz archive ({error})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise bad("not a .npz archive (holds a single array)")
    with loaded as archive:
        missing = [key for key in _REQUIRED if key not in archive.files]
        if missing:
            raise bad(f"missing array '{missing[0]}'")
        try:
            return {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise bad(f"not a readable .npz archive ({error})") from None


def _images(raw: npt.NDArray[Any], key: str, bad: Callable[[str], InputError]) -> npt.NDArray[Any]:
    """``raw`` as float32 N×C×H×W on the [0, 1] scale for uint8 input."""
    if raw.dtype.kind not in "iuf" and raw.dtype != np.bool_:
        raise bad(f"'{key}' must hold numbers, not {raw.dtype}")
    if raw.ndim == 3:
        images = raw[:, None, :, :]
    elif raw.ndim == 4 and raw.shape[1] in _CHANNELS:
        images = raw  # NCHW wins when both readings are possible: it is torch's own layout
    elif raw.ndim == 4 and raw.shape[3] in _CHANNELS:
        images = raw.transpose(0, 3, 1, 2)
    else:
        raise bad(
            f"'{key}' must be N×H×W, N×C×H×W or N×H×W×C with C in {{1, 3}}, got shape {raw.shape}"
        )
    if raw.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0)
    return images.astype(np.float32)


def _labels(
    raw: npt.NDArray[Any], key: str, count: int, bad: Callable[[str], InputError]
) -> npt.NDArray[np.int64]:
    """``raw`` as non-negative int64, one per sample."""
    if raw.shape != (count,):
        raise bad(f"'{key}' must have shape ({count},) to match the images, got {raw.shape}")
    if count and raw.dtype.kind not in "iu":
        raise bad(f"'{key}' must hold integers, not {raw.dtype}")
    values = raw.astype(np.int64)
    if count and values.min() < 0:
        raise bad(f"'{key}' must not be negative")
    return values
