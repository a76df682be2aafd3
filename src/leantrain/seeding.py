"""Deterministic random streams derived from the one ``seed`` of a config
(docs/world-model.md, 'Random streams').

Every stream is keyed by a purpose and integers such as (round, device index), so a result never
depends on the order in which clients run or on what ran before.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

__all__ = ["numpy_rng", "stream_seed", "torch_generator"]


def stream_seed(seed: int, purpose: str, *keys: int) -> int:
    """A 63-bit seed for the stream ``(seed, purpose, *keys)``.

    Args:
        seed: The config's seed.
        purpose: What the stream is for (``"sampling"``, ``"data-order"``, ``"trace"``...).
        *keys: Integers that identify the stream, such as the round and the device index.
    """
    tag = zlib.crc32(purpose.encode("utf-8"))
    if seed < 0 or any(key < 0 for key in keys):
        raise ValueError("seeds and stream keys must be non-negative")
    sequence = np.random.SeedSequence([seed, tag, *keys])
    return int(sequence.generate_state(1, dtype=np.uint64)[0]) >> 1


def numpy_rng(seed: int, purpose: str, *keys: int) -> np.random.Generator:
    """A NumPy generator for the stream ``(seed, purpose, *keys)``."""
    return np.random.default_rng(stream_seed(seed, purpose, *keys))


def torch_generator(seed: int, purpose: str, *keys: int) -> torch.Generator:
    """A CPU torch generator for the stream ``(seed, purpose, *keys)``."""
    generator = torch.Generator()
    generator.manual_seed(stream_seed(seed, purpose, *keys))
    return generator
