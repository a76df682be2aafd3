"""The markdown report of a run directory (``leantrain report DIR``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from leantrain.fl.run_dir import RunResult, load_run_dir
from leantrain.io import atomic_write_text
from leantrain.report.figures import ACCURACY_PNG, COST_PNG, ENERGY_PNG, write_figures

__all__ = ["REPORT_MD", "collect_targets", "summary_table", "write_report"]

REPORT_MD = "report.md"

NEVER = "—"
"""Shown for a target a strategy never reached, or a figure that is not defined."""


def collect_targets(runs: Iterable[RunResult]) -> list[float]:
    """The accuracy targets the runs' summaries report, ascending, without duplicates.

    Args:
        runs: The strategies' runs.

    Returns:
        The targets (fractions) found in the keys of ``time_to_accuracy_s``.
    """
    return sorted({float(key) for run in runs for key in run.summary.time_to_accuracy_s})


def _format_accuracy(value: float | None) -> str:
    return NEVER if value is None else f"{100.0 * value:.2f}"


def _format_seconds(value: float | None) -> str:
    return NEVER if value is None else f"{value:.1f}"


def _format_energy(joules: float) -> str:
    """Energy with a unit scaled to its magnitude (J, kJ or MJ)."""
    size = abs(joules)
    if size >= 1e6:
        return f"{joules / 1e6:.2f} MJ"
    if size >= 1e3:
        return f"{joules / 1e3:.2f} kJ"
    return f"{joules:.1f} J"


def _target_label(target: float) -> str:
    return f"Time to {100.0 * target:g}% (s)"


def _time_to_target(run: RunResult, target: float) -> float | None:
    """When ``run`` first reached ``target``: from its summary, else from its rounds."""
    for key, value in run.summary.time_to_accuracy_s.items():
        if float(key) == target:
            return value
    return next(
        (r.sim_time_s for r in run.records if r.accuracy is not None and r.accuracy >= target),
        None,
    )


def summary_table(
    runs: Sequence[RunResult], targets: Sequence[float]
) -> tuple[list[str], list[list[str]]]:
    """The headline figures of each strategy, as strings ready for a table.

    A target missing from a strategy's summary is looked up in its rounds instead.

    Args:
        runs: The strategies' runs.
        targets: Accuracy targets (fractions) to report the time-to-reach of.

    Returns:
        The header and one row per strategy: strategy, final and best accuracy (%), simulated
        time to each target (s, ``—`` if never reached), total energy, simulated time (s) and
        host wall time (s).
    """
    header = [
        "Strategy",
        "Final acc (%)",
        "Best acc (%)",
        *(_target_label(t) for t in targets),
        "Energy",
        "Sim time (s)",
        "Wall time (s)",
    ]
    rows = [
        [
            run.strategy,
            _format_accuracy(run.summary.final_accuracy),
            _format_accuracy(run.summary.best_accuracy),
            *(_format_seconds(_time_to_target(run, t)) for t in targets),
            _format_energy(run.summary.total_energy_j),
            _format_seconds(run.summary.sim_time_s),
            _format_seconds(run.summary.wall_time_s),
        ]
        for run in runs
    ]
    return header, rows


def _cell(text: str) -> str:
    """Escape a table cell's text for markdown."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1
) -> list[str]:
    """A GitHub-flavoured markdown table.

    The first ``text_columns`` columns are left-aligned, the (numeric) others right-aligned.
    """
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |"]
    aligns = [":---"] * text_columns + ["---:"] * (len(header) - text_columns)
    lines.append("|" + "|".join(aligns) + "|")
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def _drop_reasons(run: RunResult) -> Counter[str]:
    """How often each drop reason occurred in ``run``."""
    tally: Counter[str] = Counter()
    for record in run.records:
        for device in record.dropped:
            tally[record.reasons.get(device, "unspecified")] += 1
    return tally


def _rounds_section(runs: Sequence[RunResult]) -> list[str]:
    header = ["Strategy", "Rounds", "Evaluated", "Participants", "Dropped", "Drop rate (%)"]
    rows: list[list[str]] = []
    for run in runs:
        participants = sum(len(r.participants) for r in run.records)
        dropped = sum(len(r.dropped) for r in run.records)
        selected = participants + dropped
        rate = f"{100.0 * dropped / selected:.1f}" if selected else NEVER
        evaluated = sum(1 for r in run.records if r.accuracy is not None)
        row = [run.strategy, str(len(run.records)), str(evaluated), str(participants)]
        rows.append([*row, str(dropped), rate])
    return ["## Rounds", "", *_markdown_table(header, rows), ""]


def _reasons_section(runs: Sequence[RunResult]) -> list[str]:
    lines = ["## Drop reasons", ""]
    rows: list[list[str]] = []
    for run in runs:
        tally = _drop_reasons(run)
        ordered = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
        rows.extend([run.strategy, reason, str(count)] for reason, count in ordered)
    if rows:
        lines.extend(_markdown_table(["Strategy", "Reason", "Count"], rows, text_columns=2))
    else:
        lines.append("No device was dropped.")
    lines.append("")
    return lines


_CAPTIONS = {
    ACCURACY_PNG: "Test accuracy vs simulated time",
    ENERGY_PNG: "Energy vs simulated time and accuracy",
    COST_PNG: "Sub-model cost ratio chosen by the devices vs simulated time",
}


def _render(directory: Path, runs: Sequence[RunResult], figures: Sequence[Path]) -> str:
    targets = collect_targets(runs)
    header, rows = summary_table(runs, targets)
    strategies = ", ".join(f"`{run.strategy}`" for run in runs)
    lines = [
        f"# leantrain report: {directory.resolve().name}",
        "",
        f"Strategies: {strategies}.",
        "",
        "## Summary",
        "",
        *_markdown_table(header, rows),
        "",
        "Times are simulated seconds from the start of the run; wall time is the host's.",
        "",
        "## Figures",
        "",
    ]
    for figure in figures:
        caption = _CAPTIONS.get(figure.name, figure.stem)
        link = figure.relative_to(directory).as_posix()
        lines.extend([f"![{caption}]({link})", ""])
    lines.extend(_rounds_section(runs))
    lines.extend(_reasons_section(runs))
    return "\n".join(lines)


def write_report(directory: Path) -> Path:
    """Load a run directory, (re)write its figures and write ``report.md`` beside them.

    The accuracy targets are the keys of ``time_to_accuracy_s`` in the summaries.

    Args:
        directory: A single-run or comparison directory.

    Returns:
        The path of ``report.md``.

    Raises:
        InputError: ``directory`` is not a readable run directory.
    """
    directory = Path(directory)
    runs = load_run_dir(directory)
    figures = write_figures(directory, runs, collect_targets(runs))
    return atomic_write_text(directory / REPORT_MD, _render(directory, runs, figures))
