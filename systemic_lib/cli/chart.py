"""``systemic chart``: a capability chart of one CSV column for analysts outside notebooks, with its narration and
signals; drawn without touching pyplot's global state."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from systemic_lib.analysis.narrate import narrate
from systemic_lib.analysis.spc import SpcInputError, xmr
from systemic_lib.display.charts.capability import capability_chart, signals_table
from systemic_lib.display.charts.style import DPI, FIGSIZE


def _numeric_column(frame: pd.DataFrame, column: str, csv_path: Path) -> pd.Series:
    if column not in frame.columns:
        raise SpcInputError(
            f"{csv_path.name} has no column {column!r}; its columns are: {', '.join(map(str, frame.columns))}"
        )
    raw = frame[column]
    numeric = pd.to_numeric(raw, errors="coerce")
    text = raw.astype("string").str.strip()
    bad = numeric.isna() & raw.notna() & (text != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SpcInputError(
            f"column {column!r} of {csv_path.name} is not numeric: {raw.iloc[i]!r} on line {i + 2} "
            f"({int(bad.sum())} non-numeric value(s))"
        )
    if numeric.notna().sum() == 0:
        raise SpcInputError(f"column {column!r} of {csv_path.name} has no numbers")
    return numeric


def quick_chart(
    csv_path,
    *,
    value: str,
    date: str | None = None,
    phases=(),
    out=None,
    improvement: str = "neutral",
    target: float | None = None,
    floor: float | None = None,
    unit: str = "",
    phase_labels=None,
) -> dict:
    """Chart one column of a CSV file; returns {"chart", "narration", "signals", ...} for ``systemic chart``.

    ``phases`` are dates when ``date`` is given, else 0-based positions (as in ``spc.xmr``). The chart is
    PNG or SVG by the suffix of ``out`` (default ``<csv stem>_<value>.png`` beside the CSV).
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise SpcInputError(f"no such file: {csv_path}")
    try:
        frame = pd.read_csv(csv_path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SpcInputError(f"{csv_path.name} could not be read as CSV: {exc}") from None
    values = _numeric_column(frame, value, csv_path)
    dates = None
    if date is not None:
        if date not in frame.columns:
            raise SpcInputError(
                f"{csv_path.name} has no column {date!r}; its columns are: {', '.join(map(str, frame.columns))}"
            )
        dates = pd.to_datetime(frame[date], errors="coerce", format="mixed", dayfirst=False)
        bad = dates.isna() & frame[date].notna()
        if bad.any() or dates.isna().any():
            i = int(np.flatnonzero(dates.isna().to_numpy())[0])
            raise SpcInputError(
                f"column {date!r} of {csv_path.name}: {frame[date].iloc[i]!r} on line {i + 2} "
                "is not a date (use YYYY-MM-DD)"
            )
    phase_starts = list(phases or ())
    if dates is None:
        try:
            phase_starts = [int(p) for p in phase_starts]
        except (TypeError, ValueError):
            raise SpcInputError("without --date, phase starts are point positions (0-based whole numbers)") from None
    result = xmr(values, dates=dates, phase_starts=phase_starts, improvement=improvement, target=target, floor=floor)

    out = Path(out) if out is not None else csv_path.with_name(f"{csv_path.stem}_{value}.png")
    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise SpcInputError(f"the chart file must end in .png or .svg, not {out.name!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")  # Agg canvas; pyplot untouched
        ax = fig.add_subplot()
    capability_chart(result, ax=ax, title=value, unit=unit or None, phase_labels=phase_labels)
    fig.savefig(out, format=suffix[1:])
    narration = narrate(result, measure=value, unit=unit, phase_labels=phase_labels, decimals=_decimals(values))
    summary = {
        "chart": str(out),
        "narration": narration,
        "signals": signals_table(result),
        "variation": result.variation,
        "assurance": result.assurance,
        "phases": [_json_phase(p) for p in result.phases],
    }
    json.dumps(summary)  # fail here, not in the caller, if anything is not JSON-able
    return summary


def _decimals(values: pd.Series) -> int:
    """Decimals for narration: 0 for whole numbers or large values, else 1 or 2."""
    v = values.dropna().to_numpy(dtype=float)
    if len(v) == 0 or np.allclose(v, np.round(v)) or np.nanmedian(np.abs(v)) >= 100:
        return 0
    return 1 if np.nanmedian(np.abs(v)) >= 10 else 2


def _json_phase(p: dict) -> dict:
    start = p["start"]
    return {
        "phase": p["phase"],
        "start": pd.Timestamp(start).strftime("%Y-%m-%d") if not isinstance(start, (int, np.integer)) else int(start),
        "n": p["n"],
        "mean": p["mean"],
        "lower": p["lower"],
        "upper": p["upper"],
        "trial": p["trial"],
        "change_vs_previous_phase": (p.get("change") or {}).get("signal"),
    }


@click.command("chart")
@click.argument("csv_file", type=click.Path(dir_okay=False))
@click.option("--value", required=True, help="Column holding the numbers to chart.")
@click.option("--date", "date_column", default=None, help="Column holding the date of each value.")
@click.option(
    "--phase",
    "phases",
    multiple=True,
    help="A known system change: a date with --date, else a 0-based position. Repeatable.",
)
@click.option("--label", "labels", multiple=True, help="Name of each --phase change, in the same order.")
@click.option("--out", default=None, help="Chart file, .png or .svg (default <csv stem>_<value>.png).")
@click.option(
    "--improvement",
    type=click.Choice(["increase", "decrease", "neutral"]),
    default="neutral",
    show_default=True,
    help="Which way is better for this measure.",
)
@click.option("--target", type=float, default=None, help="Target, for the assurance icon.")
@click.option("--floor", type=float, default=None, help="Natural floor for the lower limit (0 for times, counts).")
@click.option("--unit", default="", help="Unit for the narration and axis (days, %, contacts).")
@click.option("--json", "as_json", is_flag=True, help="Print only one JSON object (chart, narration, signals).")
def chart_command(csv_file, value, date_column, phases, labels, out, improvement, target, floor, unit, as_json):
    """Draw a capability chart of one CSV column; print the narration and the signals as JSON."""
    from systemic_lib.errors import SystemicError

    try:
        summary = quick_chart(
            csv_file,
            value=value,
            date=date_column,
            phases=phases,
            out=out,
            improvement=improvement,
            target=target,
            floor=floor,
            unit=unit,
            phase_labels=list(labels) or None,
        )
    except (SystemicError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"Chart written to {summary['chart']}\n")
    click.echo(summary["narration"] + "\n")
    click.echo(
        json.dumps(
            {
                "signals": summary["signals"],
                "phases": summary["phases"],
                "variation": summary["variation"],
                "assurance": summary["assurance"],
            },
            indent=2,
        )
    )
