"""The emerging hot spots job: space-time Gi*, trend and categories over the steps."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..cube import Cube
from ..errors import DataError
from ..outputs import (
    prepare_output_dir,
    write_csv,
    write_json,
    write_parquet,
)
from ..render import MapSeries, emerging_content
from ..stats.emerging import EmergingOptions, EmergingResult, emerging_hotspots
from ..weights import Neighbours
from .common import (
    EMERGING_BINS,
    EMERGING_CSV,
    EMERGING_MAP,
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
class EmergingRun:
    """What :func:`run_emerging` computed."""

    prepared: PreparedCube
    neighbours: Neighbours
    result: EmergingResult
    table: pd.DataFrame
    bins: pd.DataFrame


def emerging_of(
    units,
    cube: Cube,
    *,
    neighbour_options: NeighbourOptions,
    emerging_options: EmergingOptions,
) -> tuple[Neighbours, EmergingResult, pd.DataFrame, pd.DataFrame]:
    """Neighbours, the emerging analysis, and its two tables (per unit, per bin) for a cube.

    With a population the analysis runs on rates per 100,000. Units that the neighbours leave
    out (dropped islands) stay in the tables as "no pattern" with no statistic.
    """
    neighbours = neighbours_for(units, neighbour_options)
    values = cube.counts.astype(float) if cube.population is None else cube.rates()
    if cube.population is not None and not np.isfinite(values).all():
        missing = cube.unit_ids[~np.isfinite(values).all(axis=1)]
        raise DataError(
            f"rates are undefined for units {', '.join(map(str, missing[:10]))} (population zero "
            "or missing): fix the population file, or leave --population out"
        )
    rows = cube.unit_ids.get_indexer(neighbours.unit_ids)
    result = emerging_hotspots(
        values[rows], neighbours.matrix, neighbours.unit_ids, options=emerging_options
    )
    result = _expand_to_units(result, rows, cube)
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
    for column in ("n_hot", "n_cold"):
        units[column] = units[column].fillna(0).astype(np.int64)
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
    )


def write_emerging_outputs(
    folder: Path,
    units,
    table: pd.DataFrame,
    bins: pd.DataFrame,
    *,
    cube: Cube,
    result: EmergingResult,
    title: str,
    subtitle: str,
    source: str,
    run_metadata: dict,
    map_options: MapOptions,
) -> dict[str, Path]:
    """Write ``emerging.csv``, ``emerging_bins.parquet`` and ``emerging.html`` (with the week
    slider over the bins and each unit's counts in its popup)."""
    series = MapSeries(
        dates=[f"{start:%Y-%m-%d}" for start in cube.step_starts],
        counts=cube.counts,
        bins=np.where(np.isnan(result.z), np.nan, result.bins),
        step_name=cube.step,
    )
    content = emerging_content(table, title=title, series=series, subtitle=subtitle, source=source)
    return {
        EMERGING_CSV: write_csv(table.reset_index(), folder / EMERGING_CSV),
        EMERGING_BINS: write_parquet(bins, folder / EMERGING_BINS, run_metadata),
        **write_map_files(folder, units, content, EMERGING_MAP, map_options),
    }


def run_emerging(
    incidents_path: str | Path,
    out_dir: str | Path,
    *,
    read_options: ReadOptions | None = None,
    unit_options: UnitOptions | None = None,
    cube_options: CubeOptions | None = None,
    neighbour_options: NeighbourOptions | None = None,
    emerging_options: EmergingOptions | None = None,
    map_options: MapOptions | None = None,
    overwrite: bool = False,
) -> EmergingRun:
    """The ``emerging`` job: emerging and fading hot spots over the cube's steps.

    Writes ``emerging.csv`` (one row per unit), ``emerging_bins.parquet`` (one row per unit and
    step), ``emerging.html``, ``rejects.csv``, ``unassigned.csv`` and ``manifest.json``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence.demo import make_demo_incidents
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> make_demo_incidents(seed=1).to_csv(folder / "demo.csv", index=False)
    >>> run = run_emerging(folder / "demo.csv", folder / "out")
    >>> run.table.loc["32", "category"] in ("new hot spot", "consecutive hot spot")
    True
    """
    neighbour_options = neighbour_options or NeighbourOptions()
    emerging_options = emerging_options or EmergingOptions()
    map_options = map_options or MapOptions()
    names = [
        EMERGING_CSV,
        EMERGING_BINS,
        *map_file_names(EMERGING_MAP, map_options),
        REJECTS_FILE,
        UNASSIGNED_FILE,
        MANIFEST_FILE,
    ]
    folder = prepare_output_dir(out_dir, names, overwrite=overwrite)
    prepared = prepare_cube(
        incidents_path,
        read_options=read_options,
        unit_options=unit_options,
        cube_options=cube_options,
    )
    neighbours, result, table, bins = emerging_of(
        prepared.layer.units,
        prepared.cube,
        neighbour_options=neighbour_options,
        emerging_options=emerging_options,
    )
    prepared.notes.extend([*neighbours.notes, *result.notes])
    outputs = write_emerging_outputs(
        folder,
        prepared.layer.units,
        table,
        bins,
        cube=prepared.cube,
        result=result,
        title=f"Emerging and fading hot spots ({prepared.layer.title})",
        subtitle=prepared.period_text(),
        source=prepared.source_text(),
        run_metadata=run_metadata(
            prepared, neighbours=neighbour_options, emerging=emerging_options
        ),
        map_options=map_options,
    )
    outputs |= write_row_reports(prepared, folder)
    write_json(
        manifest(
            "emerging",
            prepared,
            outputs,
            seed=emerging_options.seed,
            neighbours=asdict(neighbour_options) | {"islands_found": neighbours.islands},
            emerging=asdict(emerging_options),
        ),
        folder / MANIFEST_FILE,
    )
    return EmergingRun(prepared, neighbours, result, table, bins)
