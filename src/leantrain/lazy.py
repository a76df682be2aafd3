"""Lazy package exports (PEP 562): a package names what it offers without importing it.

``leantrain --help`` and the numpy-only planner must not pay for torch, scikit-learn or Flower
because a package ``__init__`` imported every module it re-exports (docs/architecture.md,
'Rules'). A package instead lists its exports per submodule and installs the two hooks this
module builds; a name's submodule is imported when the name is first read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    Args:
        package: The package's ``__name__``.
        exports: Submodule (relative to ``package``, or absolute when it starts with
            ``leantrain.``) to the names it gives the package.

    Returns:
        ``(__getattr__, __dir__)``: the first imports the submodule of a name on first access
        and caches the value in the package; unknown names raise :class:`AttributeError`.
    """
    where: dict[str, str] = {}
    for module, names in exports.items():
        path = module if module.startswith("leantrain.") else f"{package}.{module}"
        for name in names:
            where[name] = path

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        # The lazy names and what the package defines itself (its __all__ lists both).
        return sorted(set(where) | set(getattr(importlib.import_module(package), "__all__", ())))

    return __getattr__, __dir__
