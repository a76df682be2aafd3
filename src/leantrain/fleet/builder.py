"""Build the simulated fleet from its config (docs/world-model.md, 'Devices')."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from leantrain.config import FleetConfig
from leantrain.errors import InputError
from leantrain.fleet.constant_trace import ConstantTrace
from leantrain.fleet.device import Device
from leantrain.fleet.trace_builder import build_trace
from leantrain.fleet.trace_file import CsvTable

__all__ = ["Fleet", "build_fleet"]


@dataclass(frozen=True)
class Fleet:
    """The devices of a run.

    Attributes:
        devices: Every device, in fleet order (``devices[i].index == i``).
        reference: A copy of the reference class's first device with a(t) = 1; its round time
            defines the default deadline.
        classes: Class names in config order.
    """

    devices: tuple[Device, ...]
    reference: Device
    classes: tuple[str, ...]

    def of_class(self, name: str) -> tuple[Device, ...]:
        """The devices of class ``name``, in fleet order.

        Raises:
            KeyError: No class has that name.
        """
        if name not in self.classes:
            raise KeyError(f"no device class '{name}'")
        return tuple(device for device in self.devices if device.device_class == name)


def build_fleet(config: FleetConfig, seed: int, source: str | Path = "<config>") -> Fleet:
    """Create the devices of every class, numbered in config order, with their traces.

    Each device gets its own trace, keyed by its fleet index. Upload and download rates are
    ``upload_bps``/``download_bps`` where given, else ``bandwidth_bps``. The reference class is
    ``reference_class``, or else the median class by ``flops`` (the lower median for an even
    number of classes; ties keep config order).

    Args:
        config: The fleet section of a validated run config (CSV paths already absolute).
        seed: The config's seed.
        source: The config file, named by errors about trace parameters.

    Raises:
        InputError: A CSV trace file is unreadable or bad (naming that file), or a trace's
            parameters are invalid (naming ``source``).
    """
    devices: list[Device] = []
    csv_tables: dict[Path, CsvTable] = {}  # each CSV file is parsed once for the whole fleet
    for class_index, spec in enumerate(config.classes):
        upload = spec.upload_bps if spec.upload_bps is not None else spec.bandwidth_bps
        download = spec.download_bps if spec.download_bps is not None else spec.bandwidth_bps
        for i in range(spec.count):
            name = f"{spec.name}-{i}"
            index = len(devices)
            try:
                trace = build_trace(spec.trace, seed, index, name, spec.name, csv_tables=csv_tables)
            except ValueError as error:
                raise InputError(
                    source, f"fleet.classes[{class_index}].trace", str(error)
                ) from None
            devices.append(
                Device(
                    name=name,
                    index=index,
                    device_class=spec.name,
                    flops=spec.flops,
                    power_w=spec.power_w,
                    memory_bytes=spec.memory_bytes,
                    upload_bps=upload,
                    download_bps=download,
                    tx_power_w=spec.tx_power_w,
                    rx_power_w=spec.rx_power_w,
                    trace=trace,
                )
            )
    reference_class = config.reference_class
    if reference_class is None:
        by_flops = sorted(config.classes, key=lambda c: c.flops)  # stable: ties keep config order
        reference_class = by_flops[(len(by_flops) - 1) // 2].name
    first = next(d for d in devices if d.device_class == reference_class)
    reference = dataclasses.replace(first, trace=ConstantTrace(1.0))
    return Fleet(tuple(devices), reference, tuple(c.name for c in config.classes))
