"""The PACT problem file, plan evaluation against a hand computation, the plan JSON, and that every
figure of a plan (and of its picture) equals an independent recomputation."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from pact_cases import assert_recomputes, hand_raw, random_problem, recompute

from leantrain.errors import InputError
from leantrain.pact import (
    Decision,
    decisions_of,
    evaluate,
    load_problem,
    make_solver,
    parse_problem,
    read_plan,
)
from leantrain.pact.figure import node_energies, plot_comparison, plot_plan

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pact"


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "problem.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def _edit(raw: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    target: Any = raw
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[last] = value
    return raw


@pytest.mark.parametrize(
    ("dotted", "value", "field", "fragment"),
    [
        ("model.levels", [0.1, 0.5], "model.levels", "first pruning level must be 0"),
        ("model.levels", [0.0, 0.0], "model.levels", "ascending"),
        ("model.bytes", [1.0], "model.bytes", "one entry per level"),
        ("curve.a", [1.0], "curve.a", "one entry per level"),
        ("curve.jump", [0.5, 0.1], "curve.jump", "non-decreasing"),
        ("node.0.flops", -1.0, "node[0].flops", "greater than 0"),
        ("node.1.samples", 2.5, "node[1].samples", "integer"),
        ("target.deadline", 10.0, "target.deadline", "unknown key"),
        ("options.data_fractions", [1.0, 0.5], "options.data_fractions", "ascending"),
        ("options.data_fractions", [0.0], "options.data_fractions", "above 0"),
    ],
)
def test_invalid_fields_name_the_file_and_the_field(
    tmp_path: Path, dotted: str, value: Any, field: str, fragment: str
) -> None:
    path = _write(tmp_path, _edit(hand_raw(), dotted, value))
    with pytest.raises(InputError) as caught:
        load_problem(path)
    line = caught.value.line()
    assert "\n" not in line
    assert line.startswith(f"{path}: {field}: "), line
    assert fragment in line, line


def test_missing_and_non_toml_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_problem(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[target\n")
    with pytest.raises(InputError) as caught:
        load_problem(bad)
    assert caught.value.field == "<toml>"


def test_the_shipped_examples_load() -> None:
    for path in sorted(EXAMPLE.glob("*.toml")):
        problem = load_problem(path)
        assert problem.node and problem.levels[0] == 0.0


def test_evaluate_matches_a_hand_computation() -> None:
    """Two nodes, two epochs: epoch 1 at ρ = 0 with A at f = 1 and B at f = 0.5; epoch 2 prunes to
    ρ = 0.5 (jump +1.0) with B alone at f = 1.

    Epoch 1: A takes 300·1e6/1e9 = 0.3 s compute + 2·8·1e5/1e6 = 1.6 s transfer = 1.9 s and spends
    2·0.3 + 1·0.8 = 1.4 J; B takes 0.125 + 0.4 = 0.525 s and spends 5·0.125 + 0.5·0.2 = 0.725 J.
    τ1 = 1.9 s, E1 = 2.125 J, D1 = 300 + 0.5·0.5·500 = 425. The initial loss 1.1 is the level-0
    curve's start (0.1 + 10·100^−0.5), so s_eq = 0 and ℓ1 = 0.1 + 10·525^−0.5.
    Epoch 2: ℓ⁺ = ℓ1 + 1.0 ≈ 1.536 lies above the level-1 curve's start 0.2 + 10·100^−0.5 = 1.2, so
    s_eq = ((ℓ⁺ − 0.2)/10)^−2 − 100 ≈ −44 is negative (not clamped: the curve is followed
    backwards); D2 = 0.5·500 = 250, ℓ2 = 0.2 + 10·(s_eq + 250 + 100)^−0.5. B takes
    500·5e5/2e9 = 0.125 + 2·8·5e4/4e6 = 0.2 → 0.325 s and spends 5·0.125 + 0.5·0.1 = 0.675 J.
    """
    problem = parse_problem(hand_raw())
    decisions = [Decision(0, {"A": 1.0, "B": 0.5}), Decision(1, {"B": 1.0})]
    plan = evaluate(problem, decisions, solver="hand")
    first, second = plan.epochs
    loss1 = 0.1 + 10.0 / math.sqrt(525.0)
    shifted = ((loss1 + 1.0 - 0.2) / 10.0) ** -2  # s_eq + s0 on the level-1 curve
    assert shifted - 100.0 < 0.0  # s_eq is negative: the old clamp at 0 would matter here
    assert first.start_s == 0.0
    assert first.end_s == pytest.approx(1.9, rel=1e-12)
    assert first.energy_j == pytest.approx(2.125, rel=1e-12)
    assert first.loss_after == pytest.approx(loss1, rel=1e-12)
    assert first.pruning == 0.0 and second.pruning == 0.5
    assert second.start_s == pytest.approx(1.9, rel=1e-12)
    assert second.end_s == pytest.approx(2.225, rel=1e-12)
    assert second.energy_j == pytest.approx(0.675, rel=1e-12)
    assert second.loss_after == pytest.approx(0.2 + 10.0 / math.sqrt(shifted + 250.0), rel=1e-12)
    assert plan.energy_j == pytest.approx(2.8, rel=1e-12)
    assert plan.duration_s == pytest.approx(2.225, rel=1e-12)
    assert plan.status == "feasible"
    assert_recomputes(problem, plan)
    # A third epoch at the same level continues from s_eq + 250 on the level-1 curve.
    third = evaluate(problem, [*decisions, Decision(1, {"B": 1.0})], solver="hand").epochs[-1]
    assert third.loss_after == pytest.approx(0.2 + 10.0 / math.sqrt(shifted + 500.0), rel=1e-12)


def test_evaluate_status_and_rejections() -> None:
    problem = parse_problem(hand_raw())
    late = problem.with_target(deadline_s=2.0)
    plan = evaluate(late, [Decision(0, {"A": 1.0, "B": 0.5}), Decision(1, {"B": 1.0})], solver="x")
    assert plan.status == "infeasible"
    with pytest.raises(ValueError, match="must not decrease"):
        evaluate(problem, [Decision(1, {"B": 1.0}), Decision(0, {"B": 1.0})], solver="x")
    with pytest.raises(ValueError, match="allowed data fraction"):
        evaluate(problem, [Decision(0, {"A": 0.3})], solver="x")
    small = parse_problem(_edit(hand_raw(), "node.0.memory_bytes", 7.0e5))
    with pytest.raises(ValueError, match="memory"):
        evaluate(small, [Decision(0, {"A": 1.0})], solver="x")
    assert evaluate(small, [Decision(1, {"A": 1.0})], solver="x").epochs


def test_plan_json_roundtrip_and_recomputation(tmp_path: Path) -> None:
    for seed in range(3):
        problem = random_problem(seed)
        for name in ("full", "prune-first", "greedy"):
            plan = make_solver(name).solve(problem)
            if not plan.feasible:
                continue
            path = plan.save(tmp_path / f"{name}-{seed}.json")
            again = read_plan(path)
            assert again == plan
            assert_recomputes(problem, again)
            assert evaluate(problem, decisions_of(problem, again), solver=name).epochs == (
                plan.epochs
            )


def test_read_plan_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{"status": "done"}')
    with pytest.raises(InputError, match="not a valid plan"):
        read_plan(path)


def test_the_figures_node_energies_add_up_and_pngs_are_written(tmp_path: Path) -> None:
    problem = random_problem(1)
    plans = {name: make_solver(name).solve(problem) for name in ("full", "greedy", "prune-first")}
    for plan in plans.values():
        energies = node_energies(problem, plan)
        assert math.isclose(sum(energies), plan.energy_j, rel_tol=1e-9)
        assert math.isclose(
            sum(f[2] for f in recompute(problem, plan)), sum(energies), rel_tol=1e-9
        )
    picture = plot_plan(problem, plans["greedy"], tmp_path / "plan.png")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    both = plot_comparison(problem, plans, tmp_path / "compare.png")
    assert both.stat().st_size > 1000


def test_a_plan_over_hundreds_of_nodes_plots(tmp_path: Path) -> None:
    problem = random_problem(5, nodes=300)
    plan = make_solver("full").solve(problem)
    assert plan.feasible
    assert plot_plan(problem, plan, tmp_path / "big.png").stat().st_size > 1000
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left nothing behind
