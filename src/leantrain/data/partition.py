"""Splitting the training set across devices: iid, Dirichlet label skew, shards, by writer.

Every partitioner draws only from the generator it is given, so :func:`partition` is a pure
function of (dataset, config, number of devices, seed).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from leantrain.config import DataConfig
from leantrain.data.dataset import ArrayDataset
from leantrain.errors import InputError
from leantrain.registry import PARTITIONERS
from leantrain.seeding import numpy_rng

__all__ = [
    "PARTITIONERS",
    "DirichletPartitioner",
    "IidPartitioner",
    "NaturalPartitioner",
    "Partitioner",
    "ShardsPartitioner",
    "partition",
]

Indices = npt.NDArray[np.int64]


class Partitioner(ABC):
    """Assigns every training sample to at most one device.

    Attributes:
        name: The ``data.partition`` value that selects this partitioner.
    """

    name: ClassVar[str]

    @classmethod
    def from_config(cls, config: DataConfig) -> Self:
        """Build the partitioner with its parameters from the data section."""
        return cls()

    @abstractmethod
    def split(
        self, dataset: ArrayDataset, num_devices: int, rng: np.random.Generator
    ) -> list[np.ndarray]:
        """One sorted int64 index array per device; the arrays are pairwise disjoint.

        Args:
            dataset: The training set.
            num_devices: How many devices share it.
            rng: The only source of randomness.

        Raises:
            InputError: The dataset cannot be split this way across ``num_devices`` devices.
        """


def partition(
    dataset: ArrayDataset, config: DataConfig, num_devices: int, seed: int
) -> list[np.ndarray]:
    """Split ``dataset`` across ``num_devices`` devices as ``config.partition`` says.

    Args:
        dataset: The training set.
        config: The data section (partition kind, ``alpha``, ``shards_per_device``).
        num_devices: The fleet size.
        seed: The run's seed; the stream ``(seed, "partition")`` drives every random choice.

    Returns:
        One sorted int64 index array per device, pairwise disjoint.

    Raises:
        InputError: The partition is impossible (more devices than samples or writers, no
            writer ids for ``natural``, or no Dirichlet draw giving every device data).
    """
    partitioner = PARTITIONERS.get(config.partition).from_config(config)
    parts = partitioner.split(dataset, num_devices, numpy_rng(seed, "partition"))
    return [np.sort(np.asarray(part, dtype=np.int64)) for part in parts]


def _check_devices(dataset: ArrayDataset, num_devices: int) -> None:
    if num_devices < 1:
        raise InputError(None, "fleet", f"need at least one device, got {num_devices}")
    if num_devices > len(dataset):
        raise InputError(
            None,
            "fleet",
            f"{num_devices} devices but only {len(dataset)} training samples to share",
        )


def _labels(dataset: ArrayDataset) -> npt.NDArray[np.int64]:
    return dataset.y.numpy().astype(np.int64, copy=False)


def _sorted_parts(parts: list[npt.NDArray[Any]]) -> list[np.ndarray]:
    return [np.sort(part).astype(np.int64, copy=False) for part in parts]


class IidPartitioner(Partitioner):
    """A random permutation cut into ``num_devices`` parts whose sizes differ by at most one."""

    name = "iid"

    def split(
        self, dataset: ArrayDataset, num_devices: int, rng: np.random.Generator
    ) -> list[np.ndarray]:
        """See :meth:`Partitioner.split`."""
        _check_devices(dataset, num_devices)
        return _sorted_parts(np.array_split(rng.permutation(len(dataset)), num_devices))


class DirichletPartitioner(Partitioner):
    """Label skew after Hsu et al. (2019): each class is split across devices in proportions
    drawn from Dir(α·1).

    Small α gives each device few classes; large α approaches iid. A draw that leaves a device
    with fewer than ``min(10, N // num_devices)`` samples is redrawn (from the same generator),
    at most :attr:`max_tries` times.

    Args:
        alpha: The concentration α > 0.
        max_tries: How many draws to try before giving up.
    """

    name = "dirichlet"
    min_samples: ClassVar[int] = 10

    def __init__(self, alpha: float, max_tries: int = 100) -> None:
        if alpha <= 0.0:
            raise InputError(None, "data.alpha", f"must be positive, got {alpha}")
        self.alpha = alpha
        self.max_tries = max_tries

    @classmethod
    def from_config(cls, config: DataConfig) -> Self:
        """Build the partitioner with ``config.alpha``."""
        return cls(config.alpha)

    def split(
        self, dataset: ArrayDataset, num_devices: int, rng: np.random.Generator
    ) -> list[np.ndarray]:
        """See :meth:`Partitioner.split`; every sample is assigned to some device."""
        _check_devices(dataset, num_devices)
        labels = _labels(dataset)
        by_class = [np.flatnonzero(labels == label) for label in np.unique(labels)]
        least = min(self.min_samples, len(dataset) // num_devices)
        for _ in range(self.max_tries):
            parts = self._draw(by_class, num_devices, rng)
            if min(len(part) for part in parts) >= least:
                return _sorted_parts(parts)
        raise InputError(
            None,
            "data.alpha",
            f"no Dirichlet(α={self.alpha}) split in {self.max_tries} draws gave each of "
            f"{num_devices} devices at least {least} samples; raise alpha or use fewer devices",
        )

    def _draw(
        self,
        by_class: list[npt.NDArray[np.intp]],
        num_devices: int,
        rng: np.random.Generator,
    ) -> list[npt.NDArray[np.intp]]:
        pieces: list[list[npt.NDArray[np.intp]]] = [[] for _ in range(num_devices)]
        for members in by_class:
            shuffled = rng.permutation(members)
            shares = rng.dirichlet(np.full(num_devices, self.alpha))
            # Cut points from the cumulative shares; the last device takes the rounding rest.
            cuts = (np.cumsum(shares)[:-1] * len(shuffled)).astype(np.int64)
            for device, piece in enumerate(np.split(shuffled, cuts)):
                pieces[device].append(piece)
        return [np.concatenate(device_pieces) for device_pieces in pieces]


class ShardsPartitioner(Partitioner):
    """McMahan et al. (2017): sort by label, cut into ``num_devices · k`` equal shards, and
    give each device ``k`` random shards, so a device sees at most ``k`` labels when class
    sizes are multiples of the shard size.

    Args:
        shards_per_device: ``k``.
    """

    name = "shards"

    def __init__(self, shards_per_device: int) -> None:
        if shards_per_device < 1:
            raise InputError(
                None, "data.shards_per_device", f"must be at least 1, got {shards_per_device}"
            )
        self.shards_per_device = shards_per_device

    @classmethod
    def from_config(cls, config: DataConfig) -> Self:
        """Build the partitioner with ``config.shards_per_device``."""
        return cls(config.shards_per_device)

    def split(
        self, dataset: ArrayDataset, num_devices: int, rng: np.random.Generator
    ) -> list[np.ndarray]:
        """See :meth:`Partitioner.split`; every sample is assigned to some device."""
        _check_devices(dataset, num_devices)
        k = self.shards_per_device
        num_shards = num_devices * k
        if num_shards > len(dataset):
            raise InputError(
                None,
                "data.shards_per_device",
                f"{num_devices} devices × {k} shards need at least {num_shards} training "
                f"samples, but there are {len(dataset)}",
            )
        # Stable sort: equal labels keep their dataset order, so shards do not depend on the
        # sort algorithm's tie-breaking.
        order = np.argsort(_labels(dataset), kind="stable")
        shards = np.array_split(order, num_shards)
        dealt = rng.permutation(num_shards)
        return _sorted_parts(
            [
                np.concatenate([shards[s] for s in dealt[device * k : (device + 1) * k]])
                for device in range(num_devices)
            ]
        )


class NaturalPartitioner(Partitioner):
    """Each writer's samples stay together: writers are shuffled and dealt round-robin, so
    device counts of writers differ by at most one.
    """

    name = "natural"

    def split(
        self, dataset: ArrayDataset, num_devices: int, rng: np.random.Generator
    ) -> list[np.ndarray]:
        """See :meth:`Partitioner.split`; every sample is assigned to some device."""
        if dataset.groups is None:
            raise InputError(
                None,
                "data.partition",
                "natural partition needs writer ids (femnist, or npz with writer_train)",
            )
        _check_devices(dataset, num_devices)
        writers, writer_of_sample = np.unique(dataset.groups, return_inverse=True)
        if num_devices > len(writers):
            raise InputError(
                None,
                "fleet",
                f"natural partition: {num_devices} devices but only {len(writers)} writers",
            )
        device_of_writer = np.empty(len(writers), dtype=np.int64)
        device_of_writer[rng.permutation(len(writers))] = np.arange(len(writers)) % num_devices
        device_of_sample = device_of_writer[writer_of_sample.reshape(-1)]
        # One stable sort groups samples by device in index order, O(N log N) for any fleet.
        order = np.argsort(device_of_sample, kind="stable")
        counts = np.bincount(device_of_sample, minlength=num_devices)
        return _sorted_parts(np.split(order, np.cumsum(counts)[:-1]))
