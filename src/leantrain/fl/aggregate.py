"""Count-normalised masked averaging of (partial) client updates (docs/runtime.md, 'Aggregation').

Each state entry is averaged only over the clients that actually trained it, weighted by their
sample counts; entries nobody trained keep their global value. The same rule covers full updates
(FedAvg), sub-model updates (Federated Dropout, HeteroFL, FjORD, DISTREAL) and BatchNorm buffers,
whose dropped channels a client reports as untrained. :func:`count_average` is the HeteroFL
paper's variant: each entry the unweighted mean over the clients that held it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

__all__ = ["WeightedUpdate", "count_average", "is_finite_state", "masked_average"]

State = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class WeightedUpdate:
    """One client's contribution to the average.

    Attributes:
        state: The client's full-size state after local training.
        weight: Its weight, normally the number of samples it trained on.
        masks: Per entry, how much of ``weight`` trained it: boolean (trained or not) or a share
            in [0, 1] (e.g. the share of the client's samples whose sub-network held the entry);
            None means all of them, and a key missing from ``masks`` counts as fully trained.
    """

    state: State
    weight: float
    masks: Mapping[str, torch.Tensor] | None = None


def is_finite_state(state: State) -> bool:
    """Whether every floating-point entry of ``state`` is finite (no NaN, no inf)."""
    return all(
        bool(torch.isfinite(tensor).all())
        for tensor in state.values()
        if tensor.is_floating_point()
    )


def masked_average(
    global_state: State, updates: Sequence[WeightedUpdate]
) -> dict[str, torch.Tensor]:
    """Average ``updates`` entry by entry over the clients that trained each entry.

    For entry e: ``new[e] = Σ_i w_i·m_i[e]·x_i[e] / Σ_i w_i·m_i[e]``, or ``global[e]`` where the
    denominator is 0; with m_i[e] the share of client i's samples that trained e, each entry is
    averaged over the samples that actually trained it. Sums run in float64 so the result does
    not depend on client order beyond rounding. Integer buffers (BatchNorm's
    ``num_batches_tracked``) take the largest value any client that trained them reports.

    Args:
        global_state: The state before the round.
        updates: The accepted updates (already checked to be finite).

    Returns:
        A new state with the same keys, shapes and dtypes as ``global_state``.
    """
    result: dict[str, torch.Tensor] = {}
    for key, old in global_state.items():
        if not old.is_floating_point():
            trained = [u.state[key] for u in updates if _trained_any(u, key)]
            result[key] = torch.stack([old, *trained]).amax(dim=0) if trained else old.clone()
            continue
        numerator = torch.zeros(old.shape, dtype=torch.float64)
        denominator = torch.zeros(old.shape, dtype=torch.float64)
        for update in updates:
            value = update.state[key].to(torch.float64)
            mask = _mask(update, key)
            if mask is None:
                numerator += update.weight * value
                denominator += update.weight
            else:
                weight = update.weight * mask.to(torch.float64)
                numerator += weight * value
                denominator += weight
        trained_somewhere = denominator > 0
        averaged = torch.where(
            trained_somewhere, numerator / denominator.clamp_min(1e-300), old.to(torch.float64)
        )
        result[key] = averaged.to(old.dtype)
    return result


def count_average(
    global_state: State, updates: Sequence[WeightedUpdate]
) -> dict[str, torch.Tensor]:
    """Average ``updates`` entry by entry, unweighted, over the clients that trained each entry.

    For entry e: ``new[e] = Σ_i h_i[e]·x_i[e] / Σ_i h_i[e]`` with h_i[e] = 1 when client i
    trained e at all (any positive share) and 0 otherwise, or ``global[e]`` where no client did:
    :func:`masked_average` with every weight 1 and every mask made boolean
    (docs/distreal.md, 'HeteroFL reproduction').
    """
    counted = [
        WeightedUpdate(
            u.state,
            1.0,
            None if u.masks is None else {key: mask > 0 for key, mask in u.masks.items()},
        )
        for u in updates
    ]
    return masked_average(global_state, counted)


def _trained_any(update: WeightedUpdate, key: str) -> bool:
    mask = _mask(update, key)
    return mask is None or bool(mask.any())


def _mask(update: WeightedUpdate, key: str) -> torch.Tensor | None:
    if update.masks is None:
        return None
    return update.masks.get(key)
