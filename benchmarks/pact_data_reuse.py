"""Where the executions of PACT plans level off (issue 12; docs/pact-profile-execute.md, 'How good
is the predictor?').

The plans of the predictor benchmark (``benchmarks/pact_predictor.py``) train one cheap node in
every epoch. The predictor counts every epoch's samples as new progress, but a node that trains
again sees the same few hundred samples again. This benchmark measures what that costs: on each
fleet of that benchmark (same data, model, seed 0), at the pruning level its plans use, it executes
three hand-made plans of :data:`EPOCHS` epochs, through the same ``execute_plan`` as real plans:

* ``same node``: the node the plans use trains all of its data every epoch;
* ``rotating``: as many nodes of that class as there are take turns (one per epoch, all its data),
  the same samples per epoch from a pool that many times larger;
* ``whole class``: every node of that class trains all its data every epoch.

The table reports the held-out loss after 4, 8, 12, 16, 24 and 30 epochs and the lowest loss, with
the predictor's value for the ``same node`` plan beside it (the three plans of one node per epoch
predict alike under either fraction law). Run: ``python -m benchmarks.pact_data_reuse`` (about
5 min on one thread); the results are kept under ``benchmarks/results/pact_data_reuse/``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks._doc import write_section
from benchmarks.pact_predictor import config, profiled
from leantrain.fl import build_setup
from leantrain.io import atomic_write_text
from leantrain.pact import Decision, LossPredictor, evaluate
from leantrain.pact.execute import execute_plan
from leantrain.pact.plan import effective_samples

COMMAND = "python -m benchmarks.pact_data_reuse"
EPOCHS = 30
REPORTED = (4, 8, 12, 16, 24, 30)
RESULTS = Path(__file__).resolve().parent / "results" / "pact_data_reuse"
#: Per fleet: the node class the predictor benchmark's plans train, and the pruning level they use.
CASES: dict[str, tuple[str, float]] = {"tiered": ("tablet", 0.5), "speeds": ("medium", 0.5)}


def measured(fleet: str, scheme: str) -> dict[str, Any]:
    """Execute the ``scheme`` plan on ``fleet`` (or read the saved result)."""
    path = RESULTS / f"{fleet}-{scheme.replace(' ', '-')}.json"
    if path.is_file():
        saved: dict[str, Any] = json.loads(path.read_text())
        return saved
    base = profiled(fleet, quick=False)
    problem = base.problem
    options = problem.options.model_copy(update={"max_epochs": EPOCHS})
    problem = problem.model_copy(update={"options": options}).with_target(
        loss=1e-6, deadline_s=1e12
    )
    kind, pruning = CASES[fleet]
    level = problem.level_index(pruning)
    names = [node.name for node in problem.node if node.name.startswith(f"{kind}-")]
    if scheme == "same node":
        decisions = [Decision(level, {names[0]: 1.0})] * EPOCHS
    elif scheme == "rotating":
        decisions = [Decision(level, {names[k % len(names)]: 1.0}) for k in range(EPOCHS)]
    else:
        decisions = [Decision(level, dict.fromkeys(names, 1.0))] * EPOCHS
    plan = evaluate(problem, decisions, solver="hand")
    setup = build_setup(config(fleet, 0, False), f"pact_data_reuse ({fleet})")
    began = time.perf_counter()
    result = execute_plan(plan, problem, setup)
    predictor = LossPredictor.of(problem)
    predicted = predictor.trajectory(
        [d.level for d in decisions], [effective_samples(problem, d) for d in decisions]
    )
    out = {
        "fleet": fleet,
        "scheme": scheme,
        "nodes": names if scheme != "same node" else names[:1],
        "pruning": pruning,
        "realised": [e.realised_loss for e in result.epochs],
        "predicted": predicted,
        "seconds": time.perf_counter() - began,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(out, indent=1))
    return out


def report(rows: list[dict[str, Any]]) -> str:
    """The section's body."""
    head = " | ".join(f"after {k}" for k in REPORTED)
    lines = [
        "Hand-made plans of one node class at the pruning level the predictor benchmark's plans "
        f"use, {EPOCHS} epochs each, executed with `execute_plan` (seed 0, the predictor "
        "benchmark's data, model and profile). *same node*: the plans' node, all its data every "
        "epoch; *rotating*: the class's nodes take turns, one per epoch; *whole class*: all of "
        "them every epoch. Held-out cross-entropy after the epochs named; *predicted* is the "
        "profile's predictor for the one-node plans.",
        "",
        f"| fleet | plan | nodes (samples each) | {head} | lowest |",
        "|---|---|---|" + "---:|" * (len(REPORTED) + 1),
    ]
    for row in rows:
        losses = row["realised"]
        cells = " | ".join(f"{losses[k - 1]:.3f}" for k in REPORTED)
        lines.append(
            f"| {row['fleet']} | {row['scheme']} | {len(row['nodes'])} | {cells} | "
            f"{min(losses):.3f} |"
        )
        if row["scheme"] == "same node":
            predicted = " | ".join(f"{row['predicted'][k - 1]:.3f}" for k in REPORTED)
            lines.append(
                f"| {row['fleet']} | *predicted* | 1 | {predicted} | {min(row['predicted']):.3f} |"
            )
    total = sum(row["seconds"] for row in rows)
    lines += ["", f"Wall time: {total / 60:.1f} min for the executions."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Run every case (resuming) and write the section."""
    del argv
    torch.set_num_threads(1)
    rows = [
        measured(fleet, scheme)
        for fleet in CASES
        for scheme in ("same node", "rotating", "whole class")
    ]
    write_section(
        "pact-data-reuse", "Where executed PACT plans level off: data reuse", report(rows), COMMAND
    )


if __name__ == "__main__":
    main(sys.argv[1:])
