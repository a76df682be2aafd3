"""Interchangeable nodes take turns (docs/pact.md, 'Interchangeable nodes take turns'): the plan's
figures stay the same, the turns spread the passes over the class, re-planning continues them.

Plans and figures are float64 arithmetic on discrete choices, the same on every CPU.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pact_cases import HAND

from leantrain.pact import Decision, Problem, evaluate, make_solver, parse_problem
from leantrain.pact.rotation import interchangeable_classes, take_turns


def fleet_problem() -> Problem:
    """:data:`HAND` with three copies of node A (A, A2, A3) and B: A's class is interchangeable;
    γ = 0.3, so epochs of one node make the most of their samples, and a target that takes
    several of them."""
    raw: dict[str, Any] = copy.deepcopy(HAND)
    a = raw["node"][0]
    b = {**raw["node"][1], "power_w": 50.0}  # dear: the plans train A-class nodes
    raw["node"] = [a, {**a, "name": "A2"}, {**a, "name": "A3"}, b]
    raw["target"] = {"loss": 0.25, "deadline_s": 30.0}
    raw["options"]["max_epochs"] = 12
    raw["curve"]["participation"] = 0.3
    return parse_problem(raw)


def test_classes_are_the_nodes_equal_but_for_the_name() -> None:
    classes = interchangeable_classes(fleet_problem())
    assert classes["A"] == classes["A2"] == classes["A3"] == ("A", "A2", "A3")
    assert classes["B"] == ("B",)


def test_turns_change_no_figure_and_spread_the_passes() -> None:
    problem = fleet_problem()
    same = [Decision(0, {"A": 1.0})] * 5 + [Decision(0, {"A": 0.5, "A2": 1.0, "B": 1.0})]
    turned = take_turns(problem, same)
    assert [list(d.fractions.items()) for d in turned[:5]] == [
        [("A", 1.0)],
        [("A2", 1.0)],
        [("A3", 1.0)],
        [("A", 1.0)],
        [("A2", 1.0)],
    ]
    # Epoch 6: A3 has trained 1 pass, A 2, A2 2: the whole fraction goes to the freshest node.
    assert dict(turned[5].fractions) == {"A": 0.5, "A3": 1.0, "B": 1.0}
    before = evaluate(problem, same, solver="hand")
    after = evaluate(problem, turned, solver="hand")
    assert [e.loss_after for e in after.epochs] == [e.loss_after for e in before.epochs]
    assert [e.end_s for e in after.epochs] == [e.end_s for e in before.epochs]
    assert after.energy_j == before.energy_j


def test_turns_continue_from_what_was_trained() -> None:
    problem = fleet_problem()
    turned = take_turns(problem, [Decision(0, {"A": 1.0})] * 2, used={"A": 3.0, "A2": 1.0})
    # A3 first (0 passes), then A2 and A3 tie at 1 pass: fleet order picks A2.
    assert [list(d.fractions) for d in turned] == [["A3"], ["A2"]]


@pytest.mark.parametrize("solver", ["pact", "exact"])
def test_solvers_hand_out_turns(solver: str) -> None:
    plan = make_solver(solver, 0.01).solve(fleet_problem())
    assert plan.feasible and len(plan.epochs) >= 3
    trained = [name for epoch in plan.epochs for name in epoch.fractions if name != "B"]
    counts = {name: trained.count(name) for name in ("A", "A2", "A3")}
    # Epochs of one A-class node each: the three nodes' counts differ by at most one.
    assert max(counts.values()) - min(counts.values()) <= 1, counts
