"""Data sources: the :class:`DataSource` interface and :func:`load_data`.

Each source module defines a :class:`DataSource` subclass whose ``name`` is its ``data.source``
value; :data:`~leantrain.registry.SOURCES` names them all and imports a source's module (and
what it needs: scikit-learn for ``digits``) only when a config uses it.
"""

from __future__ import annotations

import pickle
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from leantrain.config import DataConfig
from leantrain.data.dataset import ArrayDataset, DataSplit
from leantrain.errors import InputError
from leantrain.registry import SOURCES
from leantrain.seeding import numpy_rng

__all__ = [
    "SOURCES",
    "DataSource",
    "load_array_pickle",
    "load_data",
    "source_path",
]


class DataSource(ABC):
    """Reads one kind of dataset into memory.

    Attributes:
        name: The ``data.source`` value that selects this source.
    """

    name: ClassVar[str]

    @abstractmethod
    def load(self, config: DataConfig) -> DataSplit:
        """Decode and normalise the whole dataset.

        Args:
            config: The data section; sources that read files use ``config.path``.

        Raises:
            InputError: The files are missing or malformed.
        """


def source_path(config: DataConfig) -> Path:
    """``config.path``, which sources that read files require.

    Raises:
        InputError: No path is configured (only possible for a config built without the
            validator, e.g. via ``model_construct``).
    """
    if config.path is None:
        raise InputError(None, "data.path", f"source '{config.source}' needs 'path'")
    return Path(config.path)


def load_data(config: DataConfig, seed: int) -> DataSplit:
    """Load ``config.source`` and cut it down to ``train_limit`` / ``test_limit`` samples.

    The subsets are drawn from the streams ``(seed, "train-subset")`` and
    ``(seed, "test-subset")``, where ``seed`` is ``config.subset_seed`` when set, and keep the
    source's sample order, so the same seed always trains on the same samples whatever else the
    run does.

    Args:
        config: The data section of a run config.
        seed: The run's seed; the subsets' too unless ``config.subset_seed`` is set.

    Raises:
        InputError: The source's files are missing or malformed.
    """
    split = SOURCES.get(config.source)().load(config)
    draw = seed if config.subset_seed is None else config.subset_seed
    train = _limit(split.train, config.train_limit, numpy_rng(draw, "train-subset"))
    test = _limit(split.test, config.test_limit, numpy_rng(draw, "test-subset"))
    return DataSplit(train, test, split.name)


def _limit(dataset: ArrayDataset, limit: int | None, rng: np.random.Generator) -> ArrayDataset:
    if limit is None or limit >= len(dataset):
        return dataset
    chosen = np.sort(rng.choice(len(dataset), size=limit, replace=False))
    return dataset.subset(chosen)


# The only globals a pickled dict of NumPy arrays and lists needs. Unpickling arbitrary globals
# runs arbitrary code, and a dataset directory is user input, so anything else is refused.
_PICKLE_GLOBALS: dict[tuple[str, str], tuple[str, str]] = {
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    # Pickles written by NumPy 1.x name numpy.core, which NumPy 2 only keeps as a deprecated
    # alias; resolve it to numpy._core directly to avoid the deprecation warning.
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"): ("_codecs", "encode"),
}


class ReadableBinary(Protocol):
    """What :class:`pickle.Unpickler` reads from: an open binary file, gzip stream, etc."""

    def read(self, size: int = ..., /) -> bytes: ...

    def readline(self, size: int = ..., /) -> bytes: ...


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that only resolves the NumPy array constructors."""

    def find_class(self, module: str, name: str) -> Any:
        target = _PICKLE_GLOBALS.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(*target)


def load_array_pickle(stream: ReadableBinary, encoding: str = "ASCII") -> Any:
    """Unpickle data made of builtins and NumPy arrays, refusing every other global.

    Args:
        stream: The open binary file.
        encoding: How to decode Python 2 ``str`` objects (``"bytes"`` keeps them as bytes,
            ``"latin1"`` is what NumPy arrays pickled by Python 2 need).

    Raises:
        pickle.UnpicklingError: The data is not a pickle or names a disallowed global.
        EOFError: The data is truncated.
    """
    return _ArrayUnpickler(stream, encoding=encoding).load()
