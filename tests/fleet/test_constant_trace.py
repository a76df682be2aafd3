"""Tests for leantrain.fleet.constant_trace: the constant trace."""

from __future__ import annotations

import math

import pytest
from trace_cases import first_segments

from leantrain.fleet import ConstantTrace


def test_constant_trace() -> None:
    trace = ConstantTrace(0.4)
    assert trace.at(0.0) == trace.at(1e9) == 0.4
    assert first_segments(trace, 3.0, 5) == [(3.0, math.inf, 0.4)]
    with pytest.raises(ValueError):
        ConstantTrace(0.0)
    with pytest.raises(ValueError):
        trace.at(-1.0)
