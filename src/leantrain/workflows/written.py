"""What a flow that writes one file and its figure hands back (docs/architecture.md, 'One
application layer')."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["Written"]

ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class Written(Generic[ResultT]):
    """A flow's result, the file it wrote and the figure beside that file.

    Attributes:
        result: What the flow computed (a profile, an execution).
        path: The file written (the problem file, ``execution.json``).
        picture: Its figure.
    """

    result: ResultT
    path: Path
    picture: Path
