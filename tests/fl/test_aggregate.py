"""Count-normalised masked averaging on hand-computed cases."""

from __future__ import annotations

import pytest
import torch

from leantrain.fl.aggregate import WeightedUpdate, is_finite_state, masked_average


def test_full_updates_are_the_sample_weighted_mean() -> None:
    old = {"w": torch.tensor([0.0, 0.0])}
    a = WeightedUpdate({"w": torch.tensor([1.0, 2.0])}, weight=1.0)
    b = WeightedUpdate({"w": torch.tensor([4.0, 8.0])}, weight=3.0)
    # (1·1 + 3·4)/4 = 3.25 ; (1·2 + 3·8)/4 = 6.5
    assert torch.equal(masked_average(old, [a, b])["w"], torch.tensor([3.25, 6.5]))


def test_overlapping_partial_updates_average_only_over_who_trained_each_entry() -> None:
    old = {"w": torch.tensor([10.0, 20.0, 30.0, 40.0])}
    # Device A (100 samples) trained entries 0 and 1; device B (300 samples) entries 1 and 2.
    a = WeightedUpdate(
        {"w": torch.tensor([1.0, 2.0, 99.0, 99.0])},
        weight=100.0,
        masks={"w": torch.tensor([True, True, False, False])},
    )
    b = WeightedUpdate(
        {"w": torch.tensor([99.0, 6.0, 7.0, 99.0])},
        weight=300.0,
        masks={"w": torch.tensor([False, True, True, False])},
    )
    result = masked_average(old, [a, b])["w"]
    # entry 0: only A -> 1; entry 1: (100·2 + 300·6)/400 = 5; entry 2: only B -> 7;
    # entry 3: nobody -> keeps 40.
    assert torch.equal(result, torch.tensor([1.0, 5.0, 7.0, 40.0]))


def test_masks_on_a_matrix_and_unmasked_keys_count_as_fully_trained() -> None:
    old = {"conv": torch.zeros(2, 2), "bias": torch.zeros(2)}
    a = WeightedUpdate(
        {"conv": torch.tensor([[2.0, 2.0], [2.0, 2.0]]), "bias": torch.tensor([1.0, 1.0])},
        weight=1.0,
        masks={"conv": torch.tensor([[True, True], [False, False]])},
    )
    b = WeightedUpdate(
        {"conv": torch.tensor([[4.0, 4.0], [4.0, 4.0]]), "bias": torch.tensor([3.0, 5.0])},
        weight=1.0,
        masks={"conv": torch.tensor([[True, False], [True, False]])},
    )
    result = masked_average(old, [a, b])
    assert torch.equal(result["conv"], torch.tensor([[3.0, 2.0], [4.0, 0.0]]))
    assert torch.equal(result["bias"], torch.tensor([2.0, 3.0]))


def test_integer_buffers_take_the_largest_trained_value_and_dtypes_are_kept() -> None:
    old = {"n": torch.tensor(5), "h": torch.zeros(1, dtype=torch.float16)}
    a = WeightedUpdate({"n": torch.tensor(9), "h": torch.ones(1, dtype=torch.float16)}, 1.0)
    b = WeightedUpdate(
        {"n": torch.tensor(50), "h": torch.ones(1, dtype=torch.float16)},
        1.0,
        masks={"n": torch.tensor(False)},
    )
    result = masked_average(old, [a, b])
    assert result["n"].item() == 9
    assert result["h"].dtype == torch.float16


def test_no_updates_keeps_the_global_state() -> None:
    old = {"w": torch.tensor([1.5, -2.0])}
    assert torch.equal(masked_average(old, [])["w"], old["w"])


def test_is_finite_state_rejects_nan_and_inf() -> None:
    assert is_finite_state({"w": torch.ones(3), "n": torch.tensor(1)})
    assert not is_finite_state({"w": torch.tensor([1.0, float("nan")])})
    assert not is_finite_state({"w": torch.tensor([float("inf")])})


def test_fractional_masks_weigh_entries_by_the_samples_that_trained_them() -> None:
    global_state = {"w": torch.zeros(3)}
    # a: 10 samples; entry 0 trained by all of them, entry 1 by 2 of them (a fifth).
    a = WeightedUpdate(
        {"w": torch.tensor([1.0, 1.0, 1.0])}, 10.0, {"w": torch.tensor([1.0, 0.2, 0.0])}
    )
    # b: 30 samples; entry 1 trained by all of them, entry 2 by a third.
    b = WeightedUpdate(
        {"w": torch.tensor([5.0, 4.0, 7.0])}, 30.0, {"w": torch.tensor([0.0, 1.0, 1 / 3])}
    )
    new = masked_average(global_state, [a, b])["w"]
    assert float(new[0]) == 1.0
    assert float(new[1]) == pytest.approx((2 * 1.0 + 30 * 4.0) / 32)
    assert float(new[2]) == pytest.approx(7.0)
