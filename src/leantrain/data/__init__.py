"""Datasets and how they are split across devices (docs/world-model.md).

:func:`load_data` reads the configured source into memory as a :class:`DataSplit`;
:func:`partition` gives each device the indices of its training samples. Sources and partitioners
are found by name through :data:`SOURCES` and :data:`PARTITIONERS`
(:mod:`leantrain.registry`); every name here is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leantrain.lazy import lazy_exports

if TYPE_CHECKING:
    from leantrain.data.cifar10 import Cifar10Source
    from leantrain.data.dataset import ArrayDataset, DataSplit
    from leantrain.data.digits import DigitsSource
    from leantrain.data.femnist import FemnistSource
    from leantrain.data.mnist import MnistSource
    from leantrain.data.npz import NpzSource
    from leantrain.data.partition import (
        DirichletPartitioner,
        IidPartitioner,
        NaturalPartitioner,
        Partitioner,
        ShardsPartitioner,
        partition,
    )
    from leantrain.data.source import DataSource, load_data
    from leantrain.registry import PARTITIONERS, SOURCES

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
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "leantrain.registry": ["PARTITIONERS", "SOURCES"],
        "cifar10": ["Cifar10Source"],
        "dataset": ["ArrayDataset", "DataSplit"],
        "digits": ["DigitsSource"],
        "femnist": ["FemnistSource"],
        "mnist": ["MnistSource"],
        "npz": ["NpzSource"],
        "partition": [
            "DirichletPartitioner",
            "IidPartitioner",
            "NaturalPartitioner",
            "Partitioner",
            "ShardsPartitioner",
            "partition",
        ],
        "source": ["DataSource", "load_data"],
    },
)
