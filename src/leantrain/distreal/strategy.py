"""The ``distreal`` strategy, leantrain's variant ``distreal-ordered`` and the ablation
``uniform`` (docs/distreal.md, 'Run-time selection' and 'The baselines').

Both send every selected device the round deadline and a front of dropout vectors; each device
then selects, before every mini-batch, the point that fits its own remaining time and speed
(:class:`~leantrain.distreal.policy.DistrealPolicy`). The server aggregates what each device
returned with count-normalised masked averaging (the inherited default).

``distreal`` uses the Pareto front of the design-space exploration, read from
``distreal.front`` or explored before the first round and kept in the run directory as
``front.json`` (re-used on ``--resume``). ``distreal-ordered`` (leantrain's variant, beyond the
paper) trains the first k_l channels of every group instead of a random subset, with its own front
explored with the same masks (``distreal.ordered_front``, or explored). ``uniform`` uses one rate
for all groups: its "front" is the uniform vectors of the grid within the kept-filter floor,
sorted by R.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import ClassVar, Literal

from leantrain.distreal.dse import explore, model_identity
from leantrain.distreal.front import Front, uniform_points
from leantrain.distreal.plot import plot_front
from leantrain.distreal.policy import front_option
from leantrain.errors import InputError
from leantrain.fl.setup import FederatedSetup
from leantrain.fl.strategy import Instruction, Strategy
from leantrain.fleet import Device

__all__ = ["Distreal", "DistrealOrdered", "UniformDropout"]

FRONT_FILE = "front.json"


class _FrontStrategy(Strategy):
    """Devices select their dropout vector per mini-batch from a front.

    Attributes:
        masks: Which channels a device trains at a rate: a fresh ``random`` subset per mini-batch
            or the ``ordered`` first k_l.
    """

    masks: ClassVar[Literal["random", "ordered"]] = "random"

    def __init__(self, setup: FederatedSetup) -> None:
        super().__init__(setup)
        self._rows: list[list[object]] | None = None

    def _front_rows(self) -> list[list[object]]:
        if self._rows is None:
            self._rows = front_option(self.front_points())
        return self._rows

    @abstractmethod
    def front_points(self) -> list[tuple[float, tuple[float, ...]]]:
        """The (R, d) points the devices choose from, the last one d = 0."""

    def instruct(self, round_index: int, device: Device, round_start_s: float) -> Instruction:
        distreal = self.setup.config.distreal
        return Instruction(
            "distreal",
            {
                "front": self._front_rows(),
                "overrun": distreal.overrun,
                "masks": self.masks,
            },
        )


class Distreal(_FrontStrategy):
    """DISTREAL: per-layer random filter dropout with the DSE's Pareto front."""

    name = "distreal"

    front: Front | None = None

    def prepare(self, directory: Path) -> None:
        """Load the front (run directory, then config) or explore it, and keep it in the run
        directory as ``front.json`` with its plot (an interrupted exploration resumes from
        ``front.cache.json``)."""
        kept = directory / FRONT_FILE
        if kept.is_file():
            self.front = Front.load(kept, model_identity(self.setup))
            return
        self.front = self._configured_or_explored(directory / "front.cache.json")
        self.front.save(kept)
        plot_front(self.front, kept.with_suffix(".png"))

    def front_points(self) -> list[tuple[float, tuple[float, ...]]]:
        if self.front is None:  # used without a run directory
            self.front = self._configured_or_explored(None)
        return [(p.cost, p.dropout) for p in self.front.points]

    def configured_front(self) -> Path | None:
        """The front file the config names for this strategy (``distreal.front``)."""
        return self.setup.config.distreal.front

    def _configured_or_explored(self, cache_path: Path | None) -> Front:
        """The configured front, or a fresh exploration with this strategy's masks.

        Raises:
            InputError: The configured front was explored with other masks.
        """
        configured = self.configured_front()
        if configured is None:
            return explore(self.setup, cache_path=cache_path, ordered=self.masks == "ordered")
        front = Front.load(configured, model_identity(self.setup))
        # Fronts written before the ordered variant existed were all explored with random masks.
        masks = front.settings.get("masks", "random")
        if masks != self.masks:
            field = "distreal.front" if self.masks == "random" else "distreal.ordered_front"
            raise InputError(
                configured, field, f"front was explored with {masks} masks, not {self.masks}"
            )
        return front


class DistrealOrdered(Distreal):
    """leantrain's variant of DISTREAL (beyond the paper): the first k_l channels of every group
    (nested sub-networks), with a front explored with the same masks."""

    name = "distreal-ordered"
    masks: ClassVar[Literal["random", "ordered"]] = "ordered"

    def configured_front(self) -> Path | None:
        """The front file the config names for this strategy (``distreal.ordered_front``)."""
        return self.setup.config.distreal.ordered_front


class UniformDropout(_FrontStrategy):
    """DISTREAL's mechanism with one dropout rate for all groups (ablation of the DSE)."""

    name = "uniform"

    def front_points(self) -> list[tuple[float, tuple[float, ...]]]:
        points = uniform_points(
            self.setup.channel_groups,
            self.setup.submodel_cost,
            self.setup.config.distreal.dse.levels,
            min_keep=self.setup.config.distreal.dse.min_keep,
        )
        return [(p.cost, p.dropout) for p in points]
