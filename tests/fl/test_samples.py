"""Tests of leantrain.fl.samples: which of its samples a device trains on in a PACT epoch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from leantrain.fl.samples import node_sample_indices
from leantrain.fl.setup import FederatedSetup


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.75, 1.0])
def test_a_fraction_takes_the_rounded_share_of_the_partition(
    tiny_setup: FederatedSetup, fraction: float
) -> None:
    part = np.asarray(tiny_setup.partitions[2])

    chosen = node_sample_indices(tiny_setup, 2, fraction, "pact-execute", 1)

    assert len(chosen) == math.floor(fraction * len(part) + 0.5)
    assert len(set(chosen.tolist())) == len(chosen)  # no sample twice
    assert set(chosen.tolist()) <= set(part.tolist())  # only the device's own data


def test_the_choice_is_fixed_by_the_stream_and_fresh_each_epoch(
    tiny_setup: FederatedSetup,
) -> None:
    first = node_sample_indices(tiny_setup, 1, 0.5, "pact-execute", 3)

    assert np.array_equal(first, node_sample_indices(tiny_setup, 1, 0.5, "pact-execute", 3))
    assert not np.array_equal(first, node_sample_indices(tiny_setup, 1, 0.5, "pact-execute", 4))
    assert not np.array_equal(first, node_sample_indices(tiny_setup, 1, 0.5, "pact-profile", 3))


def test_a_smaller_fraction_is_a_prefix_of_a_larger_one(tiny_setup: FederatedSetup) -> None:
    # Both take the first samples of the same permutation of the partition.
    small = node_sample_indices(tiny_setup, 0, 0.25, "pact-execute", 2)
    whole = node_sample_indices(tiny_setup, 0, 1.0, "pact-execute", 2)

    assert np.array_equal(whole[: len(small)], small)
