"""How the server side reaches Flower's ``Grid``: directly, or through a running simulation.

A deployed ServerApp owns its grid (:class:`DirectLink`). In a simulation the grid lives in the
ServerApp thread that :func:`flwr.simulation.run_simulation` starts, while leantrain's round loop
runs in the caller's thread: :class:`SimulationLink` starts the simulation in the background and
hands each call to that ServerApp thread, so the loop, its progress display and its run directory
stay exactly those of the local engine.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from flwr.app import Context
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

__all__ = ["DirectLink", "FlowerEngineError", "GridLink", "SimulationLink"]

T = TypeVar("T")

#: How often a waiting caller checks that the simulation is still alive.
_ALIVE_CHECK_S = 1.0


class FlowerEngineError(RuntimeError):
    """The Flower engine itself failed (not a client): the simulation stopped or never started."""


class GridLink(ABC):
    """Runs functions of the ServerApp's grid."""

    @abstractmethod
    def call(self, function: Callable[[Grid], T]) -> T:
        """``function(grid)``, run where the grid may be used."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release the grid (stop the simulation)."""


class DirectLink(GridLink):
    """The grid of the ServerApp this code runs in."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid

    def call(self, function: Callable[[Grid], T]) -> T:
        return function(self.grid)


class _DropDeprecation(logging.Filter):
    """Flower warns that the Python simulation API is deprecated; it is the one that lets the
    round loop run in the caller's process, so the warning is noise to a leantrain user."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return "DEPRECATED FEATURE" not in text and "deprecated feature" not in text


_Request = tuple[Callable[[Grid], Any], "Future[Any]"]

#: Simulations not closed yet.
_OPEN: weakref.WeakSet[SimulationLink] = weakref.WeakSet()


def _close_open_simulations() -> None:
    for link in list(_OPEN):
        link.close()


# Flower's simulation threads are not daemons and stop only when the simulation does: close what
# is still open when the interpreter exits, before it joins its threads (the hook
# concurrent.futures itself uses; without it a simulation nobody closed would block the exit).
_register_atexit = getattr(threading, "_register_atexit", None)
if _register_atexit is not None:
    _register_atexit(_close_open_simulations)


class SimulationLink(GridLink):
    """A Flower simulation on Ray, running in a background thread until :meth:`close`.

    One process runs one simulation at a time (Ray is initialised once per process); starting a
    second while one runs raises :class:`FlowerEngineError`.

    Args:
        client_app: The ClientApp every virtual SuperNode runs.
        num_supernodes: Virtual SuperNodes (their ``partition-id`` is 0 to n−1).
        backend_config: Flower's Ray backend configuration.
    """

    _running = threading.Lock()

    def __init__(
        self, client_app: ClientApp, num_supernodes: int, backend_config: dict[str, Any]
    ) -> None:
        # Flower and Ray must not phone home; Ray workers inherit the environment.
        os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if not SimulationLink._running.acquire(blocking=False):
            raise FlowerEngineError("a Flower simulation already runs in this process")
        self._requests: queue.Queue[_Request | None] = queue.Queue()
        self._error: BaseException | None = None
        server_app = ServerApp()

        @server_app.main()
        def serve(grid: Grid, context: Context) -> None:
            while (request := self._requests.get()) is not None:
                function, future = request
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(function(grid))
                    except BaseException as error:  # handed to the caller, who raises it
                        future.set_exception(error)

        self._thread = threading.Thread(
            target=self._simulate,
            args=(server_app, client_app, num_supernodes, backend_config),
            name="flower-simulation",
            daemon=True,
        )
        self._thread.start()
        _OPEN.add(self)

    def _simulate(
        self,
        server_app: ServerApp,
        client_app: ClientApp,
        num_supernodes: int,
        backend_config: dict[str, Any],
    ) -> None:
        from flwr.simulation import run_simulation  # Ray is heavy: only when simulating

        flower_logger = logging.getLogger("flwr")
        quiet = _DropDeprecation()
        flower_logger.addFilter(quiet)
        try:
            run_simulation(
                server_app=server_app,
                client_app=client_app,
                num_supernodes=num_supernodes,
                backend_config=backend_config,
            )
        except BaseException as error:
            self._error = error
        finally:
            flower_logger.removeFilter(quiet)
            SimulationLink._running.release()
            # Whoever still waits learns that the simulation is gone.
            while True:
                try:
                    request = self._requests.get_nowait()
                except queue.Empty:
                    break
                if request is not None and request[1].set_running_or_notify_cancel():
                    request[1].set_exception(self._stopped())

    def _stopped(self) -> FlowerEngineError:
        cause = f": {self._error}" if self._error is not None else ""
        return FlowerEngineError(f"the Flower simulation stopped{cause}")

    def call(self, function: Callable[[Grid], T]) -> T:
        if not self._thread.is_alive():
            raise self._stopped()
        future: Future[T] = Future()
        self._requests.put((function, future))
        while True:
            try:
                return future.result(timeout=_ALIVE_CHECK_S)
            except FutureTimeout:
                if not self._thread.is_alive() and not future.done():
                    raise self._stopped() from None

    def close(self) -> None:
        _OPEN.discard(self)
        if self._thread.is_alive():
            self._requests.put(None)
            self._thread.join()
