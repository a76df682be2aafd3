"""The DSE's evaluation cache: Q(d) per integer-coded dropout vector, optionally on disk.

Every evaluation of the search goes through the cache, so no vector is trained twice; the JSON
file keeps the cache across runs, keyed by the fingerprint of everything Q depends on
(:attr:`~leantrain.distreal.proxy.ConvergenceProxy.fingerprint`; docs/distreal.md, 'DISTREAL').
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from leantrain.io import atomic_write_text

__all__ = ["CACHE_FORMAT", "CacheFile", "EvaluationCache", "Genes"]

CACHE_FORMAT = "leantrain.distreal.dse-cache/1"

#: A dropout vector coded as one integer gene g_l per channel group (d_l = g_l / G).
Genes = tuple[int, ...]


class CacheFile(BaseModel):
    """The cache file: its format tag, the proxy's fingerprint and rows ``[[g...], Q]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["leantrain.distreal.dse-cache/1"]
    fingerprint: str
    entries: list[tuple[list[int], float]]


class EvaluationCache:
    """Q per integer-coded vector, optionally kept in a JSON file across runs.

    The file holds the fingerprint of the proxy it was computed with; a file with another
    fingerprint, or one that cannot be read, is ignored (and replaced at the next :meth:`flush`).

    Args:
        fingerprint: :attr:`ConvergenceProxy.fingerprint`.
        path: The JSON file, or None for an in-memory cache.
    """

    def __init__(self, fingerprint: str, path: str | Path | None = None) -> None:
        self.fingerprint = fingerprint
        self.path = None if path is None else Path(path)
        self.entries: dict[Genes, float] = {}
        self.loaded = 0
        self._dirty = False
        if self.path is not None and self.path.is_file():
            self.entries = self._read(self.path)
            self.loaded = len(self.entries)

    def _read(self, path: Path) -> dict[Genes, float]:
        # A cache is only an accelerator: whatever cannot be used is recomputed, never an error.
        try:
            cache = CacheFile.model_validate_json(path.read_bytes(), strict=True)
        except (OSError, ValidationError):
            return {}
        if cache.fingerprint != self.fingerprint:
            return {}
        return {tuple(genes): quality for genes, quality in cache.entries}

    def __contains__(self, genes: Genes) -> bool:
        return genes in self.entries

    def __getitem__(self, genes: Genes) -> float:
        return self.entries[genes]

    def __setitem__(self, genes: Genes, quality: float) -> None:
        self.entries[genes] = quality
        self._dirty = True

    def __len__(self) -> int:
        return len(self.entries)

    def flush(self) -> None:
        """Write the cache file atomically if anything changed since the last write."""
        if self.path is None or not self._dirty:
            return
        cache = CacheFile(
            format=CACHE_FORMAT,
            fingerprint=self.fingerprint,
            entries=[(list(genes), q) for genes, q in sorted(self.entries.items())],
        )
        atomic_write_text(self.path, json.dumps(cache.model_dump(mode="json")) + "\n")
        self._dirty = False
