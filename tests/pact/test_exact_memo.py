"""The exact solver's memo of expanded states: windowed dominance tests give the plain verdict."""

from __future__ import annotations

import numpy as np
import pytest

from leantrain.pact import exact


@pytest.mark.parametrize(
    ("windows", "batch", "sorted_by"),
    [
        ((4, 16), 50, (0, 2, 3, 4)),
        ((1, 2, 3), 7, (0, 2, 3, 4)),
        ((64, 256), 100, (0, 2, 3, 4)),
        ((8,), 1000, (0, 2, 3, 4)),
        ((4,), 30, (0, 1, 2, 3, 4)),
        ((4,), 30, (4,)),
    ],
)
def test_windowed_archived_dominance_is_the_plain_test(
    windows: tuple[int, ...],
    batch: int,
    sorted_by: tuple[int, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(exact, "RECENT_STATES", windows)
    monkeypatch.setattr(exact, "ARCHIVE_BATCH", batch)
    monkeypatch.setattr(exact._Memo, "SORTED_BY", sorted_by)
    rng = np.random.default_rng(7)
    memo = exact._Memo()
    states: list[np.ndarray] = []
    verdicts = set()
    for _ in range(400):
        state = np.r_[rng.integers(0, 4, size=2), rng.random(3)]
        plain = bool(states) and bool((np.array(states) <= state).all(axis=1).any())
        assert memo.dominated(*state) == plain
        verdicts.add(plain)
        memo.add(*state)
        states.append(state)
    # Both verdicts occur, past every window and with an archive (except for the largest
    # batch): the test can fail either way.
    assert verdicts == {True, False} and memo.size > max(windows)
    assert (memo.archived > 0) == (batch < 400)
