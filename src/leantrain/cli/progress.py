"""Progress of long work on stderr: a rich bar on a terminal, one plain line per step
otherwise (logs, CI); docs/cli.md, 'Progress and output'."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Self

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leantrain import workflows

if TYPE_CHECKING:
    from leantrain.distreal.dse import DseProgress
    from leantrain.fl.records import RoundRecord
    from leantrain.fl.strategy import RoundCallback

__all__ = ["ExploreProgress", "RoundProgress", "StepProgress", "round_progress", "stderr"]

#: Progress and the one-line errors go to stderr; results to stdout.
stderr = Console(stderr=True)


class StepProgress:
    """Progress of long work: a rich bar on a terminal, one plain line per step otherwise."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.bar: Progress | None = None
        if stderr.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=stderr,
                transient=False,
            )
            self.task = self.bar.add_task(label, total=total, status="")

    def __enter__(self) -> Self:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def step(
        self, done: int, total: int, status: str, line: str | None = None, *, plain: bool = True
    ) -> None:
        """Report ``done`` of ``total`` steps (the total may grow, e.g. after re-planning).

        Args:
            done: Steps done.
            total: Steps in all.
            status: What the bar shows beside the count.
            line: The plain line (after ``[label]``); default ``done/total status``.
            plain: Whether this step prints a plain line when there is no terminal.
        """
        self.total = total
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total, status=status)
        elif plain:
            text = line if line is not None else f"{done}/{total} {status}"
            print(f"[{self.label}] {text}", file=sys.stderr, flush=True)


class RoundProgress(StepProgress):
    """Per-round progress of a federated run."""

    def __call__(self, record: RoundRecord) -> None:
        accuracy = "-" if record.accuracy is None else f"{record.accuracy:.4f}"
        status = (
            f"acc {accuracy}  t={record.sim_time_s:.1f}s  "
            f"E={record.cumulative_energy_j:.1f}J  dropped {len(record.dropped)}"
        )
        line = f"round {record.round}/{self.total} {status}"
        self.step(record.round, self.total, status, line)


def round_progress(rounds: int) -> workflows.RoundProgressFactory:
    @contextlib.contextmanager
    def bar(name: str) -> Iterator[RoundCallback | None]:
        with RoundProgress(name, rounds) as progress:
            yield progress

    return bar


class ExploreProgress(StepProgress):
    """DSE progress over the generations; a plain line per generation without a terminal."""

    def __init__(self, total: int) -> None:
        super().__init__("explore", total)

    def __call__(self, progress: DseProgress) -> None:
        status = f"{progress.evaluations} vectors evaluated ({progress.computed} trained)"
        line = f"generation {progress.generation}/{self.total} {status}"
        plain = progress.event == "generation"
        self.step(progress.generation, self.total, status, line, plain=plain)
