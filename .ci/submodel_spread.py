"""Measure the spread behind the tolerances of tests/nn/test_submodel.py (docs/testing.md).

For every case of ``test_sliced_steps_equal_masked_steps`` it runs the sliced and the masked
(oracle) steps in float32 and in float64, under each CPU configuration of ``.ci/cpu-matrix``, and
prints the largest deviations: float32 against the float64 masked step, sliced against masked in
float32, and sliced against masked in float64.

Usage: .venv/bin/python .ci/submodel_spread.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {
    "native": {},
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
    },
    "sse": {
        "ATEN_CPU_CAPABILITY": "default",
        "MKL_CBWR": "COMPATIBLE",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
    },
}
QUANTITIES = ("loss_rel", "state", "momentum")


def _measure() -> dict[str, dict[str, float]]:
    """This process's deviations per comparison and quantity (maximum over all cases)."""
    import torch

    sys.path.insert(0, str(ROOT / "tests"))
    from leantrain.nn.groups import channel_groups
    from leantrain.nn.submodel import SlicedTrainer, random_keep
    from nn.masked_oracle import masked_step
    from nn.test_submodel import CASES, _batch, _model, _warm_optimizer

    def run(name: str, shape: tuple[int, int, int], scale: bool, dtype: torch.dtype, sliced: bool):
        model = _model(name, shape).to(dtype)
        x, y = _batch(shape, {"user-net": 5, "user-residual": 3}.get(name, 10))
        x = x.to(dtype)
        groups = channel_groups(model, shape)
        optimizer = _warm_optimizer(model, x, y)
        trainer = SlicedTrainer(model, groups, scale_outputs=scale)
        generator = torch.Generator().manual_seed(1)
        losses = []
        for rate in (0.5, 0.25, 0.75):
            keep = random_keep(groups, groups.keep_counts([rate] * len(groups)), generator)
            if sliced:
                losses.append(trainer.step(optimizer, x, y, keep))
            else:
                losses.append(
                    masked_step(model, optimizer, x, y, groups, keep, scale_outputs=scale)
                )
        state = {k: v.double() for k, v in model.state_dict().items() if v.is_floating_point()}
        momentum = {
            k: optimizer.state[p]["momentum_buffer"].double() for k, p in model.named_parameters()
        }
        return losses, state, momentum

    def deviation(a, b) -> dict[str, float]:
        return {
            "loss_rel": max(abs(p - q) / abs(q) for p, q in zip(a[0], b[0], strict=True)),
            "state": max(float((a[1][k] - v).abs().max()) for k, v in b[1].items() if v.numel()),
            "momentum": max(float((a[2][k] - v).abs().max()) for k, v in b[2].items()),
        }

    worst: dict[str, dict[str, float]] = {}
    for name, shape in CASES:
        for scale in (False, True):
            s32 = run(name, shape, scale, torch.float32, True)
            m32 = run(name, shape, scale, torch.float32, False)
            s64 = run(name, shape, scale, torch.float64, True)
            m64 = run(name, shape, scale, torch.float64, False)
            pairs = {
                "f32 vs f64": [deviation(s32, m64), deviation(m32, m64)],
                "sliced vs masked f32": [deviation(s32, m32)],
                "sliced vs masked f64": [deviation(s64, m64)],
            }
            for label, found in pairs.items():
                row = worst.setdefault(label, dict.fromkeys(QUANTITIES, 0.0))
                for one in found:
                    for quantity in QUANTITIES:
                        row[quantity] = max(row[quantity], one[quantity])
    return worst


def main() -> None:
    if os.environ.get("SUBMODEL_SPREAD_CHILD") == "1":
        json.dump(_measure(), sys.stdout)
        return
    overall: dict[str, dict[str, float]] = {}
    for isa, variables in CONFIGS.items():
        for threads in ("1", "2"):
            env = {**os.environ, **variables, "OMP_NUM_THREADS": threads}
            env["MKL_NUM_THREADS"] = threads
            env["SUBMODEL_SPREAD_CHILD"] = "1"
            out = subprocess.run(
                [sys.executable, __file__], env=env, check=True, capture_output=True, text=True
            ).stdout
            for label, row in json.loads(out).items():
                print(f"{isa}-{threads:<2} {label:<22}", *(f"{q} {row[q]:.2e}" for q in QUANTITIES))
                total = overall.setdefault(label, dict.fromkeys(QUANTITIES, 0.0))
                for quantity in QUANTITIES:
                    total[quantity] = max(total[quantity], row[quantity])
    for label, row in overall.items():
        print(f"max      {label:<22}", *(f"{q} {row[q]:.2e}" for q in QUANTITIES))


if __name__ == "__main__":
    main()
