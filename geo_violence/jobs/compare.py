"""The compare job: two periods side by side, unit by unit (``shift.csv``, maps, PNG)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..columns import OCCURRED_AT
from ..cube.counts import as_day, local_days
from ..cube.periods import Period, check_periods, parse_period
from ..errors import OptionError
from ..render import shift_content, shift_png
from ..sources.aggregates import read_unit_counts
from ..sources.population import align_population, read_population
from ..stats.shift import ShiftOptions, compare_periods
from ..units.layers import UnitLayer
from ..units.neighbours import Neighbours
from .limits import check_permutations
from .options import CubeOptions, StageOptions, takes_stage_options
from .skeleton import Job, PreparedCube, layer_for

SHIFT_CSV = "shift.csv"
SHIFT_PARQUET = "shift.parquet"
SHIFT_MAP = "shift.html"
SHIFT_PNG = "shift.png"
#: The files the compare job writes besides the shared ones (its map is ``SHIFT_MAP``).
SHIFT_FILES = (SHIFT_CSV, SHIFT_PARQUET, SHIFT_PNG)


@dataclass(frozen=True)
class CountsSource:
    """Counts already aggregated per unit: the file and its two period columns."""

    path: str
    before_col: str
    after_col: str
    id_col: str | None = None


@dataclass
class CompareRun:
    """What :func:`run_compare` computed: the table, the units and what the rates are per."""

    table: pd.DataFrame
    layer: UnitLayer
    neighbours: Neighbours
    rate_label: str
    prepared: PreparedCube | None = None
    notes: list[str] = field(default_factory=list)


def rate_label(with_population: bool, with_dates: bool) -> str:
    """What the rates are per, in words.

    Examples
    --------
    >>> rate_label(True, True), rate_label(False, False)
    ('per 100,000 residents per year', 'per period')
    """
    per_people = "per 100,000 residents " if with_population else ""
    return per_people + ("per year" if with_dates else "per period")


@takes_stage_options
def run_compare(
    incidents_path: str | Path | None,
    out_dir: str | Path,
    *,
    before: str | None = None,
    after: str | None = None,
    counts: CountsSource | None = None,
    shift_options: ShiftOptions | None = None,
    data_until: str | None = None,
    stages: StageOptions,
) -> CompareRun:
    """The ``compare`` job: rates of two periods, the exact rate ratio, shares, labels, clusters.

    Either an incident file with ``before`` and ``after`` periods (``START..END``, days included),
    or ``counts`` already aggregated per unit (the periods are then optional; with them the rates
    are per year). Writes ``shift.csv``, ``shift.parquet`` (GeoParquet), ``shift.html``,
    ``shift.png`` and ``manifest.json`` (and ``rejects.csv``, ``unassigned.csv`` from incidents).

    Parameters
    ----------
    incidents_path : str, Path or None
        The incident file, or None with ``counts``.
    out_dir : str or Path
        The folder of the outputs.
    before, after : str, optional
        The periods, ``START..END``.
    counts : CountsSource, optional
        Counts already aggregated per unit, instead of an incident file.
    shift_options : ShiftOptions, optional
        The statistics' options.
    data_until : str, optional
        The last day the incident file covers, when known (a pull made after it): days after
        the last incident up to it are days with no incident, not days without data. By
        default the last incident's day.
    stages : StageOptions
        The stage options every job takes, as keywords (see :mod:`geo_violence.jobs.options`).

    Returns
    -------
    CompareRun
        The table, the layer, its neighbours and what the rates are per.

    Examples
    --------
    >>> from geo_violence.jobs.demo_data import write_demo_incidents
    >>> path = write_demo_incidents(seed=1)
    >>> run = run_compare(path, path.parent / "out",
    ...     before="2024-01-01..2024-12-29", after="2024-12-30..2025-12-28")
    >>> run.table.loc[["32", "25"], "label"].tolist()
    ['emerging', 'fading']
    """
    options = shift_options or ShiftOptions()
    if (incidents_path is None) == (counts is None):
        raise OptionError("give either an incident file or --counts FILE, not both or neither")
    periods = _periods(before, after, required=incidents_path is not None)
    job = Job(
        "compare",
        out_dir,
        stages,
        files=SHIFT_FILES,
        maps=[SHIFT_MAP],
        row_reports=incidents_path is not None,
    )
    extra: dict[str, object] = {}
    if incidents_path is not None:
        before_period, after_period = periods
        prepared, count_before, count_after = _count_incidents(
            job, incidents_path, before_period, after_period, data_until
        )
        layer = prepared.layer
        population = prepared.cube.population
    else:
        layer = layer_for(stages.units)
        aggregated = read_unit_counts(
            counts.path,
            layer.units.index,
            before_col=counts.before_col,
            after_col=counts.after_col,
            id_col=counts.id_col,
        )
        count_before, count_after = aggregated.before, aggregated.after
        population = _population(job, stages.cube, layer)
        job.note(*layer.notes, *aggregated.notes)
        if periods is None:
            job.note("no --before/--after dates: the periods are taken as equally long")
        extra = {
            "options": {"counts": asdict(counts) | {"id_col_used": aggregated.id_column}},
            "units": {"layer": layer.title, "source": layer.source, "count": len(layer.units)},
            "totals": {
                "before": int(np.sum(aggregated.before)),
                "after": int(np.sum(aggregated.after)),
            },
        }
    neighbours = job.neighbours(layer.units)
    n_units = len(neighbours.unit_ids)
    check_permutations(
        "--lisa-permutations", options.lisa_permutations, items=n_units, pool=n_units
    )
    table = compare_periods(
        count_before,
        count_after,
        neighbours,
        years_before=None if periods is None else periods[0].years,
        years_after=None if periods is None else periods[1].years,
        population=None if population is None else pd.Series(population, index=layer.units.index),
        options=options,
    )
    label = rate_label(population is not None, periods is not None)
    what = (
        f"{periods[0]} against {periods[1]}"
        if periods
        else f"{counts.before_col} against {counts.after_col}"
    )
    period_texts = None if periods is None else [str(p) for p in periods]
    write_shift(
        job,
        layer,
        table,
        title=f"Where violence rose and fell ({layer.title})",
        subtitle=what,
        source=Path(incidents_path if incidents_path is not None else counts.path).name,
        rate_label=label,
        metadata=job.metadata(
            periods=period_texts, rates=label, shift=options, neighbours=stages.neighbours
        ),
    )
    inputs = [] if counts is None else [Path(counts.path)]
    if counts is not None and Path(layer.source).is_file():
        inputs.append(Path(layer.source))
    job.finish(
        inputs=inputs,
        **extra,
        periods={
            "before": None if periods is None else str(periods[0]),
            "after": None if periods is None else str(periods[1]),
            "years": None if periods is None else [periods[0].years, periods[1].years],
        },
        rates=label,
        shift=asdict(options),
        labels=table["label"].value_counts().sort_index().to_dict(),
    )
    return CompareRun(table, layer, neighbours, label, job.prepared, job.notes)


def _population(job: Job, cube_options: CubeOptions, layer: UnitLayer) -> np.ndarray | None:
    """Residents per unit from ``--population`` (aggregated counts: no cube carries them)."""
    if not cube_options.population:
        return None
    population, notes = align_population(
        read_population(
            cube_options.population,
            id_col=cube_options.population_id_col,
            population_col=cube_options.population_col,
        ),
        layer.units.index,
    )
    job.note(*notes)
    return population


def _periods(
    before: str | None, after: str | None, *, required: bool
) -> tuple[Period, Period] | None:
    if before is None and after is None and not required:
        return None
    if before is None or after is None:
        missing = "--before" if before is None else "--after"
        raise OptionError(
            f"{missing} is missing: give both periods as START..END "
            "(for example --before 2015-01-01..2019-12-31 --after 2020-01-01..2023-12-31)"
        )
    periods = parse_period(before, "--before"), parse_period(after, "--after")
    check_periods(*periods)
    return periods


def _count_incidents(
    job: Job,
    incidents_path: str | Path,
    before: Period,
    after: Period,
    data_until: str | None = None,
) -> tuple[PreparedCube, pd.Series, pd.Series]:
    """Count each unit's incidents in each period (a daily cube over both periods)."""
    first, last = min(before.first, after.first), max(before.last, after.last)
    prepared = job.prepare(
        incidents_path, step="day", start=str(first), end=str(last), keep_partial=True
    )
    days = local_days(prepared.read.incidents[OCCURRED_AT])
    if len(days):
        covered = as_day(data_until, "data_until")
        last = days.max() if covered is None else max(days.max(), covered)
        check_periods(before, after, data_first=days.min(), data_last=last)
    cube = prepared.cube
    step_days = cube.step_starts.tz_localize(None).to_numpy(dtype="datetime64[D]")
    counts = {}
    for name, period in (("count_before", before), ("count_after", after)):
        counts[name] = pd.Series(
            cube.counts[:, period.contains(step_days)].sum(axis=1), index=cube.unit_ids, name=name
        )
    return prepared, counts["count_before"], counts["count_after"]


def write_shift(
    job: Job,
    layer: UnitLayer,
    table: pd.DataFrame,
    *,
    title: str,
    rate_label: str,
    metadata: dict,
    subtitle: str = "",
    source: str = "",
) -> None:
    """Write ``shift.csv``, ``shift.parquet`` (GeoParquet), ``shift.html`` and ``shift.png``
    (before | after | change, always), and ``embed.html`` with ``--embed``."""
    units = layer.units
    job.unit_table(table, units, csv=SHIFT_CSV, parquet=SHIFT_PARQUET, metadata=metadata)
    content = shift_content(
        table, title=title, rate_label=rate_label, subtitle=subtitle, source=source
    )
    job.map(SHIFT_MAP, units, content, png=False)  # shift.png is the three panels
    png = shift_png(
        units,
        table,
        title=f"{title}, {subtitle}" if subtitle else title,
        rate_label=rate_label,
        path=job.folder / SHIFT_PNG,
    )
    job.file(SHIFT_PNG, png)
