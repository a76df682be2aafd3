"""The tiny setup and hand-made client updates shared by the sub-model baseline tests."""

from __future__ import annotations

import torch

from conftest import tiny_config
from leantrain.fl import ClientUpdate, build_setup
from leantrain.fl.setup import FederatedSetup
from leantrain.nn.state import clone_state
from leantrain.nn.submodel import TrainedMasks

SETUP: FederatedSetup = build_setup(tiny_config())


def make_update(
    name: str, keep: dict[str, torch.Tensor], value: float, samples: int
) -> ClientUpdate:
    """An update whose trained entries all hold ``value`` (as the client would report it)."""
    state = clone_state(SETUP.build_model().state_dict())
    masks = TrainedMasks.of(state, SETUP.channel_groups, [keep])
    assert masks is not None
    for key, mask in masks.items():
        state[key][mask > 0] = value
    for key in state:
        if key not in masks and state[key].is_floating_point():
            state[key].fill_(value)
    return ClientUpdate(name, 0, "ok", state=state, masks=masks, num_samples=samples)
