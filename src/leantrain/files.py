"""One way to read the JSON files the project writes: through pydantic.

Every JSON document (``summary.json``, a front) and every line of a JSON-lines file
(``rounds.jsonl``) is parsed and validated in strict mode (no coercion: a string is not a number;
unknown keys are rejected) as a pydantic model, or as a result dataclass itself where the file
holds one (pydantic validates standard dataclasses; each such dataclass forbids unknown keys with
``pydantic.with_config``), so one definition serves the result and its file. Whatever is wrong
becomes one :class:`~leantrain.errors.InputError` naming the file, the field and the problem (exit
code 2, docs/world-model.md, 'The run directory'). The writers serialise the same types, so what
is written is what is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from leantrain.errors import InputError

__all__ = [
    "adapter",
    "field_path",
    "input_error",
    "read_json_lines",
    "read_json_model",
    "read_text",
]

T = TypeVar("T")

#: pydantic's error types under the name a file reader gives them: a model and a dataclass name
#: the same problem differently.
_MESSAGES = {
    "extra_forbidden": "unknown key",
    "unexpected_keyword_argument": "unknown key",
    "missing": "missing key",
    "missing_argument": "missing key",
    "dataclass_type": "Input should be an object",
}


#: The adapters built so far, per type: building one costs a schema.
_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def adapter(kind: type[T] | TypeAdapter[T]) -> TypeAdapter[T]:
    """The (cached) :class:`pydantic.TypeAdapter` of ``kind``: a pydantic model, a dataclass, or
    an adapter already built (returned as it is)."""
    if isinstance(kind, TypeAdapter):
        return kind
    built = _ADAPTERS.get(kind)
    if built is None:
        built = _ADAPTERS[kind] = TypeAdapter(kind)
    return built


def field_path(location: tuple[int | str, ...], prefix: str = "") -> str:
    """A pydantic error location as a dotted field path (``a.b[0].c``), after ``prefix``."""
    parts: list[str] = [prefix] if prefix else []
    for item in location:
        parts.append(f"[{item}]" if isinstance(item, int) else ("." if parts else "") + item)
    return "".join(parts) or "<root>"


def input_error(error: ValidationError, file: str | Path, prefix: str = "") -> InputError:
    """The first problem of ``error`` as an :class:`InputError` on ``file``.

    Args:
        error: What pydantic found.
        file: The file that was read.
        prefix: Put before the field path (e.g. ``"line 3"`` for a JSON-lines file).
    """
    first = error.errors()[0]
    kind = first["type"]
    message = _MESSAGES.get(kind, str(first["msg"]).removeprefix("Value error, "))
    if kind == "json_invalid":
        message = message.replace("Invalid JSON", "invalid JSON", 1)
    return InputError(file, field_path(tuple(first["loc"]), prefix), message)


def _syntax_error(text: str, path: Path, prefix: str) -> InputError:
    """Where ``text`` stops being JSON, as the standard parser says it (line and message)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return InputError(path, prefix or f"line {error.lineno}", f"invalid JSON: {error.msg}")
    return InputError(path, prefix or "<root>", "invalid JSON")  # pydantic stricter than json


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``.

    Raises:
        InputError: The file cannot be read or is not UTF-8.
    """
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(path, "<file>", f"cannot read: {error}") from None


def read_json_model(path: Path, kind: type[T] | TypeAdapter[T]) -> T:
    """Read the JSON document ``path`` as ``kind`` (a model, a dataclass or an adapter).

    Raises:
        InputError: The file cannot be read, is not JSON, or does not fit ``kind``.
    """
    text = read_text(path)
    try:
        return adapter(kind).validate_json(text, strict=True)
    except ValidationError as error:
        if error.errors()[0]["type"] == "json_invalid":
            raise _syntax_error(text, path, "") from None
        raise input_error(error, path) from None


def read_json_lines(path: Path, kind: type[T] | TypeAdapter[T]) -> list[T]:
    """Read the JSON-lines file ``path``, one ``kind`` per non-blank line.

    Raises:
        InputError: The file cannot be read, or a line (named ``line N``) is not JSON or does
            not fit ``kind``.
    """
    rows: list[T] = []
    validator = adapter(kind)
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(validator.validate_json(line, strict=True))
        except ValidationError as error:
            if error.errors()[0]["type"] == "json_invalid":
                raise _syntax_error(line, path, f"line {number}") from None
            raise input_error(error, path, f"line {number}") from None
    return rows
