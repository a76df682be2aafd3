"""Which of its samples a device trains on in a PACT epoch (docs/pact-profile-execute.md,
'Execute')."""

from __future__ import annotations

import math

import numpy as np
import torch

from leantrain.fl.setup import FederatedSetup
from leantrain.seeding import torch_generator

__all__ = ["node_sample_indices"]


def node_sample_indices(
    setup: FederatedSetup, device_index: int, fraction: float, purpose: str, epoch: int
) -> np.ndarray:
    """The training samples device ``device_index`` uses for ``fraction`` of its data in
    ``epoch``: the first ⌊f·d + ½⌋ of a permutation of its partition drawn from the stream
    ``(seed, purpose, epoch, device_index)`` (so a fresh subset each epoch), in that order."""
    part = np.asarray(setup.partitions[device_index], dtype=np.int64)
    count = min(len(part), math.floor(fraction * len(part) + 0.5))
    generator = torch_generator(setup.config.seed, purpose, epoch, device_index)
    order = torch.randperm(len(part), generator=generator).numpy()
    chosen: np.ndarray = part[order[:count]]
    return chosen
