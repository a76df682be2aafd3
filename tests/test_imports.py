"""What importing leantrain costs: the command line and the numpy-only planner never load torch,
scikit-learn, Flower, Ray or pymoo (docs/architecture.md, 'The planner is plain numpy').

Each check runs in a fresh interpreter, since this test process has long imported them all.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

HEAVY = ("torch", "sklearn", "flwr", "ray", "pymoo")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "pact"

#: The planner's modules (docs/pact.md): none may import torch or the federated runtime.
PLANNER = [
    "leantrain.pact.problem",
    "leantrain.pact.predictor",
    "leantrain.pact.plan",
    "leantrain.pact.graph",
    "leantrain.pact.polish",
    "leantrain.pact.rotation",
    "leantrain.pact.knapsack",
    "leantrain.pact.bounds",
    "leantrain.pact.exact",
    "leantrain.pact.baselines",
    "leantrain.pact.relax",
    "leantrain.pact.figure",
    "leantrain.pact.solver",
    "leantrain.pact.dp",
    "leantrain.pact.formulas",
    "leantrain.pact.lagrange",
    "leantrain.pact.instances",
]


def _loaded_after(code: str, cwd: Path | None = None) -> list[str]:
    """The top-level packages among HEAVY, and leantrain's runtime packages, that ``code`` loads
    in a fresh interpreter."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        heavy = {{m.split(".")[0] for m in sys.modules}} & {set(HEAVY)!r}
        runtime = {{m for m in sys.modules if m.startswith(("leantrain.fl.", "leantrain.nn."))}}
        print(json.dumps(sorted(heavy | runtime)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=cwd
    )
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_the_probe_sees_a_heavy_import() -> None:
    # The check below would pass vacuously if the probe could not see what is loaded.
    assert _loaded_after("import leantrain.nn.models") == ["leantrain.nn.models", "torch"]


@pytest.mark.parametrize(
    "module",
    [
        "leantrain",
        "leantrain.cli",
        "leantrain.workflows",
        "leantrain.workflows.planning",
        "leantrain.pact",
        *PLANNER,
    ],
)
def test_the_cli_and_the_planner_import_nothing_heavy(module: str) -> None:
    assert _loaded_after(f"import {module}") == []


def test_help_and_plan_run_without_anything_heavy(tmp_path: Path) -> None:
    code = f"""
        import contextlib, io
        from leantrain.cli import app
        with contextlib.redirect_stdout(io.StringIO()):
            for arguments in (["--help"], ["plan", "--help"],
                              ["plan", {str(EXAMPLES / "small.toml")!r}, "--out", "p.json"]):
                try:
                    app(arguments)
                except SystemExit as done:
                    assert done.code in (0, None), (arguments, done.code)
        """
    assert _loaded_after(code, cwd=tmp_path) == []
    assert json.loads((tmp_path / "p.json").read_text())["status"] in ("feasible", "optimal")
    assert (tmp_path / "p.png").is_file()


PACKAGES = [
    "leantrain.data",
    "leantrain.distreal",
    "leantrain.engines",
    "leantrain.engines.flower",
    "leantrain.fl",
    "leantrain.fleet",
    "leantrain.nn",
    "leantrain.pact",
    "leantrain.report",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_lazy_export_resolves(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    for name in names:
        value = getattr(module, name)
        # A name is its own object, not a submodule that happens to share it.
        assert not isinstance(value, types.ModuleType), (package, name)
    assert sorted(dir(module)) == sorted(names)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        getattr(module, "nope")  # noqa: B009 - the attribute is looked up on purpose
