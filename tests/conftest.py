"""Shared fixtures: a tiny real federated setup on scikit-learn's digits."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import torch

from leantrain.config import RunConfig, parse_config
from leantrain.fl import FederatedSetup, build_setup

# Flower and Ray must not phone home from the tests.
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

#: Test files (relative to tests/) that train in float32 or compare floats: marked ``numeric``, and
#: run by CI under a second thread count (docs/testing.md, "Numerical portability of the tests").
NUMERIC_TESTS = (
    "data/*",
    "distreal/*",
    "fl/*",
    "fleet/*",
    "nn/*",
    "pact/test_execute*",
    "pact/test_profile*",
    "report/*",
    "test_cli.py",
    "test_examples.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of :data:`NUMERIC_TESTS` ``numeric``."""
    root = Path(__file__).parent
    for item in items:
        relative = item.path.relative_to(root).as_posix()
        if any(fnmatch(relative, pattern) for pattern in NUMERIC_TESTS):
            item.add_marker(pytest.mark.numeric)


TINY_RUN: dict[str, Any] = {
    "seed": 3,
    "data": {"source": "digits", "partition": "iid"},
    "model": {"name": "digits-cnn"},
    "training": {
        "rounds": 3,
        "devices_per_round": 4,
        "batch_size": 16,
        "lr": 0.1,
        "accuracy_targets": [0.5, 0.9],
    },
    "fleet": {
        "classes": [
            {
                "name": "fast",
                "count": 4,
                "flops": 4.0e8,
                "power_w": 10.0,
                "bandwidth_bps": 1.0e7,
                "tx_power_w": 1.0,
                "trace": {"kind": "periodic", "period_s": 0.3, "low": 0.2, "high": 1.0},
            },
            {
                "name": "mid",
                "count": 4,
                "flops": 2.0e8,
                "power_w": 5.0,
                "bandwidth_bps": 1.0e7,
                "tx_power_w": 1.0,
                "trace": {"kind": "periodic", "period_s": 0.3, "low": 0.2, "high": 1.0},
            },
            {
                "name": "slow",
                "count": 4,
                "flops": 5.0e7,
                "power_w": 2.0,
                "bandwidth_bps": 1.0e7,
                "tx_power_w": 1.0,
            },
        ]
    },
}


#: A design-space exploration small enough for tests (seconds on the tiny fleet).
SMALL_DSE: dict[str, Any] = {
    "levels": 4,
    "population": 4,
    "generations": 2,
    "batches": 3,
    "seeds": 1,
    "warmup_batches": 5,
    "validation_samples": 100,
}


def tiny_raw(**sections: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of TINY_RUN with ``sections`` merged into its top-level sections."""
    raw = copy.deepcopy(TINY_RUN)
    for name, values in sections.items():
        if isinstance(raw.get(name), dict) and isinstance(values, dict):
            raw[name].update(values)
        else:
            raw[name] = values
    return raw


def tiny_config(**sections: dict[str, Any]) -> RunConfig:
    """TINY_RUN validated, with ``sections`` merged in."""
    return parse_config(tiny_raw(**sections))


@pytest.fixture
def tiny() -> RunConfig:
    return tiny_config()


@pytest.fixture(scope="module")
def tiny_setup() -> FederatedSetup:
    """The setup of TINY_RUN, built once per module."""
    return build_setup(tiny_config())


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a module's tests: the suite shares two busy cores, and one thread
    avoids oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
