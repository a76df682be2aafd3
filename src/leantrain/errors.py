"""Errors that the command line turns into exit codes (docs/cli.md, 'Exit codes').

Every error a user can cause by what they feed us is an :class:`InputError`: it names the file, the
field and what is wrong, and the CLI prints it as one line and exits with code 2.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["InfeasibleError", "InputError"]


class InputError(Exception):
    """Invalid user input: exit code 2, one line, no traceback.

    Args:
        file: The file the bad value came from (or a description such as ``"command line"``).
        field: Dotted path of the offending field, or a row reference for tabular files.
        message: What is wrong, in words a user can act on.
    """

    def __init__(self, file: str | Path | None, field: str, message: str) -> None:
        self.file = str(file) if file is not None else "<input>"
        self.field = field
        self.message = message
        super().__init__(self.line())

    def line(self) -> str:
        """The one-line message printed on stderr."""
        return f"{self.file}: {self.field}: {self.message}"


class InfeasibleError(Exception):
    """A plan cannot meet its constraints: exit code 3.

    Args:
        binding: Which constraint binds (``"deadline"``, ``"target"``, ``"memory"``...).
        relaxation: The smallest relaxation found, in words (e.g. ``"deadline_s >= 4123.5"``).
    """

    def __init__(self, binding: str, relaxation: str) -> None:
        self.binding = binding
        self.relaxation = relaxation
        super().__init__(f"infeasible: {binding} binds; smallest relaxation found: {relaxation}")
