"""Name registries for the plug-in points (strategies, local policies, solvers).

Each plug-in point keeps a ``dict`` from name to class; :func:`registrar` makes the class
decorator that fills it and stamps the class with its ``name``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["registrar"]

C = TypeVar("C", bound=type)


def registrar(table: dict[str, C]) -> Callable[[str], Callable[[C], C]]:
    """A decorator factory: ``@register("name")`` adds a class to ``table`` and sets its
    ``name`` attribute.

    Raises:
        ValueError: (when decorating) the name is already taken by another class.
    """

    def register(name: str) -> Callable[[C], C]:
        def add(cls: C) -> C:
            if name in table and table[name] is not cls:
                raise ValueError(f"{name!r} is already registered to {table[name].__name__}")
            setattr(cls, "name", name)  # noqa: B010 - the registered classes declare it
            table[name] = cls
            return cls

        return add

    return register
