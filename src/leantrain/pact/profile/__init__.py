"""``leantrain profile``: a PACT problem measured from the real model, data and fleet
(docs/pact-profile-execute.md, 'Profile').

* :mod:`~leantrain.pact.profile.options`: what is measured (:class:`ProfileOptions`);
* :mod:`~leantrain.pact.profile.passes`: the training passes (central SGD, pooled data);
  FedAvg passes are PACT epochs on the client runtime (:mod:`leantrain.pact.epoch`);
* :mod:`~leantrain.pact.profile.fit`: the loss curve fit (:func:`fit_curve`) and γ of the
  participation model (:func:`fit_participation`);
* :mod:`~leantrain.pact.profile.target`: the default target and deadline (:func:`reference_epoch`)
  and σ of the planning margin (:func:`held_out_sigma`);
* :mod:`~leantrain.pact.profile.result`: what was measured and the problem file it writes;
* :mod:`~leantrain.pact.profile.run`: :func:`profile` itself;
* :mod:`~leantrain.pact.profile.plot`: the figure of the fits.
"""

from __future__ import annotations

from leantrain.fl.samples import node_sample_indices
from leantrain.pact.epoch import held_out
from leantrain.pact.profile.fit import (
    CurveFit,
    ParticipationFit,
    ParticipationRun,
    fit_curve,
    fit_participation,
)
from leantrain.pact.profile.options import (
    DEFAULT_FINAL_SHARE,
    DEFAULT_LEVELS,
    DEFAULT_MIN_SHARE,
    ProfileOptions,
    ProfileProgress,
)
from leantrain.pact.profile.passes import central_pass, pooled_training_data
from leantrain.pact.profile.plot import plot_profile
from leantrain.pact.profile.result import LevelProfile, ProfileResult
from leantrain.pact.profile.run import profile
from leantrain.pact.profile.target import held_out_sigma, reference_epoch

__all__ = [
    "DEFAULT_FINAL_SHARE",
    "DEFAULT_LEVELS",
    "DEFAULT_MIN_SHARE",
    "CurveFit",
    "LevelProfile",
    "ParticipationFit",
    "ParticipationRun",
    "ProfileOptions",
    "ProfileProgress",
    "ProfileResult",
    "central_pass",
    "fit_curve",
    "fit_participation",
    "held_out",
    "held_out_sigma",
    "node_sample_indices",
    "plot_profile",
    "pooled_training_data",
    "profile",
    "reference_epoch",
]
