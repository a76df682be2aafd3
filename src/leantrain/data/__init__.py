"""Datasets and how they are split across devices (SPEC 8).

:func:`load_data` reads the configured source into memory as a :class:`DataSplit`;
:func:`partition` gives each device the indices of its training samples. Importing this package
registers every built-in source in :data:`SOURCES` and every partitioner in
:data:`PARTITIONERS`.
"""

from __future__ import annotations

from leantrain.data.cifar10 import Cifar10Source
from leantrain.data.dataset import ArrayDataset, DataSplit
from leantrain.data.digits import DigitsSource
from leantrain.data.femnist import FemnistSource
from leantrain.data.mnist import MnistSource
from leantrain.data.npz import NpzSource
from leantrain.data.partition import (
    PARTITIONERS,
    DirichletPartitioner,
    IidPartitioner,
    NaturalPartitioner,
    Partitioner,
    ShardsPartitioner,
    partition,
    register_partitioner,
)
from leantrain.data.source import SOURCES, DataSource, load_data, register_source

__all__ = [
    "PARTITIONERS",
    "SOURCES",
    "ArrayDataset",
    "Cifar10Source",
    "DataSource",
    "DataSplit",
    "DigitsSource",
    "DirichletPartitioner",
    "FemnistSource",
    "IidPartitioner",
    "MnistSource",
    "NaturalPartitioner",
    "NpzSource",
    "Partitioner",
    "ShardsPartitioner",
    "load_data",
    "partition",
    "register_partitioner",
    "register_source",
]
