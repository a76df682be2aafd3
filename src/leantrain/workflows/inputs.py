"""How a flow names the values it checks, and the checks every flow shares
(docs/architecture.md, 'One application layer').

A flow raises :class:`~leantrain.errors.InputError` naming the value (``out``, ``engine``,
``solver``, ``epsilon``...); an :class:`Origin` says where the values came from and how the front
end calls them (``--out`` on the command line, ``out`` in ``flwr run --run-config``), so the
library speaks of values and each front end of its own inputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from leantrain.errors import InputError
from leantrain.registry import ENGINES, STRATEGIES

if TYPE_CHECKING:
    from leantrain.engines.engine import Engine

__all__ = [
    "ARGUMENTS",
    "COMMAND_LINE",
    "Origin",
    "check_epsilon",
    "check_strategies",
    "engine",
    "figure_beside",
    "guard_run_dir",
    "refuse_overwrite",
]


@dataclass(frozen=True)
class Origin:
    """Where a flow's values came from, and what the front end calls them.

    Attributes:
        source: The first part of an error line (``"command line"``).
        prefix: Put before a value's name (``"--"`` for flags); a value's underscores then
            become dashes.
        renames: Value name to the front end's name where they differ (without the prefix).
    """

    source: str = "arguments"
    prefix: str = ""
    renames: Mapping[str, str] = field(default_factory=dict)

    def name(self, value: str) -> str:
        """The front end's name of the value ``value``."""
        name = self.renames.get(value, value)
        return f"{self.prefix}{name.replace('_', '-')}" if self.prefix else name

    def error(self, value: str, message: str) -> InputError:
        """An :class:`~leantrain.errors.InputError` about ``value``."""
        return InputError(self.source, self.name(value), message)


#: Values given as arguments of a library call: named as they are.
ARGUMENTS = Origin()

#: Values given on the command line, as flags.
COMMAND_LINE = Origin("command line", "--", {"data_fractions": "fractions"})


def engine(name: str, origin: Origin = ARGUMENTS) -> Engine:
    """The engine ``name``, built.

    Raises:
        InputError: No engine of that name (field ``engine``).
    """
    if name not in ENGINES:
        known = ", ".join(ENGINES.names())
        raise origin.error("engine", f"unknown engine '{name}'; known: {known}")
    return ENGINES.get(name)()


def check_strategies(names: Sequence[str], origin: Origin = ARGUMENTS) -> None:
    """Refuse the first name that is no registered strategy (imports none of them).

    Raises:
        InputError: Field ``strategy``, listing the known strategies.
    """
    for name in names:
        if name not in STRATEGIES:
            known = ", ".join(STRATEGIES.names())
            raise origin.error("strategy", f"unknown strategy '{name}'; known: {known}")


def check_epsilon(epsilon: float, origin: Origin = ARGUMENTS) -> None:
    """Refuse an ε that is not a positive finite number (field ``epsilon``)."""
    if not (epsilon > 0.0 and math.isfinite(epsilon)):
        raise origin.error("epsilon", f"must be a positive number, got {epsilon}")


def guard_run_dir(directory: Path, resume: bool, origin: Origin = ARGUMENTS) -> None:
    """Refuse to overwrite an earlier run unless resuming it (docs/cli.md, 'Run directories').

    Raises:
        InputError: ``directory`` holds files and ``resume`` is false (field ``out``).
    """
    if not resume and directory.is_dir() and any(directory.iterdir()):
        raise origin.error(
            "out",
            f"{directory} already holds files; resume that run ({origin.name('resume')}) or "
            f"choose another {origin.name('out')}",
        )


def refuse_overwrite(
    paths: Sequence[Path], force: bool, origin: Origin = ARGUMENTS, field: str = "out"
) -> None:
    """Refuse to overwrite an existing output file unless ``force``.

    Raises:
        InputError: The first existing path (field ``field``).
    """
    for path in paths:
        if path.exists() and not force:
            raise origin.error(
                field, f"{path} already exists; overwrite it with {origin.name('force')}"
            )


def figure_beside(out: Path, suffix: str, what: str, origin: Origin) -> Path:
    """``<stem><suffix>.png`` beside ``out``; ``out`` itself must not be the PNG."""
    if out.suffix == ".png":
        raise origin.error("out", f"names the {what}; its figure takes <stem>.png")
    return out.with_name(f"{out.stem}{suffix}.png")
