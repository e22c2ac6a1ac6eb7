"""The emerging hot spots job: space-time Gi*, trend and categories over the steps."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..cube.counts import Cube
from ..errors import DataError
from ..progress import timed
from ..render import MapSeries, emerging_content
from ..stats.emerging import EmergingOptions, EmergingResult, emerging_hotspots
from ..units.neighbours import Neighbours
from .limits import check_permutations
from .options import StageOptions, takes_stage_options
from .skeleton import Job, PreparedCube

EMERGING_CSV = "emerging.csv"
EMERGING_BINS = "emerging_bins.parquet"
EMERGING_MAP = "emerging.html"
#: The files the emerging job writes besides the shared ones (its map is ``EMERGING_MAP``).
EMERGING_FILES = (EMERGING_CSV, EMERGING_BINS)


@dataclass
class EmergingRun:
    """What :func:`run_emerging` computed."""

    prepared: PreparedCube
    neighbours: Neighbours
    result: EmergingResult
    table: pd.DataFrame
    bins: pd.DataFrame


def emerging_of(
    job: Job, units, cube: Cube, *, options: EmergingOptions
) -> tuple[Neighbours, EmergingResult, pd.DataFrame, pd.DataFrame]:
    """The job's neighbours, the emerging analysis, and its two tables (per unit, per bin).

    With a population the analysis runs on rates per 100,000. Units that the neighbours leave
    out (dropped islands) stay in the tables as "no pattern" with no statistic. The analysis's
    notes join the job's.
    """
    neighbours = job.neighbours(units)
    values = cube.counts.astype(float) if cube.population is None else cube.rates()
    if cube.population is not None and not np.isfinite(values).all():
        missing = cube.unit_ids[~np.isfinite(values).all(axis=1)]
        raise DataError(
            f"rates are undefined for units {', '.join(map(str, missing[:10]))} (population zero "
            "or missing): fix the population file, or leave --population out"
        )
    rows = cube.unit_ids.get_indexer(neighbours.unit_ids)
    n_units, n_steps = len(rows), cube.n_steps
    window = n_steps if options.window == "cube" else min(n_steps, options.time_window + 1)
    check_permutations(
        "--permutations",
        options.permutations,
        items=n_units * (n_steps if options.window == "cube" else 1),
        pool=n_units * window,
    )
    with timed(
        f"emerging: space-time Gi*, p-values, trends, categories of {values[rows].size:,} bins"
    ):
        result = emerging_hotspots(
            values[rows], neighbours.matrix, neighbours.unit_ids, options=options
        )
    result = _expand_to_units(result, rows, cube)
    job.note(*result.notes)
    if result.resolution_note:
        job.note(result.resolution_note, warn=True)
    starts = cube.step_starts
    table = result.units.copy()
    table["total"] = cube.counts.sum(axis=1)
    table["last_count"] = cube.counts[:, -1]
    for column in ("first_hot", "last_hot"):
        step = table[column].to_numpy()
        table[column] = pd.Series(starts.take(np.maximum(step, 0)), index=table.index).where(
            step >= 0
        )
    table.insert(0, "name", cube.names)
    n_units, n_steps = cube.counts.shape
    bins = pd.DataFrame(
        {
            "unit_id": np.repeat(cube.unit_ids.to_numpy(dtype=object), n_steps),
            "step_start": starts.take(np.tile(np.arange(n_steps), n_units)),
            "count": cube.counts.reshape(-1),
            "z": result.z.reshape(-1),
            "p": result.p.reshape(-1),
            "q": result.q.reshape(-1),
            "bin": result.bins.reshape(-1),
        }
    )
    return neighbours, result, table, bins


def _expand_to_units(result: EmergingResult, rows: np.ndarray, cube: Cube) -> EmergingResult:
    """Put a result computed on some units back on every unit of the cube."""
    if len(rows) == cube.n_units and (rows == np.arange(cube.n_units)).all():
        return result
    shape = cube.counts.shape

    def spread(values: np.ndarray, fill) -> np.ndarray:
        full = np.full(shape, fill, dtype=values.dtype)
        full[rows] = values
        return full

    units = result.units.reindex(cube.unit_ids)
    units["category_code"] = units["category_code"].fillna(0).astype(np.int64)
    units["category"] = units["category"].fillna("no pattern")
    for column in ("n_hot", "n_cold", "last_hot_run", "last_cold_run"):
        if column in units:
            units[column] = units[column].fillna(0).astype(np.int64)
    for column in ("recent_hot_share", "recent_cold_share"):
        if column in units:
            units[column] = units[column].fillna(0.0)
    for column in ("first_hot", "last_hot"):
        units[column] = units[column].fillna(-1).astype(np.int64)
    return EmergingResult(
        units=units,
        z=spread(result.z, np.nan),
        p=spread(result.p, np.nan),
        q=spread(result.q, np.nan),
        bins=spread(result.bins, 0),
        hot=spread(result.hot, False),
        cold=spread(result.cold, False),
        notes=result.notes,
        p_values=result.p_values,
        trend_correction=result.trend_correction,
        resolution_note=result.resolution_note,
        recent_steps=result.recent_steps,
    )


def write_emerging(
    job: Job,
    units,
    table: pd.DataFrame,
    bins: pd.DataFrame,
    *,
    cube: Cube,
    result: EmergingResult,
    title: str,
    subtitle: str,
    source: str,
    options: EmergingOptions,
) -> None:
    """Write ``emerging.csv``, ``emerging_bins.parquet`` and ``emerging.html`` (with the week
    slider over the bins and each unit's counts in its popup)."""
    job.table(EMERGING_CSV, table.reset_index())
    job.parquet(
        EMERGING_BINS, bins, job.metadata(neighbours=job.stages.neighbours, emerging=options)
    )
    series = MapSeries(
        dates=[f"{start:%Y-%m-%d}" for start in cube.step_starts],
        counts=cube.counts,
        bins=np.where(np.isnan(result.z), np.nan, result.bins),
        step_name=cube.step,
    )
    content = emerging_content(
        table,
        title=title,
        series=series,
        subtitle=subtitle,
        source=source,
        recent_steps=result.recent_steps,
    )
    job.map(EMERGING_MAP, units, content)


@takes_stage_options
def run_emerging(
    incidents_path: str | Path,
    out_dir: str | Path,
    *,
    emerging_options: EmergingOptions | None = None,
    stages: StageOptions,
) -> EmergingRun:
    """The ``emerging`` job: emerging and fading hot spots over the cube's steps.

    Writes ``emerging.csv`` (one row per unit), ``emerging_bins.parquet`` (one row per unit and
    step), ``emerging.html``, ``rejects.csv``, ``unassigned.csv`` and ``manifest.json``.

    Parameters
    ----------
    incidents_path, out_dir : str or Path
        The incident file, and the folder of the outputs.
    emerging_options : EmergingOptions, optional
        The analysis's options.
    stages : StageOptions
        The stage options every job takes, as keywords (see :mod:`geo_violence.jobs.options`).

    Returns
    -------
    EmergingRun
        The prepared cube, the neighbours, the analysis, and its tables per unit and bin.

    Examples
    --------
    >>> from geo_violence.jobs.demo_data import write_demo_incidents
    >>> path = write_demo_incidents(seed=1)
    >>> run = run_emerging(path, path.parent / "out")
    >>> run.table.loc["32", "category"] in ("new hot spot", "consecutive hot spot")
    True
    """
    options = emerging_options or EmergingOptions()
    job = Job("emerging", out_dir, stages, files=EMERGING_FILES, maps=[EMERGING_MAP])
    prepared = job.prepare(incidents_path)
    neighbours, result, table, bins = emerging_of(
        job, prepared.layer.units, prepared.cube, options=options
    )
    write_emerging(
        job,
        prepared.layer.units,
        table,
        bins,
        cube=prepared.cube,
        result=result,
        title=f"Emerging and fading hot spots ({prepared.layer.title})",
        subtitle=prepared.period_text(),
        source=prepared.source_text(),
        options=options,
    )
    job.finish(seed=options.seed, emerging=asdict(options))
    return EmergingRun(prepared, neighbours, result, table, bins)
