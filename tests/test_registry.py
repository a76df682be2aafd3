"""The plug-in registries: lazy resolution, names that match the classes, user plug-ins and
clear errors for unknown names."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from leantrain.config import ModelConfig, parse_config
from leantrain.errors import InputError
from leantrain.pact.dp import PactSolver
from leantrain.pact.solver import Solver, make_solver
from leantrain.registry import (
    ENGINES,
    MODELS,
    PARTITIONERS,
    POLICIES,
    SOLVERS,
    SOURCES,
    STRATEGIES,
    Registry,
    UnknownNameError,
)
from leantrain.workflows import check_strategies

#: The registries whose entries are classes carrying their registry name as ``name``.
NAMED = [STRATEGIES, POLICIES, SOLVERS, SOURCES, PARTITIONERS]


@pytest.mark.parametrize("table", NAMED, ids=lambda table: table.kind)
def test_every_entry_resolves_to_a_class_carrying_its_name(table: Registry[type]) -> None:
    for name, cls in table.items():
        assert getattr(cls, "name", None) == name, (table.kind, name, cls)


def test_models_and_engines_resolve_to_callables() -> None:
    assert MODELS.names() == [
        "digits-cnn",
        "heterofl-conv",
        "mnist-cnn",
        "mnist-cnn-wide",
        "resnet14",
        "resnet20",
        "resnet8",
    ]
    assert ENGINES.names() == ["flower", "local"]
    model = MODELS.get("digits-cnn")((1, 8, 8), 10)
    assert sum(p.numel() for p in model.parameters()) > 0
    assert type(ENGINES.get("local")()).__name__ == "LocalEngine"


def test_the_built_in_names() -> None:
    assert STRATEGIES.names() == [
        "distreal",
        "distreal-ordered",
        "fedavg",
        "fedavg-drop",
        "fedavg-partial",
        "feddropout",
        "feddropout-partial",
        "fjord",
        "fjord-partial",
        "heterofl",
        "heterofl-partial",
        "uniform",
    ]
    assert SOLVERS.names() == ["exact", "full", "greedy", "no-prune", "pact", "prune-first"]
    assert POLICIES.names() == [
        "distreal",
        "drop",
        "full",
        "ordered-dropout",
        "partial",
        "submodel",
    ]


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(UnknownNameError) as caught:
        STRATEGIES.get("fedprox")
    assert str(caught.value) == (
        "unknown strategy 'fedprox'; known: distreal, distreal-ordered, fedavg, fedavg-drop, "
        "fedavg-partial, feddropout, feddropout-partial, fjord, fjord-partial, heterofl, "
        "heterofl-partial, uniform"
    )
    assert isinstance(caught.value, KeyError)  # what a dict lookup raised before
    with pytest.raises(KeyError, match="unknown solver 'lp'"):
        make_solver("lp")
    with pytest.raises(InputError, match="strategy: unknown strategy 'fedprox'"):
        check_strategies(["fedavg", "fedprox"])


def test_a_user_plug_in_by_object_or_path_and_no_silent_replacement() -> None:
    class Halving(PactSolver):
        name = "halving"

    SOLVERS.register("halving", Halving)
    try:
        assert "halving" in SOLVERS and SOLVERS.get("halving") is Halving
        assert isinstance(make_solver("halving", 0.5), Halving)
        SOLVERS.register("halving", Halving)  # the same target again is fine
        with pytest.raises(ValueError, match="solver 'halving' is already registered"):
            SOLVERS.register("halving", PactSolver)
    finally:
        SOLVERS.unregister("halving")
    assert "halving" not in SOLVERS
    table: Registry[type[Solver]] = Registry("solver", {})
    table.register("pact", "leantrain.pact.dp:PactSolver")
    assert table.get("pact") is PactSolver and len(table) == 1 and list(table) == ["pact"]


def test_config_validation_uses_the_names_without_importing_the_plug_ins() -> None:
    known = "digits-cnn, heterofl-conv, mnist-cnn"
    with pytest.raises(ValueError, match=f"unknown model 'vgg'; known: {known}"):
        ModelConfig(name="vgg")
    raw = {"fleet": {"classes": [{"name": "a", "flops": 1e9}]}, "strategies": ["fedavg", "x"]}
    with pytest.raises(InputError) as caught:
        parse_config(raw, "run.toml")
    assert caught.value.field == "strategies[1]"
    assert "unknown strategy 'x'" in caught.value.message
    # In a fresh interpreter: validating names imports none of the plug-in modules.
    code = """
        import sys
        from leantrain.config import parse_config
        parse_config({"fleet": {"classes": [{"name": "a", "flops": 1e9}]},
                      "data": {"source": "digits"}, "model": {"name": "digits-cnn"},
                      "strategies": ["distreal", "heterofl"]})
        loaded = [m for m in sys.modules if m.split(".")[0] in {"torch", "sklearn"}
                  or m.startswith(("leantrain.data", "leantrain.distreal", "leantrain.fl",
                                   "leantrain.nn"))]
        print(loaded)
        """
    assert _fresh(code) == "[]"


def _fresh(code: str) -> str:
    """What ``code`` prints in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_registry_imports_nothing_and_resolves_on_first_use() -> None:
    printed = _fresh(
        """
        import sys
        from leantrain.registry import STRATEGIES
        print(sorted(m for m in sys.modules if m.startswith("leantrain")))
        # distreal used to be unknown unless leantrain.distreal had been imported first.
        print(STRATEGIES.get("distreal").__module__)
        """
    )
    assert printed.splitlines() == [
        "['leantrain', 'leantrain.registry']",
        "leantrain.distreal.strategy",
    ]
