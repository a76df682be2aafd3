"""Tests of leantrain.fl.heterofl: nested widths, sized per device at round start (``heterofl``)
or per class from the configuration (``heterofl-partial``), and the one BatchNorm treatment."""

from __future__ import annotations

from dataclasses import replace

import torch
from submodel_cases import SETUP

from leantrain.fl.strategy import make_strategy
from leantrain.fl.submodels import class_capabilities, round_capability, uniform_rate_within
from leantrain.fleet import CsvTrace


def _width(options: dict[str, object]) -> int:
    keep = options["keep"]
    assert isinstance(keep, dict)
    assert all(indices == list(range(len(indices))) for indices in keep.values())  # nested
    return len(keep["features.0"])


def test_paper_style_width_is_fixed_at_round_start_from_the_capability_then() -> None:
    heterofl = make_strategy("heterofl", SETUP)
    seen = set()
    for device in SETUP.fleet.devices:
        for start in (0.0, 0.45, 2.2):
            options = heterofl.instruct(1, device, start).options
            rate = uniform_rate_within(SETUP, round_capability(SETUP, device, start))
            assert options["rate"] == rate and options["overrun"] == "drop"
            assert _width(options) == SETUP.channel_groups.keep_counts([rate] * 2)[0]
            seen.add((device.device_class, rate))
    # The periodic traces of fast and mid devices change their width between rounds.
    assert len({rate for cls, rate in seen if cls == "fast"}) > 1


def test_partial_tier_has_one_static_width_per_class_from_the_configuration() -> None:
    heterofl = make_strategy("heterofl-partial", SETUP)
    capabilities = class_capabilities(SETUP)
    assert capabilities["fast"] > capabilities["mid"] > capabilities["slow"]
    widths: dict[str, set[int]] = {}
    for device in SETUP.fleet.devices:
        for start in (0.0, 0.45, 2.2):
            options = heterofl.instruct(1, device, start).options
            assert options["overrun"] == "partial"
            assert options["rate"] == uniform_rate_within(SETUP, capabilities[device.device_class])
            widths.setdefault(device.device_class, set()).add(_width(options))
    assert all(len(w) == 1 for w in widths.values())
    assert max(widths["fast"]) >= max(widths["mid"]) >= max(widths["slow"])
    assert max(widths["slow"]) < 16


def test_heterofl_evaluates_the_aggregate_as_every_method_does() -> None:
    """One BatchNorm treatment (docs/distreal.md): running statistics are averaged like any
    other entry and evaluated as aggregated; nothing is recomputed at the server."""
    for name in ("heterofl", "heterofl-partial", "fedavg", "distreal"):
        strategy = make_strategy(name, SETUP)
        state = SETUP.build_model().state_dict()
        evaluated = strategy.evaluation_state(state)
        assert all(torch.equal(evaluated[k], v) for k, v in state.items())


def test_paper_style_widths_ignore_availability_after_round_start() -> None:
    """Two devices whose traces agree at round start and differ afterwards get the same width:
    no future availability enters the choice (every paper-style baseline)."""
    device = SETUP.fleet.of_class("fast")[0]
    steady = replace(device, trace=CsvTrace([0.0], [0.5]))
    falling = replace(device, trace=CsvTrace([0.0, 1.0], [0.5, 0.2]))
    rising = replace(device, trace=CsvTrace([0.0, 1.0], [0.5, 1.0]))
    for name in ("feddropout", "heterofl", "fjord"):
        strategy = make_strategy(name, SETUP)
        options = [strategy.instruct(3, d, 0.5).options for d in (steady, falling, rising)]
        assert options[0] == options[1] == options[2], name
    # ...while the availability at round start does matter.
    heterofl = make_strategy("heterofl", SETUP)
    busy = replace(device, trace=CsvTrace([0.0], [0.2]))
    assert (
        heterofl.instruct(3, busy, 0.5).options["rate"]
        > heterofl.instruct(3, steady, 0.5).options["rate"]
    )
