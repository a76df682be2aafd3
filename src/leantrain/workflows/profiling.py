"""The profiling flow: a PACT problem file measured from the real model, data and fleet
(docs/pact-profile-execute.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from leantrain.workflows.inputs import ARGUMENTS, Origin, figure_beside, refuse_overwrite
from leantrain.workflows.written import Written

if TYPE_CHECKING:
    from leantrain.config import RunConfig
    from leantrain.pact.profile import ProfileOptions, ProfileProgress, ProfileResult

__all__ = ["ProfileOutcome", "profile"]


#: What :func:`profile` measured and wrote: the problem file and the plot of the fits.
ProfileOutcome: TypeAlias = Written["ProfileResult"]


def profile(
    config: RunConfig,
    config_source: Path | str,
    options: ProfileOptions,
    out: Path,
    *,
    force: bool = False,
    progress: Callable[[ProfileProgress], None] | None = None,
    origin: Origin = ARGUMENTS,
) -> ProfileOutcome:
    """Profile the model per pruning level and fit the loss predictor: a PACT problem file at
    ``out`` and the plot of the fits beside it as ``<stem>.png`` (docs/pact-profile-execute.md).

    Raises:
        InputError: ``out`` is a PNG or exists without ``force``, an unusable option, or a bad
            config.
    """
    from leantrain.fl.setup import build_setup
    from leantrain.pact.profile import plot_profile
    from leantrain.pact.profile import profile as measure

    picture = figure_beside(out, "", "problem (TOML)", origin)
    refuse_overwrite([out, picture], force, origin)
    options.check()
    setup = build_setup(config, config_source)
    result = measure(setup, options, source=config_source, progress=progress)
    result.save(out)
    return ProfileOutcome(result, out, plot_profile(result, picture))
