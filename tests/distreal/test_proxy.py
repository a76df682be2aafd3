"""Tests of leantrain.distreal.proxy: the convergence proxy Q(d) on the tiny digits task.

Only relations that hold on every CPU are asserted (a vector's Q is reproducible in one process,
candidates share data order and masks); Q's values themselves are pinned by the golden front of
test_dse.py.
"""

from __future__ import annotations

import pytest
import torch

from conftest import SMALL_DSE, tiny_config
from leantrain.config import DseConfig
from leantrain.distreal.proxy import ConvergenceProxy
from leantrain.errors import InputError
from leantrain.fl import build_setup
from leantrain.nn.groups import channel_groups


@pytest.fixture(scope="module")
def proxy() -> ConvergenceProxy:
    config = tiny_config(distreal={"dse": SMALL_DSE})
    setup = build_setup(config)
    groups = channel_groups(setup.build_model(), setup.data.train.input_shape)
    return ConvergenceProxy(setup, config.distreal.dse, groups)


def test_checkpoints_are_built_only_on_the_first_computation(proxy: ConvergenceProxy) -> None:
    """A run whose vectors all come from the cache trains nothing (the fingerprint included)."""
    assert proxy.fingerprint
    assert proxy._checkpoints is None and proxy.computed == 0

    first = proxy((0.5, 0.25))

    assert proxy._checkpoints is not None and proxy.computed == 1
    assert 0.0 <= first <= 1.0
    # Every validation sample counts once per checkpoint and seed: Q times their number is a
    # whole number, up to the rounding of a mean of a few fractions (~1e-14; 1e-9 is ample).
    validations = 2 * SMALL_DSE["seeds"] * SMALL_DSE["validation_samples"]
    assert round(first * validations) == pytest.approx(first * validations, abs=1e-9)


def test_a_vector_gives_the_same_quality_again(proxy: ConvergenceProxy) -> None:
    """Q depends on the vector only: model, optimiser, data order and masks restart each time."""
    with torch.random.fork_rng(devices=[]):
        a = proxy((0.75, 0.0))
        torch.manual_seed(12345)  # the global stream does not reach Q
        b = proxy((0.5, 0.5))
        again = proxy((0.75, 0.0))
    assert again == a
    assert proxy((0.5, 0.5)) == b


def test_validation_and_training_samples_are_disjoint(proxy: ConvergenceProxy) -> None:
    validation = set(proxy._validation.tolist())
    pool = set(proxy._pool.tolist())
    assert len(validation) == SMALL_DSE["validation_samples"]
    assert not validation & pool
    assert len(validation | pool) == len(proxy.setup.data.train)
    for batches in proxy._orders:
        assert len(batches) == SMALL_DSE["batches"]
        assert all(set(batch.tolist()) <= pool for batch in batches)


def test_a_group_keeps_the_same_channels_for_the_same_count(proxy: ConvergenceProxy) -> None:
    """Candidates differ only by their rates: group l's subset in mini-batch b depends on k_l."""
    groups = proxy.groups
    first, second = groups.names
    full_first = groups.channels[0]
    keep_a = proxy._keep([full_first // 2, groups.channels[1] // 4], 0, 1)
    keep_b = proxy._keep([full_first // 2, groups.channels[1] // 2], 0, 1)
    assert torch.equal(keep_a[first], keep_b[first])
    assert len(keep_a[second]) == groups.channels[1] // 4
    assert first not in proxy._keep([full_first, 1], 0, 1)  # a full group is not sliced


def test_too_many_validation_samples_name_the_field() -> None:
    config = tiny_config()
    setup = build_setup(config)
    groups = channel_groups(setup.build_model(), setup.data.train.input_shape)
    dse = DseConfig(validation_samples=len(setup.data.train))
    with pytest.raises(InputError) as caught:
        ConvergenceProxy(setup, dse, groups, "run.toml")
    assert (caught.value.file, caught.value.field) == (
        "run.toml",
        "distreal.dse.validation_samples",
    )
