"""The hot spots job: local Gi* and local Moran's I on one period's counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ..render import hotspot_content
from ..stats.emerging import NEIGHBOURS_ONLY
from ..stats.hotspots import RATES_CAVEAT, HotspotOptions, hotspot_table
from ..stats.significance import resolution_note
from ..units.neighbours import Neighbours
from .limits import check_permutations
from .options import StageOptions, takes_stage_options
from .skeleton import Job, PreparedCube

HOTSPOTS_CSV = "hotspots.csv"
HOTSPOTS_PARQUET = "hotspots.parquet"
HOTSPOTS_MAP = "hotspots.html"
#: The files the hot spots job writes besides the shared ones (its map is ``HOTSPOTS_MAP``).
HOTSPOTS_FILES = (HOTSPOTS_CSV, HOTSPOTS_PARQUET)


@dataclass
class HotspotRun:
    """What :func:`run_hotspots` computed: the prepared cube, the neighbours and the table."""

    prepared: PreparedCube
    neighbours: Neighbours
    table: pd.DataFrame


def resolution_notes(n_units: int, options: HotspotOptions) -> list[str]:
    """Warnings for permutation counts too small for the correction (LISA, and Gi* if any)."""
    notes = []
    levels = (
        ("LISA", options.lisa_permutations, options.alpha),
        ("Gi*", options.permutations, 0.10),  # the weakest Gi* class, 90% confidence
    )
    for label, permutations, level in levels:
        note = resolution_note(n_units, permutations, level, options.fdr)
        if note:
            notes.append(f"{label}: {note}")
    return notes


def hotspots_of(
    job: Job,
    units,
    counts: pd.Series,
    *,
    population: pd.Series | None,
    options: HotspotOptions,
) -> tuple[Neighbours, pd.DataFrame]:
    """The job's neighbours of the units and the hot spot table of one count per unit; the
    resolution warnings join the job's notes."""
    neighbours = job.neighbours(units)
    n_units = len(neighbours.unit_ids)
    check_permutations("--permutations", options.permutations, items=n_units, pool=n_units)
    check_permutations(
        "--lisa-permutations", options.lisa_permutations, items=n_units, pool=n_units
    )
    method_notes: list[str] = []
    table = hotspot_table(
        counts, neighbours, population=population, options=options, notes=method_notes
    )
    for note in method_notes:
        job.note(note, warn=note == RATES_CAVEAT)
    job.note(*resolution_notes(len(neighbours.unit_ids), options), warn=True)
    alone = int(table["gi_category"].str.endswith(NEIGHBOURS_ONLY).sum())
    if alone:
        job.note(
            f"{alone} Gi* hot spot units had no incident of their own in the period: their "
            f"neighbours alone make them hot; their gi_category says '{NEIGHBOURS_ONLY.strip()}'"
        )
    return neighbours, table


def write_hotspots(
    job: Job,
    units,
    table: pd.DataFrame,
    *,
    title: str,
    subtitle: str,
    source: str,
    options: HotspotOptions,
) -> None:
    """Write ``hotspots.csv``, ``hotspots.parquet`` (GeoParquet) and ``hotspots.html``."""
    job.unit_table(
        table,
        units,
        csv=HOTSPOTS_CSV,
        parquet=HOTSPOTS_PARQUET,
        metadata=job.metadata(neighbours=job.stages.neighbours, hotspots=options),
    )
    content = hotspot_content(table, title=title, subtitle=subtitle, source=source)
    job.map(HOTSPOTS_MAP, units, content)


@takes_stage_options
def run_hotspots(
    incidents_path: str | Path,
    out_dir: str | Path,
    *,
    stages: StageOptions,
    hotspot_options: HotspotOptions | None = None,
) -> HotspotRun:
    """The ``hotspots`` job: Gi* and local Moran's I of the incidents of one period.

    The period is ``cube_options.start`` to ``cube_options.end``, both included (by default the
    data's first and last day). Writes ``hotspots.csv``, ``hotspots.parquet``, ``hotspots.html``,
    ``rejects.csv``, ``unassigned.csv`` and ``manifest.json``.

    Parameters
    ----------
    incidents_path, out_dir : str or Path
        The incident file, and the folder of the outputs.
    hotspot_options : HotspotOptions, optional
        The statistics' options.
    stages : StageOptions
        The stage options every job takes, as keywords (see :mod:`geo_violence.jobs.options`).

    Returns
    -------
    HotspotRun
        The prepared cube, the neighbours, and the table of Gi* and local Moran's I per unit.

    Examples
    --------
    >>> from geo_violence.jobs import CubeOptions
    >>> from geo_violence.jobs.demo_data import write_demo_incidents
    >>> path = write_demo_incidents(seed=1)
    >>> run = run_hotspots(path, path.parent / "out",
    ...     cube_options=CubeOptions(start="2025-12-01", end="2025-12-28"))
    >>> run.table.loc["32", "gi_category"]  # the Loop (the p-values: see HotspotOptions)
    'hot spot, 90% confidence'
    """
    options = hotspot_options or HotspotOptions()
    job = Job("hotspots", out_dir, stages, files=HOTSPOTS_FILES, maps=[HOTSPOTS_MAP])
    prepared = job.prepare(incidents_path, step="day", keep_partial=True)
    cube = prepared.cube
    population = (
        None if cube.population is None else pd.Series(cube.population, index=cube.unit_ids)
    )
    neighbours, table = hotspots_of(
        job,
        prepared.layer.units,
        pd.Series(cube.counts.sum(axis=1), index=cube.unit_ids),
        population=population,
        options=options,
    )
    first, last = cube.edges[0], cube.edges[-1] - pd.Timedelta(days=1)
    write_hotspots(
        job,
        prepared.layer.units,
        table,
        title=f"Hot spots ({prepared.layer.title})",
        subtitle=f"{first:%Y-%m-%d} to {last:%Y-%m-%d}",
        source=prepared.source_text(),
        options=options,
    )
    job.finish(seed=options.seed, hotspots=asdict(options))
    return HotspotRun(prepared, neighbours, table)
