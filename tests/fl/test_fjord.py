"""Tests of leantrain.fl.fjord: ordered dropout up to the widest fitting width, sized per device
at round start (``fjord``) or per class from the configuration (``fjord-partial``)."""

from __future__ import annotations

from submodel_cases import SETUP

from leantrain.fl.strategy import make_strategy
from leantrain.fl.submodels import (
    class_capabilities,
    round_capability,
    uniform_rate_within,
    uniform_rates,
)


def test_partial_tier_draws_from_the_grid_rates_its_class_can_afford() -> None:
    fjord = make_strategy("fjord-partial", SETUP)
    heterofl = make_strategy("heterofl-partial", SETUP)
    grid = [rate for rate, _ in uniform_rates(SETUP)]
    for name, capability in class_capabilities(SETUP).items():
        smallest = uniform_rate_within(SETUP, capability)
        assert fjord.class_rates[name] == [rate for rate in grid if rate >= smallest]
        assert fjord.class_rates[name][0] == heterofl.class_rates[name]
    # A slower class affords fewer widths: its list is a suffix of a faster class's list.
    rates = fjord.class_rates
    assert rates["slow"] == rates["mid"][len(rates["mid"]) - len(rates["slow"]) :]
    assert len(rates["fast"]) >= len(rates["mid"]) >= len(rates["slow"]) >= 1
    for device in SETUP.fleet.devices:
        instruction = fjord.instruct(4, device, 12.5)
        assert instruction.policy == "ordered-dropout"
        assert instruction.options == {
            "rates": fjord.class_rates[device.device_class],
            "overrun": "partial",
        }


def test_paper_style_maximum_width_follows_the_capability_at_round_start() -> None:
    fjord = make_strategy("fjord", SETUP)
    grid = [rate for rate, _ in uniform_rates(SETUP)]
    for device in SETUP.fleet.devices:
        for start in (0.0, 0.45, 2.2):
            instruction = fjord.instruct(4, device, start)
            smallest = uniform_rate_within(SETUP, round_capability(SETUP, device, start))
            assert instruction.policy == "ordered-dropout"
            assert instruction.options == {
                "rates": [rate for rate in grid if rate >= smallest],
                "overrun": "drop",
            }
