"""leantrain: resource-aware cooperative training of DNNs on heterogeneous device fleets.

Sub-packages, upstream to downstream (docs/architecture.md, 'Packages'): ``data`` (sources,
partitioners), ``nn`` (models, channel groups, cost), ``fleet`` (devices, traces, clock, energy),
``fl`` (round loop, strategies, aggregation), ``distreal``, ``pact``, ``engines`` (local, Flower),
``report``; ``workflows`` (the flows every front end runs) and its front ends, ``cli`` and the
Flower ServerApp, on top. Plug-ins are found by name through :mod:`leantrain.registry`. Importing
a package imports none of its modules until a name is used (:mod:`leantrain.lazy`).
"""

__version__ = "0.1.0"
