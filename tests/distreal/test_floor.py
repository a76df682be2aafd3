"""The kept-filter floor of the DSE grid (``distreal.dse.min_keep``)."""

from __future__ import annotations

import math

import pytest

from conftest import SMALL_DSE, tiny_config
from leantrain.config import DseConfig
from leantrain.distreal import explore
from leantrain.distreal.front import grid_genes
from leantrain.fl import build_setup


@pytest.mark.parametrize(
    ("levels", "min_keep", "genes"),
    [
        (8, 0.5, 5),  # rates 0 … 4/8
        (8, 0.25, 7),  # 6/8 keeps a quarter
        (6, 1 / 6, 6),  # 5/6 = 1 − 1/6 sits on the floor (not exact in binary)
        (6, 0.5, 4),
        (4, 1.0, 1),  # only the full model
        (64, 1 / 64, 64),  # the default keeps any grid whole
    ],
)
def test_grid_genes_stop_at_the_floor(levels: int, min_keep: float, genes: int) -> None:
    assert grid_genes(levels, min_keep) == genes


def test_the_default_floor_keeps_half_of_every_group() -> None:
    assert DseConfig().min_keep == 0.5
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="min_keep"):
            DseConfig(min_keep=bad)


def test_exploration_never_leaves_the_floor() -> None:
    dse = {**SMALL_DSE, "levels": 6, "population": 6, "min_keep": 0.5}
    setup = build_setup(tiny_config(distreal={"dse": dse}))
    front = explore(setup, workers=1)
    groups = setup.channel_groups
    assert front.settings["min_keep"] == 0.5
    assert [p.dropout[0] for p in front.uniform] == [3 / 6, 2 / 6, 1 / 6, 0.0]
    for point in front.evaluated:
        assert all(rate <= 0.5 for rate in point.dropout)
        counts = groups.keep_counts(point.dropout)
        assert all(k >= math.floor(c / 2) for k, c in zip(counts, groups.channels, strict=True))
    # Every vector of the 4 × 4 floored grid is evaluated at most once.
    assert len(front.evaluated) <= 16
