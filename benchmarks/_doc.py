"""Writing one benchmark's section of ``docs/benchmarks.md`` in place, with date and machine."""

from __future__ import annotations

import datetime
import os
import platform
import re
import sys
from pathlib import Path

import torch

from leantrain.io import atomic_write_text

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Measured by the scripts in `benchmarks/` (`make bench`, or one of them with\n"
    "`python -m benchmarks NAME`). Every ratio compares figures measured in the same run on the\n"
    "same machine. Sections are rewritten in place when their benchmark runs again.\n"
)


def machine() -> str:
    """A one-line description of the host."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}"
    )


def write_section(name: str, title: str, body: str, command: str) -> None:
    """Replace (or append) the section ``name`` of the benchmarks document."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"*{stamp}; {machine()}; command: `{command}`*\n\n{body.strip()}\n"
        f"<!-- /bench:{name} -->\n"
    )
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else HEADER
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->\n", re.DOTALL)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text + "\n" + section
    atomic_write_text(DOC, text)
    print(section, file=sys.stdout)
