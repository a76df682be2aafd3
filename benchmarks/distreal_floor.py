"""DISTREAL's kept-filter floor (``[distreal.dse] min_keep``), measured in the grid's regime.

The default floor is a measured choice (docs/distreal.md, 'Design-space exploration'). This
benchmark measures it where DISTREAL is meant to win: the scenario grid's headline regime
(benchmarks/distreal_grid.py: MNIST, Dirichlet α = 0.1, Markov availability, 60 rounds) on
**seed 3**, a seed the grid does not use, so the floor is not chosen on the runs it is then
judged by. Floors 0.25, 0.5 and 0.75 for ``distreal`` and ``distreal-ordered``; each floor gets its
own front from the library's DSE defaults otherwise (Q(d) does not depend on the floor, so one
evaluation cache per mask kind serves all three).

The two mask kinds run as two single-thread processes at once, each through its floors in turn
(so a cache is never written by two processes); a finished run (``summary.json``) is skipped and an
unfinished one resumes from its checkpoint. ``--report-only`` rewrites the section from the
finished runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import distreal_grid as grid
from benchmarks._doc import write_section

FLOORS = (0.25, 0.5, 0.75)
SEED = 3
METHODS = ("distreal", "distreal-ordered")
RESULTS = grid.RESULTS / "full" / "floor"


def _job(method: str) -> grid.Job:
    return grid.Job(
        "run", "floor", *grid.HEADLINE, SEED, method, "mnist-cnn", grid.TIME_ROUNDS, False
    )


def run_directory(method: str, floor: float) -> Path:
    return RESULTS / f"{method}-floor{floor:g}"


def front_file(method: str, floor: float) -> Path:
    return RESULTS / "fronts" / f"front-{grid.FRONT_METHODS[method]}-floor{floor:g}.json"


def run_one(method: str, floor: float) -> None:
    """Explore the front at ``floor`` (if needed), then run 60 rounds; one torch thread."""
    import torch

    from leantrain.distreal import explore
    from leantrain.fl import build_setup
    from leantrain.fl.run import run_strategy

    torch.set_num_threads(1)
    # The grid's config without a front (config_for names the grid's own front for DISTREAL).
    config = grid.config_for(_job("uniform"))
    dse = config.distreal.dse.model_copy(update={"min_keep": floor})
    front = front_file(method, floor)
    key = "front" if method == "distreal" else "ordered_front"
    config = config.model_copy(
        update={"distreal": config.distreal.model_copy(update={"dse": dse, key: front})}
    )
    setup = build_setup(config)
    if not front.is_file():
        front.parent.mkdir(parents=True, exist_ok=True)
        cache = front.parent / f"cache-{grid.FRONT_METHODS[method]}.json"
        explored = explore(setup, cache_path=cache, ordered=method != "distreal", workers=1)
        explored.save(front)
    directory = run_directory(method, floor)
    directory.mkdir(parents=True, exist_ok=True)
    run_strategy(
        setup,
        method,
        lambda s: grid._CountingExecutor(s, directory),
        directory,
        resume=True,
    )


def launch(methods: Sequence[str]) -> list[str]:
    """Run the unfinished (method, floor) runs: one process per mask kind at a time."""
    failed: list[str] = []

    def chain(method: str) -> None:
        for floor in FLOORS:
            directory = run_directory(method, floor)
            if (directory / "summary.json").is_file():
                continue
            directory.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            with (directory / "log.txt").open("a", encoding="utf-8") as log:
                result = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.distreal_floor",
                        "--one",
                        method,
                        str(floor),
                    ],
                    cwd=grid.ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            label = f"{method} floor {floor:g}"
            print(f"{label}: {'done' if result.returncode == 0 else 'FAILED'}", flush=True)
            if result.returncode != 0:
                failed.append(label)

    with ThreadPoolExecutor(len(methods)) as pool:
        list(pool.map(chain, methods))
    return failed


def _load(method: str, floor: float) -> dict[str, Any] | None:
    directory = run_directory(method, floor)
    if not (directory / "summary.json").is_file():
        return None
    summary = json.loads((directory / "summary.json").read_text())[method]
    rounds = [
        json.loads(line)
        for line in (directory / "rounds.jsonl").read_text().splitlines()
        if line.strip()
    ]
    batches: dict[int, Any] = {}
    for line in (directory / "batches.jsonl").read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            batches[entry["round"]] = entry["devices"]
    front = json.loads(front_file(method, floor).read_text())
    return {
        "seed": SEED,
        "summary": summary,
        "rounds": rounds,
        "batches": batches,
        "front_points": len(front["points"]),
    }


def report() -> str:
    lines = [
        "The grid's headline regime (Dirichlet α = 0.1 × Markov, 60 rounds, settings as in "
        "'DISTREAL in the regime it targets') on seed 3, which the grid does not use; one front "
        "per floor from the library's DSE defaults otherwise. Times are simulated seconds.",
        "",
        "| method | floor | front points | time to 95% (s) | time to 97% (s) | final acc. (%) | "
        "R fast / medium / slow | mini-batches completed |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for method in METHODS:
        for floor in FLOORS:
            run = _load(method, floor)
            if run is None:
                lines.append(f"| {method} | {floor:g} | not run yet |  |  |  |  |  |")
                continue
            times = run["summary"]["time_to_accuracy_s"]
            final = 100 * (run["summary"]["final_accuracy"] or 0.0)
            lines.append(
                f"| {method} | {floor:g} | {run['front_points']} | "
                f"{grid._stats([times.get('0.95')])} | {grid._stats([times.get('0.97')])} | "
                f"{final:.2f} | {grid._class_costs([run])} | {grid._completed([run])} |"
            )
    if any(_load(m, f) is None for m in METHODS for f in FLOORS):
        lines += ["", "*Some runs have not finished yet.*"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.distreal_floor", description=__doc__
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite the report only")
    parser.add_argument("--methods", default=",".join(METHODS), help="distreal, distreal-ordered")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # one run, in a child process
    args = parser.parse_args([] if argv is None else list(argv))
    if args.one:
        run_one(args.one[0], float(args.one[1]))
        return
    methods = [m for m in args.methods.split(",") if m]
    if set(methods) - set(METHODS):
        raise SystemExit(f"unknown methods {sorted(set(methods) - set(METHODS))}")
    failed = [] if args.report_only else launch(methods)
    write_section(
        "distreal-floor",
        "DISTREAL's kept-filter floor",
        report(),
        "python -m benchmarks.distreal_floor",
    )
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main(sys.argv[1:])
