"""Atomic file writes: a result or checkpoint is either the old file or the whole new one.

Each writer writes a temporary file in the destination's directory, flushes it to disk and renames
it over the destination, so a run killed mid-write never leaves a truncated file behind.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from leantrain.errors import InputError

if TYPE_CHECKING:  # matplotlib is imported only by the code that draws
    from matplotlib.figure import Figure

__all__ = [
    "atomic_torch_save",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_toml",
    "save_png",
]


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write`` on a temporary binary file, then move it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda stream: stream.write(data))


def atomic_write_text(path: Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(path: Path, obj: object) -> Path:
    """``torch.save`` ``obj`` to ``path`` atomically."""
    import torch  # here, so that reading and writing plain files never imports torch

    return atomic_write(path, lambda stream: torch.save(obj, stream))


def save_png(figure: Figure, path: str | Path, dpi: float | None = None) -> Path:
    """Render ``figure`` as a PNG at ``path`` atomically and clear it.

    Args:
        figure: A matplotlib figure (made with ``matplotlib.figure.Figure``, no pyplot state).
        path: Where to write.
        dpi: Resolution; None keeps the figure's own.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    atomic_write(Path(path), lambda stream: figure.savefig(stream, format="png", dpi=dpi))
    figure.clear()
    return Path(path)


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file.

    Raises:
        InputError: The file cannot be read or is not TOML (naming the file).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(path, "<file>", f"cannot read: {error.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(path, "<toml>", str(error)) from None
