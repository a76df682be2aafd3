"""Convergence of DISTREAL against every baseline (issue: DISTREAL).

MNIST (the full 60k training set), 100 devices, 10 per round, Dirichlet α = 0.5 and IID. Three
capability classes with speeds 1, 0.5 and 0.25 (relative FLOP/s), availability redrawn every
5 s of simulated time uniformly from [0.2, 1]. The round deadline comes from the reference device
(the median class at full availability). Every method runs with the same config and seed, for
``--seeds`` seeds (default 3) and a fixed number of rounds.

Reported per partition and method (mean over seeds, with the range): simulated time to 95% and
97% test accuracy, final accuracy after the last round, total energy; and DISTREAL's time to 97%
relative to the best other method, with the goal of the issue (≤ 0.7×, and final accuracy within
0.5 points of ``fedavg``).

Each run is kept under ``benchmarks/results/convergence/`` and skipped when its summary is there,
so an interrupted benchmark continues where it stopped. ``--quick`` runs a small smoke version.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks._doc import write_section
from leantrain.config import RunConfig, parse_config
from leantrain.distreal import explore
from leantrain.engines import LocalExecutor
from leantrain.fl import build_setup
from leantrain.fl.run import run_strategy

#: The sub-model baselines run in their strengthened tier (stop at the deadline and send), as
#: they did before the paper-style tier existed; ``benchmarks.distreal_grid`` runs both tiers.
METHODS = [
    "distreal",
    "uniform",
    "feddropout-partial",
    "heterofl-partial",
    "fjord-partial",
    "fedavg",
    "fedavg-drop",
    "fedavg-partial",
]
RESULTS = Path(__file__).resolve().parent / "results" / "convergence"


def config(
    partition: str, seed: int, rounds: int, quick: bool, front: Path | None = None
) -> RunConfig:
    """The benchmark's run config for one partition and seed (``front``: DISTREAL's front)."""
    trace = {"kind": "periodic", "period_s": 5.0, "low": 0.2, "high": 1.0}
    classes = [
        {"name": "fast", "flops": 1.0e9, "power_w": 8.0, "tx_power_w": 1.0},
        {"name": "medium", "flops": 5.0e8, "power_w": 4.0, "tx_power_w": 1.0},
        {"name": "slow", "flops": 2.5e8, "power_w": 2.0, "tx_power_w": 1.0},
    ]
    devices = 20 if quick else 100
    for device_class in classes:
        device_class.update(
            count=devices // 3 + (1 if device_class["name"] == "fast" else 0),
            bandwidth_bps=2.0e7,
            trace=trace,
        )
    data: dict[str, Any] = {"source": "mnist", "partition": partition, "test_limit": 5000}
    if partition == "dirichlet":
        data["alpha"] = 0.5
    if quick:
        data.update(train_limit=4000, test_limit=1000)
    raw: dict[str, Any] = {
        "seed": seed,
        "data": data,
        "model": {"name": "mnist-cnn"},
        "fleet": {"classes": classes},
        "training": {
            "rounds": rounds,
            "devices_per_round": 10,
            "local_epochs": 1,
            "batch_size": 32,
            "lr": 0.05,
            "momentum": 0.5,
            "accuracy_targets": [0.95, 0.97],
        },
    }
    if front is not None:
        raw["distreal"] = {"front": str(front)}
    if quick:
        raw["distreal"] = {"front": str(front)} if front is not None else {}
        raw["distreal"]["dse"] = {
            "population": 8,
            "generations": 2,
            "batches": 5,
            "seeds": 1,
            "warmup_batches": 20,
            "validation_samples": 200,
        }
    return parse_config(raw)


def front_for(seed: int, rounds: int, quick: bool) -> Path:
    """DISTREAL's front for ``seed``, explored once with the benchmark's DSE settings (the
    defaults, or tiny ones with ``--quick``) and shared by both partitions: the DSE trains
    centrally on the whole training set, so the partition does not enter it."""
    base = RESULTS / ("quick" if quick else "full")
    path = base / f"front-seed{seed}.json"
    if not path.is_file():
        began = time.perf_counter()
        setup = build_setup(config("iid", seed, rounds, quick))
        front = explore(setup, cache_path=base / f"front-seed{seed}.cache.json")
        front.save(path)
        print(f"DSE seed {seed}: {time.perf_counter() - began:.0f} s wall", flush=True)
    return path


def run_all(partitions: list[str], seeds: int, rounds: int, quick: bool) -> dict[str, Any]:
    """Run (or reuse) every (partition, seed, method) and return their summaries."""
    results: dict[str, Any] = {}
    base = RESULTS / ("quick" if quick else "full")
    for partition in partitions:
        for seed in range(seeds):
            setup = None
            for method in METHODS:
                directory = base / partition / f"seed{seed}" / method
                summary_path = directory / "summary.json"
                if not summary_path.is_file():
                    if setup is None:
                        front = front_for(seed, rounds, quick)
                        setup = build_setup(config(partition, seed, rounds, quick, front))
                    if directory.exists():
                        for stale in directory.rglob("*"):
                            if stale.is_file():
                                stale.unlink()
                    directory.mkdir(parents=True, exist_ok=True)
                    began = time.perf_counter()
                    run_strategy(setup, method, LocalExecutor, directory, resume=True)
                    print(
                        f"{partition} seed {seed} {method}: "
                        f"{time.perf_counter() - began:.0f} s wall",
                        flush=True,
                    )
                summary = json.loads(summary_path.read_text())[method]
                results.setdefault(partition, {}).setdefault(method, []).append(summary)
    return results


def _stats(values: list[float | None]) -> str:
    reached = [v for v in values if v is not None]
    if not reached:
        return "never"
    text = f"{statistics.fmean(reached):.1f}"
    if len(reached) > 1:
        text += f" [{min(reached):.1f}–{max(reached):.1f}]"
    if len(reached) < len(values):
        text += f" ({len(reached)}/{len(values)} reached)"
    return text


def _mean_time(runs: list[dict[str, Any]], target: str) -> float:
    """Mean time to ``target`` over seeds; inf when any seed never reached it."""
    times = [r["time_to_accuracy_s"].get(target) for r in runs]
    if any(t is None for t in times):
        return math.inf
    return statistics.fmean(float(t) for t in times)


def report(results: dict[str, Any], seeds: int, rounds: int) -> str:
    """The markdown body: one table per partition and the goal verdicts."""
    lines: list[str] = [
        f"MNIST, 100 devices (34 fast at 1 GFLOP/s, 33 medium at 0.5, 33 slow at 0.25), "
        f"10 per round, 1 local epoch, batch 32, SGD lr 0.05 momentum 0.5; availability "
        f"redrawn every 5 s from U[0.2, 1]; deadline from the medium device at full "
        f"availability; {rounds} rounds; seeds 0..{seeds - 1} (mean [min–max]); test accuracy "
        "on 5,000 test images after every round. Times are simulated seconds.",
        "",
    ]
    for partition, methods in results.items():
        title = "Dirichlet α = 0.5" if partition == "dirichlet" else "IID"
        lines += [
            f"### {title}",
            "",
            "| method | time to 95% (s) | time to 97% (s) | final acc. (%) | energy (kJ) |",
            "|---|---:|---:|---:|---:|",
        ]
        for method, runs in methods.items():
            finals = [100 * r["final_accuracy"] for r in runs]
            energy = [r["total_energy_j"] / 1000 for r in runs]
            lines.append(
                f"| {method} | {_stats([r['time_to_accuracy_s'].get('0.95') for r in runs])} | "
                f"{_stats([r['time_to_accuracy_s'].get('0.97') for r in runs])} | "
                f"{_stats(finals)} | {_stats(energy)} |"
            )
        distreal = _mean_time(methods["distreal"], "0.97")
        others = {m: _mean_time(runs, "0.97") for m, runs in methods.items() if m != "distreal"}
        best = min(others, key=lambda m: others[m])
        ratio = distreal / others[best] if math.isfinite(others[best]) else math.nan
        final_gap = statistics.fmean(
            100 * r["final_accuracy"] for r in methods["distreal"]
        ) - statistics.fmean(100 * r["final_accuracy"] for r in methods["fedavg"])
        if math.isinf(distreal):
            verdict = (
                "DISTREAL did not reach 97% in every seed (goal ≤ 0.7× the best other: not met)"
            )
        elif math.isinf(others[best]):
            verdict = (
                f"DISTREAL reached 97% in {distreal:.1f} s on average; no other method reached it "
                "in every seed (goal ≤ 0.7×: met)"
            )
        else:
            verdict = (
                f"DISTREAL's mean time to 97% is **{ratio:.2f}×** that of the best other method "
                f"(`{best}`; goal ≤ 0.7×: {'met' if ratio <= 0.7 else 'not met'})"
            )
        lines += [
            "",
            f"{verdict}. Its final accuracy is **{final_gap:+.2f} points** from `fedavg` (goal "
            f"within 0.5: {'met' if abs(final_gap) <= 0.5 or final_gap > 0 else 'not met'}).",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.convergence")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--partitions", default="dirichlet,iid")
    parser.add_argument("--quick", action="store_true", help="a small smoke version")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument(
        "--fronts-only", action="store_true", help="explore the fronts of every seed, then stop"
    )
    args = parser.parse_args([] if argv is None else argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds, rounds = (1, 3) if args.quick else (args.seeds, args.rounds)
    if args.fronts_only:
        for seed in range(seeds):
            front_for(seed, rounds, args.quick)
        return
    results = run_all(args.partitions.split(","), seeds, rounds, args.quick)
    body = report(results, seeds, rounds)
    if args.quick:
        print(body)
        return
    write_section(
        "convergence",
        "DISTREAL convergence against the baselines",
        body,
        f"python -m benchmarks convergence --seeds {seeds} --rounds {rounds}",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
