"""The ``leantrain`` command line (docs/cli.md): a thin front end over :mod:`leantrain.workflows`.

* :mod:`~leantrain.cli.commands`: the commands (typer) and the exit codes: 0 success, 2 invalid
  input (one line on stderr, no traceback), 3 infeasible plan;
* :mod:`~leantrain.cli.progress`: progress of long work on stderr;
* :mod:`~leantrain.cli.tables`: what the commands print on stdout.

Importing it imports neither torch nor scikit-learn nor Flower: ``--help`` and ``plan`` stay
fast, and each command imports what it runs.
"""

from __future__ import annotations

from leantrain.cli.commands import EPSILON_HELP, app, main

__all__ = ["EPSILON_HELP", "app", "main"]
