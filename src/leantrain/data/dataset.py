"""In-memory datasets: normalised image tensors with labels and optional writer ids
(docs/world-model.md, 'Data and partitions').

Every source decodes its files into an :class:`ArrayDataset` pair held whole in memory, so a
device's local data is just an index array into the training set and no loader or worker pool
is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

__all__ = ["ArrayDataset", "DataSplit", "channel_stats", "standardise"]


@dataclass(frozen=True)
class ArrayDataset:
    """Images, labels and (optionally) the writer of each sample.

    Attributes:
        x: float32 images, N×C×H×W, already normalised.
        y: int64 labels in ``[0, num_classes)``, length N.
        num_classes: Number of classes the model must output.
        groups: Integer writer id per sample, for the natural partition; None when unknown.

    Raises:
        ValueError: The arrays disagree in length or have the wrong rank or dtype.
    """

    x: torch.Tensor
    y: torch.Tensor
    num_classes: int
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        # Fail at construction: a misaligned dataset would otherwise surface as a confusing
        # indexing error deep inside a client's training loop.
        if self.x.ndim != 4:
            raise ValueError(f"x must be N×C×H×W, got shape {tuple(self.x.shape)}")
        if self.x.dtype != torch.float32:
            raise ValueError(f"x must be float32, got {self.x.dtype}")
        if self.y.ndim != 1 or self.y.dtype != torch.int64:
            raise ValueError(
                f"y must be a 1-D int64 tensor, got {self.y.dtype} {tuple(self.y.shape)}"
            )
        if self.x.shape[0] != self.y.shape[0]:
            raise ValueError(f"x has {self.x.shape[0]} samples but y has {self.y.shape[0]}")
        if self.groups is not None and self.groups.shape != (self.y.shape[0],):
            raise ValueError(
                f"groups must have shape ({self.y.shape[0]},), got {self.groups.shape}"
            )
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {self.num_classes}")

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, indices: npt.NDArray[np.integer[Any]] | Sequence[int]) -> ArrayDataset:
        """The samples at ``indices``, in that order, with their writer ids kept aligned.

        Args:
            indices: Positions into this dataset.
        """
        index = np.asarray(indices, dtype=np.int64)
        selector = torch.from_numpy(index)
        groups = None if self.groups is None else self.groups[index]
        return ArrayDataset(self.x[selector], self.y[selector], self.num_classes, groups)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The shape of one sample, (C, H, W)."""
        _, channels, height, width = self.x.shape
        return int(channels), int(height), int(width)


@dataclass(frozen=True)
class DataSplit:
    """A source's training and test sets.

    Attributes:
        train: Samples partitioned across the devices.
        test: Samples the server evaluates the global model on.
        name: The source name (``mnist``, ``digits``...).
    """

    train: ArrayDataset
    test: ArrayDataset
    name: str


def channel_stats(
    x: npt.NDArray[np.floating[Any]],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-channel mean and standard deviation of N×C×H×W images.

    A constant channel gets standard deviation 1, so that standardising it yields zeros rather
    than NaN.
    """
    mean = x.mean(axis=(0, 2, 3), dtype=np.float64)
    std = x.std(axis=(0, 2, 3), dtype=np.float64)
    return mean, np.where(std > 0.0, std, 1.0)


def standardise(
    x: npt.NDArray[np.floating[Any]],
    mean: Sequence[float] | npt.NDArray[np.float64],
    std: Sequence[float] | npt.NDArray[np.float64],
) -> torch.Tensor:
    """``(x - mean) / std`` per channel of N×C×H×W images, as a contiguous float32 tensor.

    Args:
        x: Images on the [0, 1] scale (or whatever scale ``mean`` and ``std`` refer to).
        mean: One value per channel.
        std: One value per channel, all positive.
    """
    shift = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
    scale = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
    normalised = (x.astype(np.float32, copy=False) - shift) / scale
    return torch.from_numpy(np.ascontiguousarray(normalised, dtype=np.float32))
