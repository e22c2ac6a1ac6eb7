"""The report job: the weekly summary of a run folder (``summary.html``, ``summary.md``) and the
units ranked for outreach next week (``deploy.csv``)."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..cube.counts import STEPS
from ..errors import InputFileError
from ..outputs import (
    folder_lock,
    prepare_output_dir,
    read_run_metadata,
    unescape_formulas,
    write_csv,
)
from ..render.summary import Summary, summary_html, summary_markdown
from ..stats.backtest import backtest, forecast_ranking, last_steps
from ..stats.emerging import recent_steps_of
from ..stats.forecast import forecast_counts, history_needed
from ..stats.outreach import RECENT_STEPS, rank_by_expected, watch_list
from ..units.catalogue import catalogue
from .compare import SHIFT_CSV, SHIFT_MAP
from .emerging import EMERGING_BINS, EMERGING_CSV, EMERGING_MAP
from .hotspots import HOTSPOTS_MAP
from .scan import CLUSTERS_CSV, SCAN_MAP
from .skeleton import MANIFEST_FILE, read_manifest
from .trends import TRENDS_CSV, TRENDS_MAP

logger = logging.getLogger(__name__)

SUMMARY_HTML = "summary.html"
SUMMARY_MD = "summary.md"
DEPLOY_CSV = "deploy.csv"
WATCH_CSV = "watch.csv"
#: Probability of the expectations' intervals in deploy.csv.
LEVEL = 0.9
#: Origins of the backtest line in the summary (the last year of weeks).
BACKTEST_ORIGINS = 52
#: The files the report job writes.
REPORT_FILES = (SUMMARY_HTML, SUMMARY_MD, DEPLOY_CSV, WATCH_CSV)
#: Units listed in the summary's outreach table (deploy.csv lists every unit with a score).
TOP_UNITS = 10


@dataclass
class ReportRun:
    """What :func:`run_report` wrote and ranked."""

    summary: Summary
    deploy: pd.DataFrame
    outputs: dict[str, Path]


def run_report(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    top: int = TOP_UNITS,
    overwrite: bool = False,
) -> ReportRun:
    """Write the weekly summary and the outreach ranking of a run folder.

    The folder needs the emerging outputs (``emerging.csv``, ``emerging_bins.parquet``); the hot
    spot and shift maps and tables are added when present.

    Examples
    --------
    >>> import tempfile
    >>> from geo_violence.jobs import run_demo
    >>> folder = tempfile.mkdtemp()
    >>> _ = run_demo(folder, seed=3)
    >>> run = run_report(folder, overwrite=True)
    >>> sorted(run.deploy["unit_id"].head(2))  # the planted emerging areas come first
    ['32', '8']
    """
    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir
    with folder_lock(out_dir, what=f"geo-violence report into {out_dir}"):
        return _report(run_dir, out_dir, top=top, overwrite=overwrite)


def _report(run_dir: Path, out_dir: Path, *, top: int, overwrite: bool) -> ReportRun:
    for name in (EMERGING_CSV, EMERGING_BINS):
        if not (run_dir / name).exists():
            raise InputFileError(
                f"{run_dir} has no {name}: the report needs the emerging outputs (run "
                "geo-violence emerging, or the weekly job, into that folder first)"
            )
    folder = prepare_output_dir(out_dir, REPORT_FILES, overwrite=overwrite)
    emerging, bins = _read_emerging(run_dir)
    counts = bins.pivot(index="unit_id", columns="step_start", values="count").reindex(
        emerging.index
    )
    gi_bins = bins.pivot(index="unit_id", columns="step_start", values="bin").reindex(
        emerging.index
    )
    starts = pd.DatetimeIndex(counts.columns)
    manifest = _read_manifest(run_dir)
    step = _step(run_dir / EMERGING_BINS, manifest, starts)
    history = counts.to_numpy(dtype=float)
    expected, basis = _expectations(history, starts, step)
    fraction = ((manifest.get("emerging") or {}).get("recent_fraction")) or 0.25
    deploy = rank_by_expected(
        emerging,
        history,
        gi_bins.to_numpy()[:, -1],
        *expected,
        level=LEVEL,
        step=step,
        recent_steps=recent_steps_of(history.shape[1], fraction) if history.shape[1] > 1 else None,
    )
    watch = watch_list(deploy, _rising_units(run_dir), top=top)
    summary = Summary(
        title=f"Weekly summary: where violence is concentrating, {starts[-1]:%Y-%m-%d}",
        period=(
            f"{len(starts)} {step}s from {starts[0]:%Y-%m-%d}; the last {step} starts "
            f"{starts[-1]:%Y-%m-%d}"
        ),
        source=_source(manifest),
        headlines=_headlines(counts.to_numpy(dtype=float), gi_bins.to_numpy(), emerging, step),
        notes=[
            f"Where to go next {step}: the units ranked by {basis}. "
            + _backtest_line(run_dir, history, starts, step, top),
            "Hot and cold spots are Getis-Ord Gi* with the false discovery rate controlled over "
            "all units and steps; categories follow ArcGIS Pro's Emerging Hot Spot Analysis.",
        ],
    )
    columns = ["rank", "name", "expected", "category", "recent_incidents", "reason"]
    summary.tables.append(
        (
            f"Where to go next {step}",
            f"The {top} units with the most incidents expected next {step} (every unit in "
            f"{DEPLOY_CSV}).",
            deploy[columns]
            .head(top)
            .rename(
                columns={
                    "expected": f"expected next {step}",
                    "recent_incidents": f"incidents, last {RECENT_STEPS} {step}s",
                }
            ),
        )
    )
    summary.tables.append(
        (
            "Places to watch",
            f"New, consecutive or intensifying hot spots and units whose incidents are rising, "
            f"that the list does not put in its top {top} ({WATCH_CSV}).",
            watch[["rank", "name", "expected", "watch_reason"]],
        )
    )
    summary.tables.append(
        (
            "Emerging hot spot categories",
            "How many units fall in each category.",
            emerging["category"].value_counts().rename_axis("category").reset_index(name="units"),
        )
    )
    shift = _read_shift(run_dir / SHIFT_CSV)
    if shift is not None:
        changed = shift[shift["label"] != "stable"].sort_values("p_value")
        summary.tables.append(
            (
                "Where the rate changed between the two periods",
                "Units whose rate rose or fell more than chance (after the FDR correction).",
                changed[["name", "label", "count_before", "count_after", "rate_ratio", "p_value"]],
            )
        )
    summary.alarms = _alarms(run_dir)
    trends = _trends_table(run_dir)
    if trends is not None:
        summary.tables.append(trends)
    for heading, name in (
        ("Emerging and fading hot spots", EMERGING_MAP),
        ("Hot spots", HOTSPOTS_MAP),
        ("Where the rate rose and fell", SHIFT_MAP),
        ("Rising and fading over the months", TRENDS_MAP),
        ("Early warning: clusters that started lately", SCAN_MAP),
    ):
        if (run_dir / name).exists():
            summary.maps.append((heading, name, (run_dir / name).read_text(encoding="utf-8")))
    outputs = {
        DEPLOY_CSV: write_csv(deploy, folder / DEPLOY_CSV),
        WATCH_CSV: write_csv(watch, folder / WATCH_CSV),
        SUMMARY_HTML: summary_html(summary, folder / SUMMARY_HTML),
        SUMMARY_MD: summary_markdown(summary, folder / SUMMARY_MD),
    }
    return ReportRun(summary, deploy, outputs)


#: The columns the report reads from each emerging output.
EMERGING_COLUMNS = (
    "unit_id",
    "name",
    "category_code",
    "category",
    "last_z",
    "last_p",
    "mk_tau",
    "mk_p",
)
BINS_COLUMNS = ("unit_id", "step_start", "count", "bin")


def _read_emerging(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The emerging table (indexed by unit) and bins, checked: a file that cannot be read, lacks
    a column or has no row is an :class:`InputFileError` naming it."""
    again = "rerun geo-violence emerging (or the weekly job) into that folder"
    path = run_dir / EMERGING_CSV
    try:
        emerging = pd.read_csv(path, dtype={"unit_id": str}, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise InputFileError(f"cannot read {path} ({error}); {again}") from error
    _check_columns(emerging, EMERGING_COLUMNS, path, again)
    emerging = emerging.set_index("unit_id")
    emerging["name"] = unescape_formulas(emerging["name"].astype(str))
    path = run_dir / EMERGING_BINS
    try:
        bins = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as error:
        raise InputFileError(f"cannot read {path} ({error}); {again}") from error
    _check_columns(bins, BINS_COLUMNS, path, again)
    try:
        bins["step_start"] = pd.DatetimeIndex(bins["step_start"])
        bins["unit_id"] = bins["unit_id"].astype(str)
    except (TypeError, ValueError) as error:
        raise InputFileError(f"{path} has no step dates ({error}); {again}") from error
    if not bins["unit_id"].isin(emerging.index).any():
        raise InputFileError(f"{path} and {EMERGING_CSV} name different units; {again}")
    return emerging, bins


def _check_columns(table: pd.DataFrame, wanted: tuple[str, ...], path: Path, again: str) -> None:
    missing = [column for column in wanted if column not in table.columns]
    if missing:
        raise InputFileError(
            f"{path} is not an emerging output: it lacks {', '.join(missing)}; {again}"
        )
    if table.empty:
        raise InputFileError(f"{path} has no row; {again}")


SHIFT_COLUMNS = ("name", "label", "count_before", "count_after", "rate_ratio", "p_value")


def _read_shift(path: Path) -> pd.DataFrame | None:
    """The shift table when the folder has a readable one (it is optional: else a warning)."""
    if not path.exists():
        return None
    try:
        shift = pd.read_csv(path, dtype={"unit_id": str})
    except (OSError, ValueError, UnicodeDecodeError) as error:
        logger.warning("%s is unreadable (%s): the summary leaves the shift out", path, error)
        return None
    missing = [column for column in SHIFT_COLUMNS if column not in shift.columns]
    if missing:
        logger.warning("%s lacks %s: the summary leaves the shift out", path, ", ".join(missing))
        return None
    shift["name"] = unescape_formulas(shift["name"].astype(str))
    return shift


def _step(bins_path: Path, manifest: dict, starts: pd.DatetimeIndex) -> str:
    """The emerging analysis's step: from its bins' own metadata, else its manifest, else the
    spacing of its steps (never another job's: a hot spot run into the folder counts days)."""
    with contextlib.suppress(
        OSError, ValueError, KeyError, TypeError, AttributeError, pa.ArrowException
    ):
        step = read_run_metadata(bins_path)["options"]["cube"]["step"]
        if step in STEPS:
            return step
    step = (manifest.get("steps") or {}).get("step")
    if step in STEPS:
        return step
    if len(starts) > 1:
        days = (starts[1] - starts[0]).days
        return "day" if days == 1 else "week" if days == 7 else "month"
    return "week"


def _read_manifest(run_dir: Path) -> dict:
    """The emerging job's manifest: its section of ``manifest.json`` (where every job that wrote
    into the folder keeps one), or ``manifest-emerging.json`` in a weekly run folder."""
    weekly = read_manifest(run_dir / "manifest-emerging.json")
    if weekly:
        return weekly
    manifest = read_manifest(run_dir / MANIFEST_FILE)
    jobs = manifest.get("jobs")
    if isinstance(jobs, dict) and isinstance(jobs.get("emerging"), dict):
        return jobs["emerging"]
    if manifest.get("command") in ("emerging", "demo"):
        return manifest
    return {}


def _expectations(
    history: np.ndarray, starts: pd.DatetimeIndex, step: str
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], str]:
    """Expected incidents next step per unit with a 90% interval, and how they were made: the
    forecast when the history is long enough, else the mean of the last year's steps."""
    needed = history_needed(1, step=step)
    if history.shape[1] >= needed:
        forecast = forecast_counts(history, step_starts=starts, horizon=1, level=LEVEL)
        return (forecast.mean[:, 0], forecast.low[:, 0], forecast.high[:, 0]), (
            f"incidents expected next {step} by the forecast (a negative-binomial regression on "
            f"each unit's recent and long-run counts and the season, fitted on this history)"
        )
    window = min(history.shape[1], {"week": 52, "month": 12, "day": 365}.get(step, 52))
    mean = history[:, -window:].mean(axis=1)
    from scipy import stats

    low = stats.poisson.ppf((1 - LEVEL) / 2, mean)
    high = stats.poisson.ppf(1 - (1 - LEVEL) / 2, mean)
    return (mean, np.nan_to_num(low), np.nan_to_num(high)), (
        f"the mean of their last {window} {step}s (the forecast needs {needed} {step}s of "
        f"history and this run has {history.shape[1]}; in backtests the mean of the last year "
        f"captures about as much as the forecast)"
    )


def _rising_units(run_dir: Path) -> set[str]:
    """Units the trends analysis calls rising, when the folder has it."""
    if not (run_dir / TRENDS_CSV).exists():
        return set()
    trends = pd.read_csv(run_dir / TRENDS_CSV, dtype={"unit_id": str})
    return set(trends.loc[trends["direction"] == "rising", "unit_id"])


def _backtest_line(
    run_dir: Path, history: np.ndarray, starts: pd.DatetimeIndex, step: str, top: int
) -> str:
    """One line on how the ranking did over the last year of steps, replayed."""
    needed = history_needed(1, step=step) + BACKTEST_ORIGINS
    if history.shape[1] < needed:
        return (
            f"Not replayed here: a backtest of the last {BACKTEST_ORIGINS} {step}s needs "
            f"{needed} {step}s of history and this run has {history.shape[1]} (run "
            f"geo-violence backtest on a longer file)."
        )
    origins = np.arange(history.shape[1] - BACKTEST_ORIGINS, history.shape[1])
    replay = backtest(
        history,
        origins,
        rankings=[forecast_ranking(level=LEVEL), last_steps(52, step)],
        top=(top,),
        step_starts=starts,
        ceiling=False,
        n_boot=200,
    )
    capture = replay.summary[replay.summary["metric"] == f"capture_{top}"].set_index("ranking")
    ours, baseline = capture.loc["forecast"], capture.drop(index="forecast").iloc[0]
    return (
        f"Replayed over the last {BACKTEST_ORIGINS} {step}s, its top {top} held "
        f"{ours['mean']:.1%} of the next {step}'s incidents, against {baseline['mean']:.1%} for "
        f"the {baseline.name} (difference {100 * baseline['diff']:+.1f} points, standard error "
        f"{100 * baseline['diff_se']:.1f})."
    )


def _job_manifest(run_dir: Path, *commands: str) -> dict:
    """The manifest of the first of ``commands`` that wrote into the folder: a weekly run's
    ``manifest-COMMAND.json``, or its section of ``manifest.json`` (which keeps every job's)."""
    merged = read_manifest(run_dir / MANIFEST_FILE)
    for command in commands:
        own = read_manifest(run_dir / f"manifest-{command}.json")
        if own.get("command") == command:
            return own
        if merged.get("command") == command:
            return merged
        section = (merged.get("jobs") or {}).get(command)
        if isinstance(section, dict):
            return section
    return {}


def _alarms(run_dir: Path) -> list[str]:
    """The scan's alarms in words (its manifest keeps them), when the folder has a scan."""
    if not (run_dir / CLUSTERS_CSV).exists():
        return []
    alarms = _job_manifest(run_dir, "scan", "demo").get("alarms")
    if isinstance(alarms, list) and alarms:
        return [str(line) for line in alarms]
    return ["The scan's record of its alarms is missing: see clusters.csv."]


def _trends_table(run_dir: Path) -> tuple[str, str, pd.DataFrame] | None:
    """ "Rising and fading over the last N months", from the trends job's outputs if present."""
    if not (run_dir / TRENDS_CSV).exists():
        return None
    trends = pd.read_csv(
        run_dir / TRENDS_CSV, dtype={"unit_id": str}, keep_default_na=False, na_values=[""]
    )
    trends["name"] = unescape_formulas(trends["name"].astype(str))
    manifest = _job_manifest(run_dir, "trends")
    steps = manifest.get("steps") or {}
    span = f"the last {steps['count']} {steps['step']}s" if steps else "the whole period"
    moving = trends[trends["direction"] != "stable"].sort_values("p_value")
    table = pd.DataFrame(
        {
            "name": moving["name"],
            "story": moving["label"],
            "change a year (95% interval)": [
                f"{_yearly(ratio)} ({_yearly(low)} to {_yearly(high)})"
                for ratio, low, high in zip(
                    moving["rate_ratio_per_year"],
                    moving["rate_ratio_low"],
                    moving["rate_ratio_high"],
                    strict=True,
                )
            ],
            "began": [
                "" if pd.isna(start) else f"{pd.Timestamp(start):%Y-%m}"
                for start in moving["change_start"]
            ],
            "against the city": moving["versus_city"],
        }
    )
    return (
        f"Rising and fading over {span}",
        "Units whose incidents rose or fell over the period (quasi-Poisson trend and change "
        "test, the city's season taken out, false discovery rate controlled across units); "
        "none when the period is too short or the counts too thin to tell.",
        table,
    )


def _yearly(ratio: float) -> str:
    """A rate ratio per year as a reader sees it: a percentage, or a multiple when large.

    Examples
    --------
    >>> _yearly(1.23), _yearly(0.7), _yearly(35.1), _yearly(float("inf"))
    ('+23%', '-30%', 'x35.1', 'no bound')
    """
    if not np.isfinite(ratio):
        return "no bound"
    return f"x{ratio:.3g}" if ratio >= 2 else f"{ratio - 1:+.0%}"


def _source(manifest: dict) -> str:
    """The incident files, and the units in words ("Chicago community areas (libpysal)")."""
    inputs = manifest.get("inputs") or []
    if not inputs:
        return "not recorded"
    names = [Path(item.get("path", "")).name for item in inputs]
    units = ((manifest.get("options") or {}).get("units") or {}).get("units")
    spec = catalogue().get(str(units)) if units else None
    if spec is not None and spec.embedded and len(names) > 1:
        names = [*names[:-1], f"Chicago {spec.title.lower()} (libpysal)"]
    return ", ".join(name for name in names if name)


def _headlines(
    counts: np.ndarray, bins: np.ndarray, emerging: pd.DataFrame, step: str
) -> list[tuple[str, str, str]]:
    totals = counts.sum(axis=0)
    hot = (np.nan_to_num(bins) > 0).sum(axis=0)
    lines = [
        (
            f"incidents in the last {step}",
            f"{totals[-1]:,.0f}",
            _against(totals, 4, step) + "; " + _against(totals, 52, step),
        ),
        (
            f"hot units in the last {step}",
            f"{hot[-1]:,}",
            f"{hot[-2]:,} the {step} before" if len(hot) > 1 else "",
        ),
    ]
    # by code: a category may carry the "(neighbours only)" mark
    new = emerging["category_code"].isin([1, 2]).sum()
    fading = emerging["category_code"].isin([5, 8]).sum()
    lines.append(
        ("new or consecutive hot spots", f"{new:,}", f"{fading:,} diminishing or historical")
    )
    return lines


def _against(totals: np.ndarray, previous: int, step: str) -> str:
    """The last value against the mean of the ``previous`` steps before it.

    Examples
    --------
    >>> _against(np.array([10.0, 10.0, 10.0, 10.0, 15.0]), 4, "week")
    '+50% against the mean of the 4 weeks before (10)'
    """
    before = totals[:-1][-previous:]
    if len(before) < previous or before.mean() == 0:
        return f"fewer than {previous} {step}s before to compare with"
    change = totals[-1] / before.mean() - 1
    return f"{change:+.0%} against the mean of the {previous} {step}s before ({before.mean():,.3g})"
