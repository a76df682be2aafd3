"""Package the demo's PACT problem (``src/leantrain/demo_problem.toml``) from a real profile.

``leantrain demo`` plans and executes a PACT problem that ``leantrain profile`` measured on the
fleet of ``src/leantrain/demo_pact.toml`` (bundled MNIST, 12 devices in the demo's speed
classes, the medium and slow ones short of memory). The profile's default target and deadline are
loose, so this script replaces them by a binding pair chosen by a fixed rule rather than by hand:
the target is the loss the profile predicts after ``K`` reference epochs and the deadline ``F`` ×
``K`` reference epochs, for the first (K, F) of :data:`GRID` (loosest deadline first) whose
``pact`` plan shows PACT's joint decisions: at least two pruning levels, at least two nodes in some
epoch, and a data fraction below 1. From the repository root (the profile takes a few minutes)::

    .venv/bin/leantrain profile src/leantrain/demo_pact.toml --epochs 6 --holdout 1 \\
        --out /tmp/demo_profile.toml
    .venv/bin/python scripts/package_demo_problem.py /tmp/demo_profile.toml
"""

from __future__ import annotations

import sys
from pathlib import Path

from leantrain.pact import LossPredictor, Plan, Problem, load_problem, make_solver
from leantrain.pact.plan import effective_samples, epoch_time
from leantrain.pact.profile import reference_epoch

OUT = Path(__file__).resolve().parent.parent / "src" / "leantrain" / "demo_problem.toml"
#: (K reference epochs of the target, deadline factor F), in the order tried.
GRID = [(k, f) for k in (6, 8, 10, 12) for f in (1.0, 0.8, 0.6, 0.5, 0.4, 0.3)]


def shows_joint_decisions(plan: Plan) -> bool:
    """At least two pruning levels, two nodes in some epoch, and a fraction below 1."""
    levels = {epoch.pruning for epoch in plan.epochs}
    crowded = any(len(epoch.fractions) >= 2 for epoch in plan.epochs)
    partial = any(f < 1.0 for epoch in plan.epochs for f in epoch.fractions.values())
    return plan.feasible and len(levels) >= 2 and crowded and partial


def binding(problem: Problem) -> tuple[Problem, int, float] | None:
    """The problem with the first target and deadline of :data:`GRID` whose plan shows the
    joint decisions, with its (K, F); None when none does."""
    reference = reference_epoch(problem)
    assert reference is not None
    samples = effective_samples(problem, reference)
    unit = epoch_time(problem, reference)
    predictor = LossPredictor.of(problem)
    for epochs, factor in GRID:
        losses = predictor.trajectory([reference.level] * epochs, [samples] * epochs)
        variant = problem.with_target(loss=losses[-1], deadline_s=factor * epochs * unit)
        if shows_joint_decisions(make_solver("pact").solve(variant)):
            return variant, epochs, factor
    return None


def main(profiled: Path) -> None:
    found = binding(load_problem(profiled))
    if found is None:
        sys.exit("no target and deadline of the grid gives a plan with PACT's joint decisions")
    problem, epochs, factor = found
    head, rest = profiled.read_text().split("[target]\n", 1)
    # Drop the profile's comment on its default target; keep the provenance header.
    kept = [line for line in head.splitlines() if not line.startswith(("# loss:", "# deadline_s:"))]
    section = rest.split("\n\n", 1)[1]  # the sections after [target]
    note = (
        "# Packaged by scripts/package_demo_problem.py: the target is the loss predicted after "
        f"{epochs}\n# reference epochs, the deadline {factor:g} x {epochs} reference epochs.\n"
    )
    target = (
        f"[target]\nloss = {problem.target.loss!r}\ndeadline_s = {problem.target.deadline_s!r}\n"
    )
    OUT.write_text("\n".join(kept).rstrip("\n") + "\n\n" + note + target + "\n" + section)
    load_problem(OUT)  # still a valid problem
    print(f"wrote {OUT} (K = {epochs}, F = {factor:g})")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
