"""The hot spots job: local Gi* and local Moran's I on one period's counts."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd

from ..outputs import (
    prepare_output_dir,
    write_csv,
    write_json,
    write_parquet,
)
from ..render import hotspot_content
from ..stats.hotspots import HotspotOptions, hotspot_table
from ..stats.significance import resolution_note
from ..weights import Neighbours
from .common import (
    HOTSPOTS_CSV,
    HOTSPOTS_MAP,
    HOTSPOTS_PARQUET,
    MANIFEST_FILE,
    REJECTS_FILE,
    UNASSIGNED_FILE,
    CubeOptions,
    MapOptions,
    NeighbourOptions,
    PreparedCube,
    ReadOptions,
    UnitOptions,
    manifest,
    map_file_names,
    neighbours_for,
    prepare_cube,
    run_metadata,
    write_map_files,
    write_row_reports,
)

logger = logging.getLogger(__name__)


@dataclass
class HotspotRun:
    """What :func:`run_hotspots` computed: the prepared cube, the neighbours and the table."""

    prepared: PreparedCube
    neighbours: Neighbours
    table: pd.DataFrame


def hotspots_of(
    units,
    counts: pd.Series,
    *,
    population: pd.Series | None,
    neighbour_options: NeighbourOptions,
    hotspot_options: HotspotOptions,
) -> tuple[Neighbours, pd.DataFrame]:
    """Neighbours of the units and the hot spot table of one count per unit."""
    neighbours = neighbours_for(units, neighbour_options)
    table = hotspot_table(counts, neighbours, population=population, options=hotspot_options)
    return neighbours, table


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


def write_hotspot_outputs(
    folder: Path,
    units,
    table: pd.DataFrame,
    *,
    title: str,
    run_metadata: dict,
    subtitle: str = "",
    source: str = "",
    map_options: MapOptions | None = None,
) -> dict[str, Path]:
    """Write ``hotspots.csv``, ``hotspots.parquet`` (GeoParquet) and ``hotspots.html``."""
    import geopandas as gpd

    tidy = table.copy()
    tidy.insert(0, "name", units["name"].reindex(tidy.index).to_numpy())
    tidy = tidy.reset_index()
    geometry = units.geometry.reindex(table.index).to_numpy()
    return {
        HOTSPOTS_CSV: write_csv(tidy, folder / HOTSPOTS_CSV),
        HOTSPOTS_PARQUET: write_parquet(
            gpd.GeoDataFrame(tidy, geometry=geometry, crs=units.crs),
            folder / HOTSPOTS_PARQUET,
            run_metadata,
        ),
        **write_map_files(
            folder,
            units,
            hotspot_content(table, title=title, subtitle=subtitle, source=source),
            HOTSPOTS_MAP,
            map_options or MapOptions(),
        ),
    }


def run_hotspots(
    incidents_path: str | Path,
    out_dir: str | Path,
    *,
    read_options: ReadOptions | None = None,
    unit_options: UnitOptions | None = None,
    cube_options: CubeOptions | None = None,
    neighbour_options: NeighbourOptions | None = None,
    hotspot_options: HotspotOptions | None = None,
    map_options: MapOptions | None = None,
    overwrite: bool = False,
) -> HotspotRun:
    """The ``hotspots`` job: Gi* and local Moran's I of the incidents of one period.

    The period is ``cube_options.start`` to ``cube_options.end``, both included (by default the
    data's first and last day). Writes ``hotspots.csv``, ``hotspots.parquet``, ``hotspots.html``,
    ``rejects.csv``, ``unassigned.csv`` and ``manifest.json``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence.demo import make_demo_incidents
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> make_demo_incidents(seed=1).to_csv(folder / "demo.csv", index=False)
    >>> run = run_hotspots(folder / "demo.csv", folder / "out",
    ...     cube_options=CubeOptions(start="2025-12-01", end="2025-12-28"))
    >>> int(run.table.loc["32", "gi_class"])
    3
    """
    cube_options = cube_options or CubeOptions()
    neighbour_options = neighbour_options or NeighbourOptions()
    hotspot_options = hotspot_options or HotspotOptions()
    map_options = map_options or MapOptions()
    names = [
        HOTSPOTS_CSV,
        HOTSPOTS_PARQUET,
        *map_file_names(HOTSPOTS_MAP, map_options),
        REJECTS_FILE,
        UNASSIGNED_FILE,
        MANIFEST_FILE,
    ]
    folder = prepare_output_dir(out_dir, names, overwrite=overwrite)
    prepared = prepare_cube(
        incidents_path,
        read_options=read_options,
        unit_options=unit_options,
        cube_options=replace(cube_options, step="day", keep_partial=True),
    )
    cube = prepared.cube
    counts = pd.Series(cube.counts.sum(axis=1), index=cube.unit_ids)
    population = (
        None if cube.population is None else pd.Series(cube.population, index=cube.unit_ids)
    )
    neighbours, table = hotspots_of(
        prepared.layer.units,
        counts,
        population=population,
        neighbour_options=neighbour_options,
        hotspot_options=hotspot_options,
    )
    prepared.notes.extend(neighbours.notes)
    for note in resolution_notes(len(neighbours.unit_ids), hotspot_options):
        logger.warning(note)
        prepared.notes.append(note)
    first, last = cube.edges[0], cube.edges[-1] - pd.Timedelta(days=1)
    outputs = write_hotspot_outputs(
        folder,
        prepared.layer.units,
        table,
        title=f"Hot spots ({prepared.layer.title})",
        subtitle=f"{first:%Y-%m-%d} to {last:%Y-%m-%d}",
        source=prepared.source_text(),
        run_metadata=run_metadata(prepared, neighbours=neighbour_options, hotspots=hotspot_options),
        map_options=map_options,
    )
    outputs |= write_row_reports(prepared, folder)
    write_json(
        manifest(
            "hotspots",
            prepared,
            outputs,
            seed=hotspot_options.seed,
            neighbours=asdict(neighbour_options) | {"islands_found": neighbours.islands},
            hotspots=asdict(hotspot_options),
        ),
        folder / MANIFEST_FILE,
    )
    return HotspotRun(prepared, neighbours, table)
