"""Tests of leantrain.fl.feddropout: a random sub-model sized to the capability at round start, in
both tiers (paper-style ``feddropout`` and strengthened ``feddropout-partial``)."""

from __future__ import annotations

import pytest
from submodel_cases import SETUP

from leantrain.fl.strategy import make_strategy
from leantrain.fl.submodels import round_capability, uniform_rates


@pytest.mark.parametrize(
    ("name", "overrun"), [("feddropout", "drop"), ("feddropout-partial", "partial")]
)
def test_feddropout_sizes_a_random_sub_model_to_the_capability_at_round_start(
    name: str, overrun: str
) -> None:
    strategy = make_strategy(name, SETUP)
    rates = uniform_rates(SETUP)
    for device in SETUP.fleet.devices:
        instruction = strategy.instruct(2, device, 0.37)
        options = instruction.options
        assert instruction.policy == "submodel" and options["overrun"] == overrun
        capability = round_capability(SETUP, device, 0.37)
        fitting = [r for r, cost in rates if cost <= capability]
        assert options["rate"] == (fitting[0] if fitting else rates[-1][0])
        counts = SETUP.channel_groups.keep_counts([options["rate"]] * 2)
        assert [len(v) for v in options["keep"].values()] == list(counts)
        assert options["cost"] == pytest.approx(SETUP.submodel_cost.ratio(counts))
    # A random subset, fixed per (round, device) by the seed.
    device = SETUP.fleet.devices[-1]
    assert strategy.instruct(2, device, 0.37) == strategy.instruct(2, device, 0.37)


def test_both_tiers_draw_the_same_sub_models() -> None:
    """The tiers differ only in what a device does at the deadline."""
    paper = make_strategy("feddropout", SETUP)
    partial = make_strategy("feddropout-partial", SETUP)
    for device in SETUP.fleet.devices:
        a = paper.instruct(5, device, 1.3).options
        b = partial.instruct(5, device, 1.3).options
        assert {k: v for k, v in a.items() if k != "overrun"} == {
            k: v for k, v in b.items() if k != "overrun"
        }
