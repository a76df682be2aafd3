"""DISTREAL's convergence proxy Q(d) (docs/distreal.md, 'DISTREAL').

Q(d) is the full model's accuracy on a held-out validation subset of the training set after S
mini-batches of central training in which each mini-batch trains a fresh random subset of k_l
channels per group (the sliced sub-network step, which equals the masked step), starting from
fixed checkpoints: the initial model, and the initial model after ``warmup_batches`` full-model
mini-batches. Q is averaged over both checkpoints and ``seeds`` seeds. The data order of seed s is
the same for every candidate, and so is the random channel subset of group l in mini-batch b for
a given k_l, so candidates differ only by their rates. With ordered masks (``distreal-ordered``)
every mini-batch trains the first k_l channels of each group instead.

Each candidate's Q depends only on its rates and the two checkpoints, so candidates can be
evaluated in other processes from the same checkpoints (:mod:`leantrain.distreal.pool`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from leantrain.config import DseConfig
from leantrain.errors import InputError
from leantrain.fl.optim import build_optimizer
from leantrain.nn.groups import ChannelGroups
from leantrain.nn.state import clone_state
from leantrain.nn.submodel import Keep, SlicedTrainer
from leantrain.seeding import numpy_rng, torch_generator

if TYPE_CHECKING:
    from leantrain.fl.setup import FederatedSetup

__all__ = ["PROXY_VERSION", "ConvergenceProxy"]

#: Version of the definition of Q; part of every cache fingerprint (bump when Q changes).
PROXY_VERSION = "leantrain.distreal.proxy/1"

#: Evaluation batch size of the validation pass (memory only; results do not depend on it).
_EVAL_BATCH = 256


def _batch_indices(
    pool: np.ndarray, batches: int, batch_size: int, seed: int, purpose: str, *keys: int
) -> list[torch.Tensor]:
    """``batches`` full mini-batches of training-set indices drawn from ``pool`` in a seeded
    order: a fresh permutation of the pool per epoch, epochs concatenated as needed."""
    needed = batches * batch_size
    pieces: list[torch.Tensor] = []
    drawn = 0
    pool_tensor = torch.from_numpy(pool)
    for epoch in itertools.count():
        if drawn >= needed:
            break
        order = torch.randperm(len(pool), generator=torch_generator(seed, purpose, *keys, epoch))
        pieces.append(pool_tensor[order])
        drawn += len(pool)
    return list(torch.split(torch.cat(pieces)[:needed], batch_size))


class ConvergenceProxy:
    """Q(d): validation accuracy after S sliced mini-batches from fixed checkpoints.

    The two checkpoints (the initial model and the partly trained one) are built on the first
    computation, so a run whose vectors all come from the cache trains nothing.

    Args:
        setup: The run's setup (data, initial model, optimizer settings, seed).
        dse: The exploration settings (S, batch size, seeds, warm-up, validation size).
        groups: The model's channel groups.
        source: Where the config came from, for error messages.
        dtype: The precision the candidates train and evaluate in. float32 is the default;
            float64 makes Q the same on every CPU with AVX2, whose float32 kernels round
            differently (the golden front of the tests, docs/testing.md).
        ordered: Train the first k_l channels of every group (nested masks) instead of a random
            subset per mini-batch.

    Raises:
        InputError: The validation subset would leave no training samples.
    """

    def __init__(
        self,
        setup: FederatedSetup,
        dse: DseConfig,
        groups: ChannelGroups,
        source: str | Path = "<config>",
        *,
        dtype: torch.dtype = torch.float32,
        ordered: bool = False,
    ) -> None:
        config = setup.config
        train = setup.data.train
        if dse.validation_samples >= len(train):
            raise InputError(
                source,
                "distreal.dse.validation_samples",
                f"{dse.validation_samples} validation samples leave none of the "
                f"{len(train)} training samples to train on",
            )
        self.setup = setup
        self.dse = dse
        self.groups = groups
        self.dtype = dtype
        self.ordered = ordered
        self.seed = config.seed
        self.batch_size = dse.batch_size or config.training.batch_size
        self.scale_outputs = config.distreal.scale_outputs
        self.computed = 0
        order = numpy_rng(self.seed, "dse-validation").permutation(len(train))
        self._validation = np.sort(order[: dse.validation_samples])
        self._pool = np.sort(order[dse.validation_samples :])
        self._orders = [
            _batch_indices(self._pool, dse.batches, self.batch_size, self.seed, "dse-data", s)
            for s in range(dse.seeds)
        ]
        self._checkpoints: tuple[dict[str, torch.Tensor], ...] | None = None
        self._model: nn.Module | None = None
        self._trainer: SlicedTrainer | None = None
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """A hash of everything Q depends on: settings, seed, data, initial weights, versions."""
        if self._fingerprint is None:
            config = self.setup.config
            training = config.training
            digest = hashlib.sha256()
            settings = {
                "proxy": PROXY_VERSION,
                "torch": torch.__version__,
                "seed": self.seed,
                "model": config.model.model_dump(mode="json"),
                "data": config.data.model_dump(mode="json"),
                "levels": self.dse.levels,
                "batches": self.dse.batches,
                "batch_size": self.batch_size,
                "seeds": self.dse.seeds,
                "warmup_batches": self.dse.warmup_batches,
                "validation_samples": self.dse.validation_samples,
                "scale_outputs": self.scale_outputs,
                "lr": training.lr,
                "momentum": training.momentum,
                "weight_decay": training.weight_decay,
                "groups": list(self.groups.names),
                "channels": list(self.groups.channels),
            }
            if self.dtype != torch.float32:  # float32 caches keep their fingerprints
                settings["dtype"] = str(self.dtype)
            if self.ordered:  # so do caches of random masks
                settings["masks"] = "ordered"
            digest.update(json.dumps(settings, sort_keys=True).encode("utf-8"))
            train = self.setup.data.train
            digest.update(np.ascontiguousarray(train.x.numpy()).data)
            digest.update(np.ascontiguousarray(train.y.numpy()).data)
            for key, value in sorted(self.setup.build_model().state_dict().items()):
                digest.update(key.encode("utf-8"))
                digest.update(np.ascontiguousarray(value.detach().numpy()).data)
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def __call__(self, dropout: Sequence[float]) -> float:
        """Q(d) for the dropout vector ``dropout`` (computed, never cached here)."""
        counts = self.groups.keep_counts(dropout)
        model, trainer = self._scratch()
        scores: list[float] = []
        for checkpoint in self._ready_checkpoints():
            for seed_index, batches in enumerate(self._orders):
                model.load_state_dict(checkpoint)
                model.train()
                optimizer = self._optimizer(model)
                for batch_index, batch in enumerate(batches):
                    keep = self._keep(counts, seed_index, batch_index)
                    trainer.step(optimizer, self._x(batch), self._y(batch), keep)
                scores.append(self._accuracy(model))
        self.computed += 1
        return float(sum(scores) / len(scores))

    def _keep(self, counts: Sequence[int], seed_index: int, batch_index: int) -> Keep:
        """The kept channels of mini-batch ``batch_index``: per group, the first k_l of a seeded
        random permutation (drawn for every group, so a group's subset depends on its k_l only)."""
        if self.ordered:
            return {
                group.name: torch.arange(count, dtype=torch.int64)
                for group, count in zip(self.groups.groups, counts, strict=True)
                if count < group.channels
            }
        generator = torch_generator(self.seed, "dse-masks", seed_index, batch_index)
        keep: dict[str, torch.Tensor] = {}
        for group, count in zip(self.groups.groups, counts, strict=True):
            permutation = torch.randperm(group.channels, generator=generator)
            if count < group.channels:
                keep[group.name] = permutation[:count].sort().values
        return keep

    def _x(self, batch: torch.Tensor) -> torch.Tensor:
        return self.setup.data.train.x[batch].to(self.dtype)

    def _y(self, batch: torch.Tensor) -> torch.Tensor:
        return self.setup.data.train.y[batch]

    def _optimizer(self, model: nn.Module) -> torch.optim.SGD:
        return build_optimizer(model.parameters(), self.setup.config.training)

    def _scratch(self) -> tuple[nn.Module, SlicedTrainer]:
        if self._model is None or self._trainer is None:
            self._model = self.setup.build_model().to(self.dtype)
            self._trainer = SlicedTrainer(
                self._model, self.groups, scale_outputs=self.scale_outputs
            )
        return self._model, self._trainer

    @property
    def checkpoints(self) -> tuple[dict[str, torch.Tensor], ...]:
        """The initial state and the state after the full-model warm-up (built on first use,
        before worker processes copy the proxy)."""
        return self._ready_checkpoints()

    def _ready_checkpoints(self) -> tuple[dict[str, torch.Tensor], ...]:
        """The initial state and the state after the full-model warm-up (built once)."""
        if self._checkpoints is None:
            model = self.setup.build_model().to(self.dtype)
            fresh = clone_state(model.state_dict())
            model.train()
            optimizer = self._optimizer(model)
            warmup = _batch_indices(
                self._pool, self.dse.warmup_batches, self.batch_size, self.seed, "dse-warmup"
            )
            for batch in warmup:
                optimizer.zero_grad(set_to_none=True)
                loss = nn.functional.cross_entropy(model(self._x(batch)), self._y(batch))
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
            warm = clone_state(model.state_dict())
            self._checkpoints = (fresh, warm)
        return self._checkpoints

    @torch.no_grad()
    def _accuracy(self, model: nn.Module) -> float:
        model.eval()
        train = self.setup.data.train
        correct = 0
        for start in range(0, len(self._validation), _EVAL_BATCH):
            index = torch.from_numpy(self._validation[start : start + _EVAL_BATCH])
            logits = model(train.x[index].to(self.dtype))
            correct += int((logits.argmax(dim=1) == train.y[index]).sum())
        return correct / len(self._validation)
