"""The one plug-in mechanism: name registries resolved lazily (docs/architecture.md, 'Plug-ins').

A :class:`Registry` maps the names users write (in a config, on the command line) to
``"module.path:Attribute"`` targets and imports a target's module only when that name is first
looked up, so listing or validating names never imports torch, scikit-learn or Flower. The
built-in tables of every plug-in point live here, in one place; this module imports nothing from
leantrain, so any module (the config models included) may use them. A user plug-in is added with
:meth:`Registry.register`, with the object itself or its ``"module:Attribute"`` path.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # for the annotations only: nothing heavy is imported at run time
    from leantrain.data.partition import Partitioner
    from leantrain.data.source import DataSource
    from leantrain.engines.engine import Engine
    from leantrain.fl.policy import LocalPolicy
    from leantrain.fl.strategy import Strategy
    from leantrain.nn.models import ModelFactory
    from leantrain.pact.solver import Solver

__all__ = [
    "ENGINES",
    "MODELS",
    "PARTITIONERS",
    "POLICIES",
    "SOLVERS",
    "SOURCES",
    "STRATEGIES",
    "Registry",
    "UnknownNameError",
]

T = TypeVar("T")


class UnknownNameError(KeyError):
    """A name no registry entry has; the message lists the known names.

    A :class:`KeyError`, so that code catching the lookup failure of a plain dict still works.

    Args:
        kind: What the registry holds (``"strategy"``, ``"solver"``...).
        name: The unknown name.
        known: The names the registry has.
    """

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = known
        self.message = f"unknown {kind} '{name}'; known: {', '.join(known)}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return self.message


class Registry(Generic[T]):
    """Names of one plug-in point, each resolved to its object on first use.

    Supports ``name in registry``, ``registry[name]`` (as :meth:`get`), iteration over the
    sorted names and ``len``, so it reads like the ``dict`` it replaces.

    Args:
        kind: What it holds, in words used by error messages (``"strategy"``).
        entries: Name to ``"module.path:Attribute"``.
    """

    def __init__(self, kind: str, entries: dict[str, str]) -> None:
        self.kind = kind
        self._targets: dict[str, str | T] = dict(entries)
        self._loaded: dict[str, T] = {}

    def names(self) -> list[str]:
        """Every registered name, sorted; imports nothing."""
        return sorted(self._targets)

    def get(self, name: str) -> T:
        """The object registered as ``name``, importing its module on first use.

        Raises:
            UnknownNameError: No entry has that name.
        """
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        if name not in self._targets:
            raise UnknownNameError(self.kind, name, self.names())
        target = self._targets[name]
        value: T = _resolve(target) if isinstance(target, str) else target
        self._loaded[name] = value
        return value

    def register(self, name: str, target: T | str) -> None:
        """Add a plug-in: the object itself or its ``"module.path:Attribute"``.

        Raises:
            ValueError: ``name`` is already taken by another target.
        """
        current = self._targets.get(name)
        if current is not None and current is not target and current != target:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._targets[name] = target
        self._loaded.pop(name, None)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a user plug-in, e.g. at the end of a test); absent names are fine."""
        self._targets.pop(name, None)
        self._loaded.pop(name, None)

    def items(self) -> list[tuple[str, T]]:
        """``(name, object)`` for every entry, importing every module."""
        return [(name, self.get(name)) for name in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._targets)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def _resolve(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


#: Federated strategies (``leantrain train --strategy``, ``strategies`` in a run config).
STRATEGIES: Registry[type[Strategy]] = Registry(
    "strategy",
    {
        "distreal": "leantrain.distreal.strategy:Distreal",
        "distreal-ordered": "leantrain.distreal.strategy:DistrealOrdered",
        "fedavg": "leantrain.fl.fedavg:FedAvg",
        "fedavg-drop": "leantrain.fl.fedavg:FedAvgDrop",
        "fedavg-partial": "leantrain.fl.fedavg:FedAvgPartial",
        "feddropout": "leantrain.fl.feddropout:FederatedDropout",
        "feddropout-partial": "leantrain.fl.feddropout:FederatedDropoutPartial",
        "fjord": "leantrain.fl.fjord:FjORD",
        "fjord-partial": "leantrain.fl.fjord:FjORDPartial",
        "heterofl": "leantrain.fl.heterofl:HeteroFL",
        "heterofl-partial": "leantrain.fl.heterofl:HeteroFLPartial",
        "uniform": "leantrain.distreal.strategy:UniformDropout",
    },
)

#: Local step policies a strategy names in each client task.
POLICIES: Registry[type[LocalPolicy]] = Registry(
    "policy",
    {
        "distreal": "leantrain.distreal.policy:DistrealPolicy",
        "drop": "leantrain.fl.policy:DropPolicy",
        "full": "leantrain.fl.policy:FullPolicy",
        "ordered-dropout": "leantrain.fl.submodels:OrderedDropoutPolicy",
        "partial": "leantrain.fl.policy:PartialPolicy",
        "submodel": "leantrain.fl.submodels:FixedSubModelPolicy",
    },
)

#: PACT solvers and baselines (``leantrain plan --solver``).
SOLVERS: Registry[type[Solver]] = Registry(
    "solver",
    {
        "exact": "leantrain.pact.exact:ExactSolver",
        "full": "leantrain.pact.baselines:Full",
        "greedy": "leantrain.pact.baselines:Greedy",
        "no-prune": "leantrain.pact.baselines:NoPrune",
        "pact": "leantrain.pact.dp:PactSolver",
        "prune-first": "leantrain.pact.baselines:PruneFirst",
    },
)

#: Data sources (``data.source``).
SOURCES: Registry[type[DataSource]] = Registry(
    "data source",
    {
        "cifar10": "leantrain.data.cifar10:Cifar10Source",
        "digits": "leantrain.data.digits:DigitsSource",
        "femnist": "leantrain.data.femnist:FemnistSource",
        "mnist": "leantrain.data.mnist:MnistSource",
        "npz": "leantrain.data.npz:NpzSource",
    },
)

#: Partitioners of the training set across devices (``data.partition``).
PARTITIONERS: Registry[type[Partitioner]] = Registry(
    "partitioner",
    {
        "dirichlet": "leantrain.data.partition:DirichletPartitioner",
        "iid": "leantrain.data.partition:IidPartitioner",
        "natural": "leantrain.data.partition:NaturalPartitioner",
        "shards": "leantrain.data.partition:ShardsPartitioner",
    },
)

#: Model factories (``model.name``): ``factory(input_shape, num_classes)``.
MODELS: Registry[ModelFactory] = Registry(
    "model",
    {
        "digits-cnn": "leantrain.nn.models:DigitsCNN",
        "heterofl-conv": "leantrain.nn.models:heterofl_conv",
        "mnist-cnn": "leantrain.nn.models:MnistCNN",
        "mnist-cnn-wide": "leantrain.nn.models:mnist_cnn_wide",
        "resnet14": "leantrain.nn.models:resnet14",
        "resnet20": "leantrain.nn.models:resnet20",
        "resnet8": "leantrain.nn.models:resnet8",
    },
)

#: Engines: where clients run (``--engine``); each entry builds the engine with no arguments.
ENGINES: Registry[type[Engine]] = Registry(
    "engine",
    {
        "flower": "leantrain.engines.flower.engine:FlowerEngine",
        "local": "leantrain.engines.local:LocalEngine",
    },
)
