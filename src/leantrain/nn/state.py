"""Model states: detached copies that later training cannot change."""

from __future__ import annotations

from collections.abc import Mapping

import torch

__all__ = ["clone_state"]


def clone_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A detached copy of every tensor of ``state`` (a ``state_dict`` or a subset of one)."""
    return {key: value.detach().clone() for key, value in state.items()}
