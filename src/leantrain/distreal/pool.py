"""Computing Q(d) for many candidates in worker processes (docs/distreal.md, 'Design-space
exploration').

Each candidate's Q depends only on its dropout vector and the proxy's two checkpoints, so the
checkpoints are built once in the parent and every worker (a forked copy of it) computes whole
candidates from them with one torch thread. The values are those a proxy computes in one process
with one thread; only the wall time changes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import torch

from leantrain.distreal.proxy import ConvergenceProxy

__all__ = ["DEFAULT_WORKERS", "ProxyPool", "default_workers"]

#: Worker processes of the DSE by default (capped by the CPUs): the 2-core machines the library
#: targets (docs/distreal.md, 'Design-space exploration').
DEFAULT_WORKERS = 2

# The proxy of a worker process, set by its initializer.
_WORKER_PROXY: ConvergenceProxy | None = None


def _context() -> multiprocessing.context.BaseContext:
    """fork where the platform has it: the workers inherit the proxy, its data and checkpoints
    without pickling, and need no ``__main__`` guard in the caller's script (torch keeps a forked
    child to one intra-op thread, so its OpenMP pool cannot hang); spawn elsewhere."""
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def default_workers() -> int:
    """:data:`DEFAULT_WORKERS`, at most the CPUs this process may use."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        cpus = os.cpu_count() or 1
    return max(1, min(DEFAULT_WORKERS, cpus))


def _start_worker(proxy: ConvergenceProxy) -> None:
    global _WORKER_PROXY
    torch.set_num_threads(1)
    _WORKER_PROXY = proxy


def _worker_quality(dropout: tuple[float, ...]) -> float:
    assert _WORKER_PROXY is not None, "worker started without its proxy"
    return _WORKER_PROXY(dropout)


class ProxyPool:
    """Q(d) of batches of candidates, in ``workers`` processes (in this one when ``workers`` is
    1).

    With more than one worker, every candidate is computed by a worker (never in this process),
    so the values do not depend on how candidates fall into batches. The processes start on the
    first batch and stop at :meth:`close`.

    Args:
        proxy: The parent's proxy; its checkpoints are built here once and shared.
        workers: Worker processes; 1 computes in this process.
        source: Where the config came from, for error messages in the workers.
    """

    def __init__(self, proxy: ConvergenceProxy, workers: int, source: str | Path) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.proxy = proxy
        self.workers = workers
        self.source = str(source)
        self._executor: Executor | None = None

    def qualities(self, dropouts: Sequence[tuple[float, ...]]) -> list[float]:
        """Q of every vector in ``dropouts``, in order."""
        if not dropouts:
            return []
        if self.workers == 1:
            return [self.proxy(dropout) for dropout in dropouts]
        values = list(self._pool().map(_worker_quality, dropouts))
        self.proxy.computed += len(values)
        return [float(value) for value in values]

    def _pool(self) -> Executor:
        if self._executor is None:
            _ = self.proxy.checkpoints  # built once here, inherited by every worker
            self._executor = ProcessPoolExecutor(
                self.workers,
                mp_context=_context(),
                initializer=_start_worker,
                initargs=(self.proxy,),
            )
        return self._executor

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
