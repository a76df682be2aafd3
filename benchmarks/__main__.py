"""``python -m benchmarks [NAME ...]``: run the named benchmarks (default: all)."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "runtime",
    "sliced",
    "dse",
    "convergence",
    "reproduce_heterofl",
    "distreal_grid",
    "distreal_floor",
    "flower",
    "pact_energy",
    "pact_predictor",
    "pact_data_reuse",
    "pact_quality",
    "pact_scaling",
    "cli_startup",
]


def main(names: list[str]) -> None:
    # Check every name before running any, so that a stray option (``--quick`` belongs to
    # ``python -m benchmarks.NAME``) cannot start a full run that rewrites the docs first.
    for name in names:
        if name not in BENCHMARKS:
            raise SystemExit(
                f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)} "
                "(options such as --quick: python -m benchmarks.NAME --quick)"
            )
    for name in names or BENCHMARKS:
        importlib.import_module(f"benchmarks.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
