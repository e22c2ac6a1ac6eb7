"""The trends job: where violence has been rising or falling, unit by unit, over the whole
history (``trends.csv``, ``trends.parquet``, ``trends.html``, ``trends.png``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ..render import trends_content
from ..stats.trends import TrendOptions, TrendResult, detect_trends
from ..units.neighbours import Neighbours
from .options import StageOptions, takes_stage_options
from .skeleton import Job, PreparedCube, adjacency_in_cube_order

TRENDS_CSV = "trends.csv"
TRENDS_PARQUET = "trends.parquet"
TRENDS_MAP = "trends.html"
TRENDS_PNG = "trends.png"
#: The files the trends job writes besides the shared ones (its map is ``TRENDS_MAP``).
TRENDS_FILES = (TRENDS_CSV, TRENDS_PARQUET, TRENDS_PNG)


@dataclass
class TrendsRun:
    """What :func:`run_trends` computed."""

    prepared: PreparedCube
    neighbours: Neighbours
    result: TrendResult


def trends_of(
    job: Job, prepared: PreparedCube, *, options: TrendOptions
) -> tuple[Neighbours, TrendResult]:
    """The job's neighbours and the trends of its cube (rates with a population); the
    analysis's notes join the job's."""
    cube = prepared.cube
    neighbours = job.neighbours(prepared.layer.units)
    result = detect_trends(
        cube.counts,
        adjacency_in_cube_order(cube, neighbours),
        step_starts=cube.step_starts,
        unit_ids=cube.unit_ids,
        population=None
        if cube.population is None
        else pd.Series(cube.population, index=cube.unit_ids),
        **asdict(options),
    )
    job.note(*result.notes)
    return neighbours, result


def write_trends(
    job: Job,
    prepared: PreparedCube,
    result: TrendResult,
    *,
    title: str,
    source: str,
    png: bool = True,
) -> None:
    """Write ``trends.csv``, ``trends.parquet`` (GeoParquet), ``trends.html`` and, with ``png``,
    ``trends.png``."""
    cube, units = prepared.cube, prepared.layer.units
    table = result.units.copy()
    job.unit_table(
        table,
        units,
        csv=TRENDS_CSV,
        parquet=TRENDS_PARQUET,
        metadata=job.metadata(neighbours=job.stages.neighbours, trends=result.options),
    )
    per = "per 100,000 residents per year" if cube.population is not None else "per year"
    content = trends_content(
        table.reindex(units.index),
        counts=cube.counts,
        trend_line=result.trend_line,
        dates=[f"{start:%Y-%m-%d}" for start in cube.step_starts],
        step_name=cube.step,
        rate_label=per,
        title=title,
        subtitle=prepared.period_text(),
        source=source,
    )
    job.map(TRENDS_MAP, units, content, png=png or None)


@takes_stage_options
def run_trends(
    incidents_path: str | Path,
    out_dir: str | Path,
    *,
    trend_options: TrendOptions | None = None,
    png: bool = True,
    stages: StageOptions,
) -> TrendsRun:
    """The ``trends`` job: each unit's change over the whole period, since when, and against
    the city (see :func:`geo_violence.stats.trends.detect_trends`).

    The command's steps are months by default; from Python pass
    ``cube_options=CubeOptions(step="month")`` (weeks work too, with more noise per step).

    Parameters
    ----------
    incidents_path, out_dir : str or Path
        The incident file, and the folder of the outputs.
    trend_options : TrendOptions, optional
        Level, correction, interval and seed of the analysis.
    png : bool
        Write ``trends.png`` (the command always does; the weekly job only with ``png`` in
        its ``[maps]``).
    stages : StageOptions
        The stage options every job takes, as keywords (see :mod:`geo_violence.jobs.options`).

    Returns
    -------
    TrendsRun
        The prepared cube, the neighbours, and the analysis (its ``units`` table).

    Examples
    --------
    >>> from geo_violence.jobs import CubeOptions
    >>> from geo_violence.jobs.demo_data import write_demo_incidents
    >>> path = write_demo_incidents(seed=1)
    >>> run = run_trends(path, path.parent / "trends", cube_options=CubeOptions(step="month"))
    >>> run.result.units.loc[["32", "25"], "direction"].tolist()
    ['rising', 'falling']
    """
    options = trend_options or TrendOptions()
    files = TRENDS_FILES if png else tuple(name for name in TRENDS_FILES if name != TRENDS_PNG)
    job = Job("trends", out_dir, stages, files=files, maps=[TRENDS_MAP])
    prepared = job.prepare(incidents_path)
    neighbours, result = trends_of(job, prepared, options=options)
    write_trends(
        job,
        prepared,
        result,
        title=f"Where violence is rising and falling ({prepared.layer.title})",
        source=prepared.source_text(),
        png=png,
    )
    units = result.units
    job.finish(
        seed=options.seed,
        trends=asdict(options),
        city=result.city.to_dict(),
        directions=units["direction"].value_counts().sort_index().to_dict(),
        labels=units["label"].value_counts().sort_index().to_dict(),
    )
    return TrendsRun(prepared, neighbours, result)
