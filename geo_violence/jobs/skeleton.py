"""The job skeleton: the steps every job shares, written once.

A job (one module per command) is: a :class:`Job` for its folder and files; the first stages
(:meth:`Job.prepare`: read, units, assign, cube; :meth:`Job.neighbours`); its own analysis,
which is the module's whole business; the writers (:meth:`Job.unit_table` for a table per unit
as CSV and GeoParquet, :meth:`Job.table`, :meth:`Job.parquet`, :meth:`Job.map` for a map with
its PNG and embed snippet); and :meth:`Job.finish`, which writes the rows that were not counted
and the manifest. Every file is written under a temporary name and renamed.

Examples
--------
A whole job, counting the incidents of one day per unit (the ``counts`` job is this and the
cube's table)::

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "x.csv").write_text("when,lon,lat\\n2024-01-03 10:00,-87.6298,41.8781\\n")
    >>> stages = StageOptions(read=ReadOptions(time_col="when", x_col="lon", y_col="lat"))
    >>> job = Job("example", folder / "out", stages, files=["per_unit.csv"])
    >>> prepared = job.prepare(folder / "x.csv", step="day", start="2024-01-03", end="2024-01-03")
    >>> table = pd.DataFrame({"count": prepared.cube.counts[:, 0]}, index=prepared.cube.unit_ids)
    >>> _ = job.table("per_unit.csv", table.reset_index())
    >>> sorted(job.finish()["outputs"])
    ['per_unit.csv', 'rejects.csv', 'unassigned.csv']
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..columns import NAME, OCCURRED_AT, REASON, SOURCE_LINE, TIMEZONE, UNIT_ID, WORKING_CRS
from ..cube.counts import Cube, build_cube
from ..errors import DataError
from ..outputs import (
    manifest_base,
    package_versions,
    prepare_output_dir,
    start_sha256,
    write_csv,
    write_json,
    write_parquet,
)
from ..progress import timed
from ..sources.incidents import IncidentRead, read_incidents
from ..sources.population import align_population, read_population
from ..units.assign import Assignment, assign_units
from ..units.grids import needs_extent
from ..units.layers import UnitLayer, load_units
from ..units.neighbours import Neighbours, build_weights
from .options import (
    CubeOptions,
    MapOptions,
    NeighbourOptions,
    ReadOptions,
    StageOptions,
    UnitOptions,
)

if TYPE_CHECKING:  # the maps (and the statistics they import) load only for a job drawing one
    from scipy import sparse

    from ..render import MapContent

logger = logging.getLogger(__name__)

COUNTS_FILE = "counts.parquet"
REJECTS_FILE = "rejects.csv"
UNASSIGNED_FILE = "unassigned.csv"
MANIFEST_FILE = "manifest.json"
EMBED_FILE = "embed.html"


class Job:
    """One command's run into one folder: the files it may write, what it wrote, its notes.

    Parameters
    ----------
    command : str
        The command's name, as the manifest records it.
    out_dir : str or Path
        The folder; created if missing. A file the job may write that exists already is refused
        unless ``stages.overwrite``.
    stages : StageOptions
        The options of the shared stages.
    files : sequence of str
        The job's own outputs (tables); ``manifest.json`` is always added.
    maps : sequence of str, optional
        The maps' HTML names; each adds its PNG (``stages.maps.png``) and ``embed.html``
        (``stages.maps.embed``).
    row_reports : bool
        Whether the job reads incidents, so writes ``rejects.csv`` and ``unassigned.csv``.

    Attributes
    ----------
    folder : Path
        The output folder.
    outputs : dict of str to Path
        What the job has written, by file name.
    prepared : PreparedCube or None
        The first stages' results, after :meth:`prepare` (or :meth:`use`).
    notes : list of str
        What a user should know about the run; the manifest records them.
    """

    def __init__(
        self,
        command: str,
        out_dir: str | Path,
        stages: StageOptions,
        *,
        files: Sequence[str],
        maps: Sequence[str] = (),
        row_reports: bool = True,
    ) -> None:
        self.command = command
        self.stages = stages
        names = [*files, *(name for html in maps for name in map_file_names(html, stages.maps))]
        if row_reports:
            names += [REJECTS_FILE, UNASSIGNED_FILE]
        if not is_job_manifest(Path(out_dir) / MANIFEST_FILE):
            names.append(MANIFEST_FILE)  # ours is merged with the other jobs' (write_manifest)
        self.folder = prepare_output_dir(out_dir, names, overwrite=stages.overwrite)
        self.outputs: dict[str, Path] = {}
        self.prepared: PreparedCube | None = None
        self.notes: list[str] = []
        self._neighbours: Neighbours | None = None
        self._neighbour_units = None

    # -- the first stages --------------------------------------------------------------------
    def prepare(
        self, incidents_path: str | Path, *, allow_empty: bool = False, **cube_changes: object
    ) -> PreparedCube:
        """Read, load units, assign and count with the job's options (``cube_changes`` replace
        fields of its :class:`CubeOptions`, e.g. ``step="day"``).

        An analysis needs incidents: with none left to count (every row rejected, filtered out
        or in no unit, or none in the period) it is refused with a :class:`DataError` that says
        where the rows went, unless ``allow_empty`` (``counts`` writes an all-zero cube)."""
        start_sha256(incidents_path)  # for the manifest, while the file is read and counted
        with timed(f"{self.command}: read, assigned and counted {incidents_path}"):
            prepared = prepare_cube(
                incidents_path,
                read_options=self.stages.read,
                unit_options=self.stages.units,
                cube_options=replace(self.stages.cube, **cube_changes),
            )
        if not allow_empty:
            require_incidents(prepared)
        return self.use(prepared)

    def use(self, prepared: PreparedCube) -> PreparedCube:
        """Take a cube prepared elsewhere (the demo shares one among its analyses)."""
        self.prepared = prepared
        prepared.notes.extend(self.notes)
        self.notes = prepared.notes
        return prepared

    def neighbours(self, units) -> Neighbours:
        """The units' neighbours as the options say; their notes join the job's (once: the same
        units give the same neighbours again). Inside :func:`sharing_reads`, jobs that share a
        layer share its neighbours too (the weekly run's jobs build them once per layer)."""
        if self._neighbours is not None and self._neighbour_units is units:
            return self._neighbours
        shared = _SHARED_READS.get()
        key = ("neighbours", id(units), self.stages.neighbours)
        if shared is not None and key in shared and shared[key][0] is units:
            neighbours = shared[key][1]
            logger.debug("%s: neighbours shared with an earlier job", self.command)
        else:
            with timed(f"{self.command}: {self.stages.neighbours.method} neighbours"):
                neighbours = neighbours_for(units, self.stages.neighbours)
            if shared is not None:
                shared[key] = (units, neighbours)  # the units kept: their id stays theirs
        self._neighbour_units = units
        self.note(*neighbours.notes)
        self._neighbours = neighbours
        return neighbours

    def note(self, *notes: str, warn: bool = False) -> None:
        """Add notes for the manifest (and log them as warnings with ``warn``)."""
        for note in notes:
            if warn:
                logger.warning(note)
            self.notes.append(note)

    # -- the writers ---------------------------------------------------------------------------
    def metadata(self, **sections: object) -> dict:
        """What a Parquet output records: the stages' options, the given sections (dataclasses
        become dicts), package versions; nothing time-dependent, so reruns give the same bytes."""
        sections = {
            name: asdict(value) if is_dataclass(value) else value
            for name, value in sections.items()
        }
        options = {"options": self.prepared.options} if self.prepared is not None else {}
        return {**options, **sections, "packages": package_versions()}

    def table(self, name: str, frame: pd.DataFrame) -> Path:
        """Write a CSV table."""
        with timed(f"{self.command}: wrote {name} ({len(frame):,} rows)"):
            return self._record(name, write_csv(frame, self.folder / name))

    def parquet(self, name: str, frame: pd.DataFrame, metadata: dict) -> Path:
        """Write a (Geo)Parquet table with its run metadata."""
        with timed(f"{self.command}: wrote {name} ({len(frame):,} rows)"):
            return self._record(name, write_parquet(frame, self.folder / name, metadata))

    def unit_table(
        self,
        table: pd.DataFrame,
        units,
        *,
        csv: str,
        parquet: str | None = None,
        metadata: dict | None = None,
    ) -> pd.DataFrame:
        """Write a table indexed by unit id as CSV (``unit_id``, ``name``, its columns) and, with
        ``parquet``, as GeoParquet with the units' geometry. Returns the tidy table."""
        import geopandas as gpd

        tidy = table.copy()
        tidy.insert(0, NAME, units[NAME].reindex(tidy.index).to_numpy())
        tidy = tidy.rename_axis(UNIT_ID).reset_index()
        self.table(csv, tidy)
        if parquet is not None:
            geometry = units.geometry.reindex(table.index).to_numpy()
            frame = gpd.GeoDataFrame(tidy, geometry=geometry, crs=units.crs)
            self.parquet(parquet, frame, metadata if metadata is not None else self.metadata())
        return tidy

    def map(self, html_name: str, units, content: MapContent, *, png: bool | None = None) -> Path:
        """Write a map page, and its PNG and ``embed.html`` when the map options ask (``png``
        overrides ``--png`` for a job whose PNG is drawn otherwise)."""
        options = self.stages.maps if png is None else replace(self.stages.maps, png=png)
        with timed(f"{self.command}: drew {html_name}"):
            written = write_map_files(self.folder, units, content, html_name, options)
        for name, path in written.items():
            self._record(name, path)
        return self.outputs[html_name]

    def file(self, name: str, path: Path) -> Path:
        """Record a file written by other means (a PNG of panels, the demo's input)."""
        return self._record(name, path)

    def _record(self, name: str, path: Path) -> Path:
        self.outputs[name] = path
        return path

    # -- the end -------------------------------------------------------------------------------
    def finish(self, *, inputs: Iterable[Path] = (), **extra: object) -> dict:
        """Write ``rejects.csv`` and ``unassigned.csv`` (after :meth:`prepare`) and
        ``manifest.json`` (:func:`write_manifest`: the other jobs' manifests in the folder are
        kept); ``extra`` sections join the manifest. Returns the job's manifest."""
        if self._neighbours is not None and "neighbours" not in extra:
            extra["neighbours"] = asdict(self.stages.neighbours) | {
                "islands_found": self._neighbours.islands
            }
        if self.prepared is not None:
            for name, path in write_row_reports(self.prepared, self.folder).items():
                self._record(name, path)
            document = manifest(self.command, self.prepared, self.outputs, **extra)
        else:
            document = manifest_base(
                self.command, list(inputs), self.outputs, notes=self.notes, **extra
            )
        write_manifest(self.folder, document)
        return document


def write_manifest(folder: Path, document: dict) -> dict:
    """Write ``manifest.json``: this job's manifest at the top (as every manifest reads), and
    under ``jobs`` the manifest of every job that has written into the folder, by command, so
    jobs sharing a run folder (``emerging``, then ``hotspots`` and ``compare``) do not erase
    each other's. Returns what was written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_manifest(folder, {"command": "emerging", "steps": {"step": "week"}})
    >>> merged = write_manifest(folder, {"command": "hotspots", "steps": {"step": "day"}})
    >>> merged["command"], sorted(merged["jobs"]), merged["jobs"]["emerging"]["steps"]["step"]
    ('hotspots', ['emerging', 'hotspots'], 'week')
    """
    path = folder / MANIFEST_FILE
    jobs: dict[str, dict] = {}
    previous = read_manifest(path)
    earlier = previous.get("jobs")
    if isinstance(earlier, dict):
        jobs.update({name: job for name, job in earlier.items() if isinstance(job, dict)})
    elif previous.get("command"):  # written before manifests were merged
        jobs[str(previous["command"])] = previous
    own = {key: value for key, value in document.items() if key != "jobs"}
    jobs[str(own["command"])] = own
    merged = {**own, "jobs": dict(sorted(jobs.items()))}
    write_json(merged, path)
    return merged


def read_manifest(path: Path) -> dict:
    """A manifest's content, or ``{}`` when it is missing or unreadable."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def is_job_manifest(path: Path) -> bool:
    """Whether ``path`` is a manifest a job wrote (a job merges its own with it)."""
    return "command" in read_manifest(path)


def write_map_files(
    folder: Path, units, content: MapContent, html_name: str, options: MapOptions
) -> dict[str, Path]:
    """Write a map's HTML, and its PNG (``--png``) and ``embed.html`` (``--embed``) if asked.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> from geo_violence.render import MapContent
    >>> content = MapContent("T", pd.Series("#ffffff", index=units.index), [("#ffffff", "all")],
    ...                      pd.DataFrame(index=units.index))
    >>> files = write_map_files(pathlib.Path(tempfile.mkdtemp()), units, content, "m.html",
    ...                         MapOptions(png=True, embed=True))
    >>> sorted(files)
    ['embed.html', 'm.html', 'm.png']
    """
    from ..render import map_png, write_map
    from ..render.embed import write_embed
    from ..render.page import map_description

    written = {html_name: write_map(units, content, folder / html_name, basemap=options.basemap)}
    if options.png:
        png_name = Path(html_name).with_suffix(".png").name
        written[png_name] = map_png(units, content, folder / png_name)
    if options.embed:
        picture = Path(html_name).with_suffix(".png").name if options.png else None
        written[EMBED_FILE] = write_embed(
            folder / EMBED_FILE,
            html_name,
            content.title,
            picture=picture,
            description=map_description(units, content),
        )
    return written


def map_file_names(html_name: str, options: MapOptions) -> list[str]:
    """The files :func:`write_map_files` may write, for the overwrite check."""
    names = [html_name]
    if options.png:
        names.append(Path(html_name).with_suffix(".png").name)
    if options.embed:
        names.append(EMBED_FILE)
    return names


def adjacency_in_cube_order(cube: Cube, neighbours: Neighbours) -> sparse.csr_array:
    """The neighbours' binary matrix with rows in the cube's unit order (a unit the neighbours
    left out, a dropped island, has no neighbour).

    Examples
    --------
    >>> from geo_violence import build_cube, build_weights, load_units
    >>> import geopandas as gpd
    >>> units = load_units("community_areas").units
    >>> empty = gpd.GeoDataFrame({"unit_id": [], "occurred_at": pd.to_datetime([]).tz_localize(
    ...     "America/Chicago")}, geometry=[], crs=units.crs)
    >>> cube = build_cube(empty, units, step="month", start="2024-01-01", end="2024-03-31")
    >>> adjacency_in_cube_order(cube, build_weights(units)).shape
    (77, 77)
    """
    from scipy import sparse

    rows = cube.unit_ids.get_indexer(neighbours.unit_ids)
    matrix = sparse.coo_array(neighbours.matrix)
    return sparse.csr_array(
        (matrix.data, (rows[matrix.row], rows[matrix.col])), shape=(cube.n_units,) * 2
    )


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
            "assigned": self.assignment.n_assigned,
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

    key = _shared_key(incidents_path, read_options, unit_options, cube_options)
    shared = _SHARED_READS.get()
    if shared is not None and key in shared:
        read, layer, assignment, code_column = shared[key]
        logger.debug("%s: read, units and assignment shared with an earlier job", incidents_path)
    else:
        read, layer, assignment, code_column = _read_and_assign(
            incidents_path, read_options, unit_options, cube_options, shared, key[:3]
        )
        if shared is not None:
            shared[key] = (read, layer, assignment, code_column)
    empty_notes = []
    if assignment.n_assigned == 0:
        why = nothing_usable(incidents_path, read, assignment)
        if cube_options.start is None or cube_options.end is None:
            raise DataError(f"{why}; nothing to count: give --start and --end for an all-zero cube")
        empty_notes.append(f"{why}: every count is zero")
        logger.warning(empty_notes[0])
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
        assignment.counted(),
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
        *empty_notes,
    ]
    return PreparedCube(read, layer, assignment, cube, inputs, options, notes)


#: The reads that jobs share inside :func:`sharing_reads` (None outside it).
_SHARED_READS: ContextVar[dict | None] = ContextVar("shared_reads", default=None)


@contextmanager
def sharing_reads() -> Iterator[None]:
    """Within this block, jobs that read the same unchanged file with the same read, unit and
    assignment options share one read, one layer and one assignment (each still builds its own
    cube), and jobs on one layer with the same neighbour options share its neighbours: the
    weekly run's jobs on one store read it and build its neighbours once per layer, not once per
    job.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = path.write_text("when,lon,lat\\n2024-01-03 10:00,-87.6298,41.8781\\n")
    >>> options = ReadOptions(time_col="when", x_col="lon", y_col="lat")
    >>> week = CubeOptions(start="2024-01-01", end="2024-01-07")
    >>> with sharing_reads():
    ...     first = prepare_cube(path, read_options=options, cube_options=week)
    ...     days = prepare_cube(path, read_options=options,
    ...                         cube_options=CubeOptions(step="day", keep_partial=True))
    >>> first.read is days.read, first.cube.counts.shape, days.cube.counts.shape
    (True, (77, 1), (77, 1))
    """
    token = _SHARED_READS.set({})
    try:
        yield
    finally:
        _SHARED_READS.reset(token)


def _shared_key(
    path: Path, read_options: ReadOptions, unit_options: UnitOptions, cube_options: CubeOptions
) -> tuple:
    """What a shared read depends on: the file as it is now, and every option before the cube."""
    try:
        status = path.stat()
        version = (status.st_size, status.st_mtime_ns, status.st_ino)
    except OSError:
        version = None  # the read itself will say what is wrong
    return (
        str(path.resolve()),
        version,
        read_options,
        unit_options,
        cube_options.code_col,
        cube_options.assign,
    )  # the first three say which read; all of them, which assignment


def _read_and_assign(
    incidents_path: Path,
    read_options: ReadOptions,
    unit_options: UnitOptions,
    cube_options: CubeOptions,
    shared: dict | None = None,
    file_key: tuple = (),
) -> tuple[IncidentRead, UnitLayer, Assignment, str | None]:
    """Read the incidents, load the units and assign them; with the recorded-code column used.
    With ``shared`` (inside :func:`sharing_reads`) a read of the same file and read options is
    taken from it, whatever the units (the weekly run's layers read their store once)."""
    read_key = ("read", *file_key, cube_options.code_col)

    def read() -> IncidentRead:
        if shared is not None and read_key in shared:
            return shared[read_key]
        result = read_incidents(
            incidents_path,
            **{k: v for k, v in asdict(read_options).items() if k != "filter_category"},
            code_cols=(cube_options.code_col,) if cube_options.code_col else (),
            filter_category=read_options.filter_category or None,
        )
        if shared is not None:
            shared[read_key] = result
        return result

    if needs_extent(unit_options.units):  # a grid over the incidents: read them first
        incidents_read = read()
        extent = (
            tuple(incidents_read.incidents.total_bounds) if len(incidents_read.incidents) else None
        )
        layer = layer_for(unit_options, extent)
    else:
        layer = layer_for(unit_options)
        incidents_read = read()
    code_column = cube_options.code_col
    if code_column is None and layer.recorded_column in incidents_read.incidents.columns:
        code_column = layer.recorded_column
    assignment = assign_units(
        incidents_read.incidents, layer.units, how=cube_options.assign, code_column=code_column
    )
    return incidents_read, layer, assignment, code_column


def nothing_usable(path: str | Path, read: IncidentRead, assignment: Assignment) -> str:
    """Why no incident is left to count, in one clause: where every row of the file went.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = path.write_text("when,lon,lat\\nsoon,-87.6,41.9\\n")
    >>> read = read_incidents(path, time_col="when", x_col="lon", y_col="lat")
    >>> nothing_usable(path, read, assign_units(read.incidents, layer_for(UnitOptions()).units))
    'no usable incident in x.csv: 1 row read, 1 rejected (1 unparseable time)'
    """
    rows = read.rows_read
    parts = []
    if read.rows_rejected:
        reasons = read.rejects.groupby(REASON)[SOURCE_LINE].nunique()
        parts.append(
            f"{read.rows_rejected:,} rejected ("
            + "; ".join(f"{n:,} {reason}" for reason, n in reasons.items())
            + ")"
        )
    if read.rows_filtered_out:
        wanted = ", ".join(
            sorted({str(value) for value in read.filter_category or ()}) or ["the filter"]
        )
        parts.append(f"{read.rows_filtered_out:,} left out by --filter-category {wanted}")
    if len(assignment.unassigned):
        parts.append(f"{len(assignment.unassigned):,} in no unit")
    where = ", ".join([f"{rows:,} row{'' if rows == 1 else 's'} read", *parts])
    return f"no usable incident in {Path(path).name}: {where}"


def require_incidents(prepared: PreparedCube) -> None:
    """Refuse to analyse a cube with no incident counted, saying why (:class:`DataError`)."""
    rows = prepared.row_counts()
    if rows["counted"]:
        return
    if not rows["assigned"]:
        why = nothing_usable(prepared.inputs[0], prepared.read, prepared.assignment)
        raise DataError(f"{why}; nothing to analyse")
    cube = prepared.cube
    days = prepared.assignment.counted()[OCCURRED_AT].dt.tz_convert(TIMEZONE)
    last_day = cube.edges[-1] - pd.Timedelta(days=1)
    raise DataError(
        f"no incident in the period {cube.edges[0]:%Y-%m-%d}..{last_day:%Y-%m-%d}: the "
        f"{rows['assigned']:,} usable incidents fall from {days.min():%Y-%m-%d} to "
        f"{days.max():%Y-%m-%d}; choose a period with incidents"
    )


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


def write_row_reports(prepared: PreparedCube, folder: Path) -> dict[str, Path]:
    """Write ``rejects.csv`` and ``unassigned.csv``: the rows that were not counted, and why."""
    return {
        REJECTS_FILE: write_csv(prepared.read.rejects, folder / REJECTS_FILE),
        UNASSIGNED_FILE: write_csv(prepared.assignment.unassigned, folder / UNASSIGNED_FILE),
    }
