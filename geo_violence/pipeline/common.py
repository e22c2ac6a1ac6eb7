"""What every job shares: the options of the first stages, the prepared cube, the manifest,
the run metadata and the row reports (rejects, unassigned points).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from ..assign import Assignment, assign_units
from ..boundaries import UnitLayer, load_units
from ..columns import WORKING_CRS
from ..cube import Cube, build_cube
from ..grid_units import needs_extent
from ..ingest import IncidentRead, read_incidents
from ..outputs import (
    manifest_base,
    package_versions,
    prepare_output_dir,
    write_csv,
    write_json,
    write_parquet,
)
from ..population import align_population, read_population
from ..render import MapContent, map_png, write_map
from ..render.embed import write_embed
from ..weights import Neighbours, build_weights

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


@dataclass(frozen=True)
class MapOptions:
    """How maps are written: basemap tiles, a static PNG beside each map, an embed snippet."""

    basemap: str = "none"
    png: bool = False
    embed: bool = False


EMBED_FILE = "embed.html"


def write_map_files(
    folder: Path, units, content: MapContent, html_name: str, options: MapOptions
) -> dict[str, Path]:
    """Write a map's HTML, and its PNG (``--png``) and ``embed.html`` (``--embed``) if asked.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> content = MapContent("T", pd.Series("#ffffff", index=units.index), [("#ffffff", "all")],
    ...                      pd.DataFrame(index=units.index))
    >>> files = write_map_files(pathlib.Path(tempfile.mkdtemp()), units, content, "m.html",
    ...                         MapOptions(png=True, embed=True))
    >>> sorted(files)
    ['embed.html', 'm.html', 'm.png']
    """
    written = {html_name: write_map(units, content, folder / html_name, basemap=options.basemap)}
    if options.png:
        png_name = Path(html_name).with_suffix(".png").name
        written[png_name] = map_png(units, content, folder / png_name)
    if options.embed:
        written[EMBED_FILE] = write_embed(folder / EMBED_FILE, html_name, content.title)
    return written


def map_file_names(html_name: str, options: MapOptions) -> list[str]:
    """The files :func:`write_map_files` may write, for the overwrite check."""
    names = [html_name]
    if options.png:
        names.append(Path(html_name).with_suffix(".png").name)
    if options.embed:
        names.append(EMBED_FILE)
    return names


def layer_for(options: UnitOptions, extent: tuple[float, ...] | None = None) -> UnitLayer:
    """The units layer the options name (see :func:`geo_violence.load_units`).

    Examples
    --------
    >>> len(layer_for(UnitOptions()).units)
    77
    """
    return load_units(
        options.units,
        units_file=options.units_file,
        id_field=options.id_field,
        name_field=options.name_field,
        crs=options.crs,
        extent=extent,
    )


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

    def source_text(self) -> str:
        """Where a map's data come from, in one line."""
        rows = self.row_counts()
        return f"{self.inputs[0].name}, {rows['counted']:,} incidents"

    def period_text(self) -> str:
        """The cube's dates, in one line."""
        last_day = self.cube.edges[-1] - pd.Timedelta(days=1)
        return (
            f"{self.cube.n_steps} {self.cube.step}s, {self.cube.edges[0]:%Y-%m-%d} to "
            f"{last_day:%Y-%m-%d}"
        )

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

    def read() -> IncidentRead:
        return read_incidents(
            incidents_path,
            **{k: v for k, v in asdict(read_options).items() if k != "filter_category"},
            code_cols=(cube_options.code_col,) if cube_options.code_col else (),
            filter_category=read_options.filter_category or None,
        )

    if needs_extent(unit_options.units):  # a grid over the incidents: read them first
        incidents_read = read()
        extent = (
            tuple(incidents_read.incidents.total_bounds) if len(incidents_read.incidents) else None
        )
        layer = layer_for(unit_options, extent)
    else:
        layer = layer_for(unit_options)
        incidents_read = read()
    read = incidents_read
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
    return manifest_base(
        command,
        prepared.inputs,
        outputs,
        options=prepared.options,
        rows=prepared.row_counts(),
        recorded_code_agreement=None
        if agreement is None
        else asdict(agreement) | {"disagreement_rate": agreement.disagreement_rate},
        units={
            "layer": prepared.layer.title,
            "source": prepared.layer.source,
            "count": prepared.cube.n_units,
        },
        steps={
            "step": prepared.cube.step,
            "count": prepared.cube.n_steps,
            "first_start": prepared.cube.edges[0].isoformat(),
            "end": prepared.cube.edges[-1].isoformat(),
        },
        notes=prepared.notes,
        **extra,
    )


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
