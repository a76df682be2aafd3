"""leantrain: resource-aware cooperative training of DNNs on heterogeneous device fleets.

Sub-packages, upstream to downstream: ``data`` (sources, partitioners), ``nn`` (models, channel
groups, cost), ``fleet`` (devices, traces, clock, energy), ``fl`` (round loop, strategies,
aggregation), ``distreal``, ``pact``, ``engines`` (local, Flower), ``report``; ``cli`` on top.
"""

__version__ = "0.1.0"
