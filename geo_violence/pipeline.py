"""Stage 8, orchestrate: options in, a folder of outputs and a manifest out.

Each job chains the stages (read, units, assign, cube, ...) and writes every output through
:mod:`geo_violence.outputs`. The command line only parses options and calls these functions.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .assign import Assignment, assign_units
from .boundaries import UnitLayer, load_units
from .columns import WORKING_CRS
from .cube import Cube, build_cube
from .errors import DataError
from .ingest import IncidentRead, read_incidents
from .outputs import (
    package_versions,
    prepare_output_dir,
    sha256_of,
    write_csv,
    write_json,
    write_parquet,
)
from .population import align_population, read_population
from .render import emerging_map, hotspot_map
from .stats.emerging import EmergingOptions, EmergingResult, emerging_hotspots
from .stats.hotspots import HotspotOptions, hotspot_table
from .stats.significance import resolution_note
from .weights import Neighbours, build_weights

logger = logging.getLogger(__name__)

COUNTS_FILE = "counts.parquet"
REJECTS_FILE = "rejects.csv"
UNASSIGNED_FILE = "unassigned.csv"
MANIFEST_FILE = "manifest.json"
HOTSPOTS_CSV = "hotspots.csv"
HOTSPOTS_PARQUET = "hotspots.parquet"
HOTSPOTS_MAP = "hotspots.html"
EMERGING_CSV = "emerging.csv"
EMERGING_BINS = "emerging_bins.parquet"
EMERGING_MAP = "emerging.html"


@dataclass(frozen=True)
class ReadOptions:
    """How to read the incident file (see :func:`geo_violence.read_incidents`)."""

    time_col: str | None = None
    x_col: str | None = None
    y_col: str | None = None
    crs: str | None = None
    id_col: str | None = None
    category_col: str | None = None
    time_format: str | None = None
    filter_category: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitOptions:
    """Which units to use (see :func:`geo_violence.load_units`)."""

    units: str = "community_areas"
    units_file: str | None = None
    id_field: str | None = None
    name_field: str | None = None
    crs: str | None = None


@dataclass(frozen=True)
class CubeOptions:
    """How to assign and count (see :func:`geo_violence.assign_units` and ``build_cube``)."""

    step: str = "week"
    start: str | None = None
    end: str | None = None
    keep_partial: bool = False
    assign: str = "polygon"
    code_col: str | None = None
    population: str | None = None
    population_id_col: str | None = None
    population_col: str | None = None


@dataclass(frozen=True)
class NeighbourOptions:
    """How to find neighbours (see :func:`geo_violence.weights.build_weights`)."""

    method: str = "queen"
    k: int = 6
    distance: float | None = None
    islands: str = "nearest"


def neighbours_for(units, options: NeighbourOptions) -> Neighbours:
    """The units' neighbours as the options say (see :func:`geo_violence.build_weights`).

    Examples
    --------
    >>> from geo_violence import load_units
    >>> neighbours_for(load_units("community_areas").units, NeighbourOptions()).method
    'queen'
    """
    return build_weights(
        units,
        method=options.method,
        k=options.k,
        distance=options.distance,
        islands=options.islands,
    )


@dataclass
class PreparedCube:
    """Everything the first four stages produced, with what is needed for a manifest."""

    read: IncidentRead
    layer: UnitLayer
    assignment: Assignment
    cube: Cube
    inputs: list[Path]
    options: dict
    notes: list[str] = field(default_factory=list)

    def row_counts(self) -> dict[str, int]:
        """Where every row of the file went: read = filtered + rejected + unassigned + assigned."""
        return {
            "read": self.read.rows_read,
            "filtered_out": self.read.rows_filtered_out,
            "rejected": self.read.rows_rejected,
            "unassigned": len(self.assignment.unassigned),
            "assigned": len(self.assignment.incidents),
            "outside_period": self.cube.outside_period,
            "counted": int(self.cube.counts.sum()),
        }

    def summary(self) -> str:
        """One paragraph for the terminal: where the rows went."""
        rows = self.row_counts()
        last_day = self.cube.edges[-1] - pd.Timedelta(days=1)
        text = (
            f"read {rows['read']:,} rows: {rows['assigned']:,} assigned to "
            f"{self.cube.n_units} {self.layer.title.lower()}, {rows['unassigned']:,} in no unit "
            f"({UNASSIGNED_FILE}), {rows['rejected']:,} rejected ({REJECTS_FILE})"
        )
        if rows["filtered_out"]:
            text += f", {rows['filtered_out']:,} of other categories"
        text += (
            f"; {rows['counted']:,} counted in {self.cube.n_steps} {self.cube.step}s "
            f"from {self.cube.edges[0]:%Y-%m-%d} to {last_day:%Y-%m-%d} (included)"
        )
        agreement = self.assignment.agreement
        if agreement is not None:
            text += (
                f"; recorded {agreement.column} disagrees with the polygon for "
                f"{agreement.disagreement_rate:.1%} of {agreement.compared:,}"
            )
        return text


def prepare_cube(
    incidents_path: str | Path,
    *,
    read_options: ReadOptions | None = None,
    unit_options: UnitOptions | None = None,
    cube_options: CubeOptions | None = None,
) -> PreparedCube:
    """Read, load units, assign and count: the first four stages in one call.

    Parameters
    ----------
    incidents_path : str or Path
        The incident file.
    read_options, unit_options, cube_options
        Options of each stage; the defaults read the portal export into community areas by week.

    Returns
    -------
    PreparedCube

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = path.write_text("when,lon,lat\\n2024-01-03 10:00,-87.6298,41.8781\\n")
    >>> prepared = prepare_cube(path, read_options=ReadOptions(time_col="when", x_col="lon",
    ...     y_col="lat"), cube_options=CubeOptions(start="2024-01-01", end="2024-01-07"))
    >>> prepared.row_counts()["counted"], prepared.cube.counts.shape
    (1, (77, 1))
    """
    read_options = read_options or ReadOptions()
    unit_options = unit_options or UnitOptions()
    cube_options = cube_options or CubeOptions()
    incidents_path = Path(incidents_path)

    layer = load_units(
        unit_options.units,
        units_file=unit_options.units_file,
        id_field=unit_options.id_field,
        name_field=unit_options.name_field,
        crs=unit_options.crs,
    )
    read = read_incidents(
        incidents_path,
        **{k: v for k, v in asdict(read_options).items() if k != "filter_category"},
        code_cols=(cube_options.code_col,) if cube_options.code_col else (),
        filter_category=read_options.filter_category or None,
    )
    code_column = cube_options.code_col
    if code_column is None and layer.recorded_column in read.incidents.columns:
        code_column = layer.recorded_column
    assignment = assign_units(
        read.incidents, layer.units, how=cube_options.assign, code_column=code_column
    )
    inputs = [incidents_path]
    population = None
    population_notes: list[str] = []
    if cube_options.population:
        table = read_population(
            cube_options.population,
            id_col=cube_options.population_id_col,
            population_col=cube_options.population_col,
        )
        population, population_notes = align_population(table, layer.units.index)
        inputs.append(Path(cube_options.population))
    cube = build_cube(
        assignment.incidents,
        layer.units,
        step=cube_options.step,
        start=cube_options.start,
        end=cube_options.end,
        keep_partial=cube_options.keep_partial,
        population=population,
    )
    if Path(layer.source).is_file() and layer.source != str(incidents_path):
        inputs.append(Path(layer.source))
    options = {
        "read": asdict(read.columns) | {"filter_category": list(read_options.filter_category)},
        "units": asdict(unit_options),
        "cube": asdict(cube_options) | {"code_col_used": code_column},
        "working_crs": WORKING_CRS,
    }
    notes = [
        *read.notes,
        *layer.notes,
        *assignment.notes,
        *population_notes,
        *cube.notes,
    ]
    return PreparedCube(read, layer, assignment, cube, inputs, options, notes)


def manifest(command: str, prepared: PreparedCube, outputs: dict[str, Path], **extra) -> dict:
    """The run's manifest: inputs with sha256, options, versions, row counts, notes, outputs."""
    agreement = prepared.assignment.agreement
    return {
        "command": command,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "inputs": [
            {"path": str(path), "sha256": sha256_of(path), "bytes": path.stat().st_size}
            for path in prepared.inputs
        ],
        "options": prepared.options,
        "packages": package_versions(),
        "rows": prepared.row_counts(),
        "recorded_code_agreement": None
        if agreement is None
        else asdict(agreement) | {"disagreement_rate": agreement.disagreement_rate},
        "units": {
            "layer": prepared.layer.title,
            "source": prepared.layer.source,
            "count": prepared.cube.n_units,
        },
        "steps": {
            "step": prepared.cube.step,
            "count": prepared.cube.n_steps,
            "first_start": prepared.cube.edges[0].isoformat(),
            "end": prepared.cube.edges[-1].isoformat(),
        },
        "notes": prepared.notes,
        "outputs": {name: sha256_of(path) for name, path in sorted(outputs.items())},
        **extra,
    }


def run_metadata(prepared: PreparedCube, **sections: object) -> dict:
    """What every Parquet output records: the options, each stage's options, package versions.

    Nothing time-dependent, so reruns with the same inputs give the same bytes.

    Parameters
    ----------
    prepared : PreparedCube
        The run's first stages (their options are recorded).
    **sections : dataclass instance
        Further options by name (``hotspots=HotspotOptions(...)``).

    Returns
    -------
    dict
    """
    return {
        "options": prepared.options,
        **{name: asdict(options) for name, options in sections.items()},
        "packages": package_versions(),
    }


def write_row_reports(prepared: PreparedCube, folder: Path) -> dict[str, Path]:
    """Write ``rejects.csv`` and ``unassigned.csv``: the rows that were not counted, and why."""
    return {
        REJECTS_FILE: write_csv(prepared.read.rejects, folder / REJECTS_FILE),
        UNASSIGNED_FILE: write_csv(prepared.assignment.unassigned, folder / UNASSIGNED_FILE),
    }


def run_counts(
    incidents_path: str | Path,
    out_dir: str | Path,
    *,
    read_options: ReadOptions | None = None,
    unit_options: UnitOptions | None = None,
    cube_options: CubeOptions | None = None,
    overwrite: bool = False,
) -> PreparedCube:
    """The ``counts`` job: write ``counts.parquet``, ``rejects.csv``, ``unassigned.csv`` and
    ``manifest.json`` into ``out_dir``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "x.csv").write_text("when,lon,lat\\n2024-01-03 10:00,-87.6298,41.8781\\n")
    >>> _ = run_counts(folder / "x.csv", folder / "out",
    ...     read_options=ReadOptions(time_col="when", x_col="lon", y_col="lat"),
    ...     cube_options=CubeOptions(start="2024-01-01", end="2024-01-07"))
    >>> sorted(p.name for p in (folder / "out").iterdir())
    ['counts.parquet', 'manifest.json', 'rejects.csv', 'unassigned.csv']
    """
    names = [COUNTS_FILE, REJECTS_FILE, UNASSIGNED_FILE, MANIFEST_FILE]
    folder = prepare_output_dir(out_dir, names, overwrite=overwrite)
    prepared = prepare_cube(
        incidents_path,
        read_options=read_options,
        unit_options=unit_options,
        cube_options=cube_options,
    )
    outputs = write_cube_outputs(prepared, folder)
    write_json(manifest("counts", prepared, outputs), folder / MANIFEST_FILE)
    return prepared


def write_cube_outputs(prepared: PreparedCube, folder: Path) -> dict[str, Path]:
    """Write the counts table and the rejected and unassigned rows of a prepared cube."""
    counts = write_parquet(prepared.cube.to_frame(), folder / COUNTS_FILE, run_metadata(prepared))
    return {COUNTS_FILE: counts, **write_row_reports(prepared, folder)}


DEMO_MAP_FILE = "last_four_weeks.html"


def run_demo(out_dir: str | Path = "maps/demo", *, seed: int = 20240101, overwrite: bool = False):
    """The demo job: synthetic incidents (see :mod:`geo_violence.demo`) through every stage.

    Writes ``demo_incidents.csv`` (the synthetic input), the ``counts`` outputs, and
    ``last_four_weeks.html``, a choropleth of the last four weeks' counts.

    Examples
    --------
    >>> import tempfile
    >>> prepared = run_demo(tempfile.mkdtemp(), seed=3)
    >>> prepared.cube.n_units, prepared.cube.n_steps
    (77, 104)
    """
    from .demo import DEMO_FILE, make_demo_incidents
    from .render import choropleth_map

    names = [
        DEMO_FILE,
        COUNTS_FILE,
        REJECTS_FILE,
        UNASSIGNED_FILE,
        MANIFEST_FILE,
        DEMO_MAP_FILE,
        HOTSPOTS_CSV,
        HOTSPOTS_PARQUET,
        HOTSPOTS_MAP,
    ]
    folder = prepare_output_dir(out_dir, names, overwrite=overwrite)
    incidents_path = write_csv(make_demo_incidents(seed=seed), folder / DEMO_FILE)
    prepared = prepare_cube(incidents_path)
    outputs = write_cube_outputs(prepared, folder)
    cube = prepared.cube
    last_four = cube.counts[:, -4:].sum(axis=1)
    first_week = cube.step_starts[-4]
    outputs[DEMO_MAP_FILE] = choropleth_map(
        prepared.layer.units,
        pd.Series(last_four, index=cube.unit_ids),
        title=f"Synthetic demo incidents, 4 weeks from {first_week:%Y-%m-%d}",
        value_label="incidents in the last 4 weeks",
        path=folder / DEMO_MAP_FILE,
    )
    hotspot_options = HotspotOptions(seed=seed)
    neighbours, table = hotspots_of(
        prepared.layer.units,
        pd.Series(last_four, index=cube.unit_ids),
        population=None,
        neighbour_options=NeighbourOptions(),
        hotspot_options=hotspot_options,
    )
    prepared.notes.extend([*neighbours.notes, *resolution_notes(cube.n_units, hotspot_options)])
    outputs |= write_hotspot_outputs(
        folder,
        prepared.layer.units,
        table,
        title=f"Synthetic demo: hot spots of the 4 weeks from {first_week:%Y-%m-%d}",
        run_metadata=run_metadata(prepared, hotspots=hotspot_options),
    )
    emerging_options = EmergingOptions(seed=seed)
    neighbours, result, table, bins = emerging_of(
        prepared.layer.units,
        cube,
        neighbour_options=NeighbourOptions(),
        emerging_options=emerging_options,
    )
    prepared.notes.extend(result.notes)
    outputs |= write_emerging_outputs(
        folder,
        prepared.layer.units,
        table,
        bins,
        title=f"Synthetic demo: emerging hot spots over {cube.n_steps} weeks",
        run_metadata=run_metadata(prepared, emerging=emerging_options),
    )
    outputs[DEMO_FILE] = incidents_path
    write_json(manifest("demo", prepared, outputs, seed=seed), folder / MANIFEST_FILE)
    return prepared


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
    folder: Path, units, table: pd.DataFrame, *, title: str, run_metadata: dict
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
        HOTSPOTS_MAP: hotspot_map(units, table, title=title, path=folder / HOTSPOTS_MAP),
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
    names = [
        HOTSPOTS_CSV,
        HOTSPOTS_PARQUET,
        HOTSPOTS_MAP,
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
        title=f"Hot spots, {first:%Y-%m-%d} to {last:%Y-%m-%d} ({prepared.layer.title})",
        run_metadata=run_metadata(prepared, neighbours=neighbour_options, hotspots=hotspot_options),
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
    title: str,
    run_metadata: dict,
) -> dict[str, Path]:
    """Write ``emerging.csv``, ``emerging_bins.parquet`` and ``emerging.html``."""
    return {
        EMERGING_CSV: write_csv(table.reset_index(), folder / EMERGING_CSV),
        EMERGING_BINS: write_parquet(bins, folder / EMERGING_BINS, run_metadata),
        EMERGING_MAP: emerging_map(units, table, title=title, path=folder / EMERGING_MAP),
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
    names = [
        EMERGING_CSV,
        EMERGING_BINS,
        EMERGING_MAP,
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
    cube = prepared.cube
    last_day = cube.edges[-1] - pd.Timedelta(days=1)
    outputs = write_emerging_outputs(
        folder,
        prepared.layer.units,
        table,
        bins,
        title=(
            f"Emerging hot spots, {cube.n_steps} {cube.step}s from {cube.edges[0]:%Y-%m-%d} to "
            f"{last_day:%Y-%m-%d} ({prepared.layer.title})"
        ),
        run_metadata=run_metadata(
            prepared, neighbours=neighbour_options, emerging=emerging_options
        ),
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
