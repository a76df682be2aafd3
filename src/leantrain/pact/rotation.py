"""Interchangeable nodes take turns (docs/pact.md, 'Interchangeable nodes take turns').

Two nodes are *interchangeable* when every field of theirs but the name is equal (speed, power,
memory, link, samples, quality): swapping them in an epoch changes no figure of the plan (time,
energy, effective samples, loss). The model cannot tell them apart, but training can: the loss
law counts every epoch's samples as new, and a node that trains again sees the same samples again
(docs/benchmarks.md, 'Where executed PACT plans level off: data reuse': one tablet 30 times
levels off at loss 0.21 where five tablets in turn reach 0.12). So after a solver has chosen how
many nodes of each class train at which fraction, :func:`take_turns` hands each epoch's places in
a class to the class's least-used nodes (usage in passes over their data: the sum of their
fractions so far; ties by fleet order), the largest fraction to the least-used node. Every figure
stays the same, so an optimal plan stays optimal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from leantrain.pact.plan import Decision
from leantrain.pact.problem import NodeSection, Problem

__all__ = ["interchangeable_classes", "take_turns"]


#: The fields two interchangeable nodes share: all but the name.
_FIELDS = tuple(sorted(name for name in NodeSection.model_fields if name != "name"))


def _signature(node: NodeSection) -> tuple[object, ...]:
    """Every field of ``node`` but its name."""
    return tuple(getattr(node, field) for field in _FIELDS)


def interchangeable_classes(problem: Problem) -> dict[str, tuple[str, ...]]:
    """Node name → the names of its class (itself included), in fleet order."""
    classes: dict[tuple[object, ...], list[str]] = defaultdict(list)
    for node in problem.node:
        classes[_signature(node)].append(node.name)
    return {name: tuple(names) for names in classes.values() for name in names}


def take_turns(
    problem: Problem, decisions: Sequence[Decision], used: Mapping[str, float] | None = None
) -> list[Decision]:
    """``decisions`` with each epoch's nodes of a class handed to the class's least-used nodes.

    Args:
        problem: The problem whose nodes the decisions name.
        decisions: The epochs, in order.
        used: Passes over its data each node has trained before the first of ``decisions``
            (re-planning during an execution); none by default.
    """
    classes = interchangeable_classes(problem)
    order = {node.name: index for index, node in enumerate(problem.node)}
    usage: dict[str, float] = defaultdict(float, used or {})
    out: list[Decision] = []
    for decision in decisions:
        places: dict[tuple[str, ...], list[float]] = defaultdict(list)
        for name, fraction in decision.fractions.items():
            places[classes[name]].append(fraction)
        fractions: dict[str, float] = {}
        for members, taken in places.items():
            freshest = sorted(members, key=lambda name: (usage[name], order[name]))
            for name, fraction in zip(freshest, sorted(taken, reverse=True), strict=False):
                fractions[name] = fraction
        for name, fraction in fractions.items():
            usage[name] += fraction
        ordered = dict(sorted(fractions.items(), key=lambda item: order[item[0]]))
        out.append(Decision(decision.level, ordered))
    return out
