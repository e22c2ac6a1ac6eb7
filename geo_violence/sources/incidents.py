"""Stage 1, read: an incident file becomes points in the working CRS, and rejected rows a table.

Nothing is dropped silently: every row of the file is either an incident, a rejected row (with
its line, the column, the value and the reason), or a row left out by ``filter_category`` (counted).
"""

from __future__ import annotations

import bz2
import datetime as dt
import functools
import gzip
import logging
import re
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from ..codes import as_text, value_as_text
from ..columns import (
    CATEGORY,
    COLUMN,
    GEOMETRY,
    INCIDENT_ID,
    OCCURRED_AT,
    REASON,
    SOURCE_LINE,
    TIMEZONE,
    VALUE,
    WORKING_CRS,
)
from ..errors import InputFileError, MissingColumnError, OptionError
from .columnar import (
    NAT,
    ROWS_AT_A_TIME,
    ArrayTimes,
    NotUtf8,
    TextBytes,
    _is_view,
    chunks,
    encode,
    hash_bytes,
    hash_text,
    is_text,
    layouts_for,
    localize_clock,
    one_array,
    read_csv_counting,
    read_plain_numbers,
    read_times,
    strip_needed,
    text_columns,
    text_lengths,
)
from .points import PointArray

logger = logging.getLogger(__name__)

#: The time formats tried, in order, on a column of text (ISO 8601 first).
TIME_FORMATS = ("ISO8601", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M")
#: How far outside its CRS's area of use (in degrees) a point may lie before it is impossible.
AREA_OF_USE_MARGIN_DEGREES = 1.0
#: The recorded-code columns of the portal export, kept for ``assign_units(how="recorded")``.
PORTAL_CODE_COLUMNS = ("Beat", "District", "Ward", "Community Area")

_OFFSET_AT_END = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d*)?)?\s?(?:Z|[+-]\d{2}(?::?\d{2})?)$")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz", ".csv.bz2")
_PARQUET_SUFFIXES = (".parquet", ".geoparquet", ".pq")


@dataclass(frozen=True)
class IncidentColumns:
    """Which columns of a file hold what, and how to read them.

    Parameters
    ----------
    time_col, x_col, y_col : str
        The columns with the time of the incident and its coordinates. ``x_col``/``y_col`` may be
        None for a GeoParquet file, whose point geometry is used.
    crs : str
        The CRS of the coordinates (for example ``"EPSG:4326"`` for longitude/latitude).
    id_col, category_col : str, optional
        The incident's own id (else the line number is its id) and its category.
    time_format : str, optional
        A ``strftime`` format for the time column; by default :data:`TIME_FORMATS` are tried.
    code_cols : tuple of str
        Columns of recorded unit codes (such as ``Beat``) kept for recorded assignment.

    Examples
    --------
    >>> IncidentColumns(time_col="date", x_col="longitude", y_col="latitude", crs="EPSG:4326").crs
    'EPSG:4326'
    """

    time_col: str
    x_col: str | None
    y_col: str | None
    crs: str | None
    id_col: str | None = None
    category_col: str | None = None
    time_format: str | None = None
    code_cols: tuple[str, ...] = ()


#: The City of Chicago portal's "Crimes - 2001 to Present" export, recognised with no options.
PORTAL_COLUMNS = IncidentColumns(
    time_col="Date",
    x_col="X Coordinate",
    y_col="Y Coordinate",
    crs="EPSG:3435",
    id_col="ID",
    category_col="Primary Type",
    code_cols=PORTAL_CODE_COLUMNS,
)


@dataclass
class IncidentRead:
    """What :func:`read_incidents` gives.

    Attributes
    ----------
    incidents : geopandas.GeoDataFrame
        One row per valid incident: ``incident_id``, ``occurred_at`` (tz-aware America/Chicago),
        ``category``, ``line`` (its line in the source), any kept code columns, and point
        ``geometry`` in the working CRS (EPSG:3435).
    rejects : pandas.DataFrame
        One row per problem found: ``line``, ``incident_id``, ``column``, ``value``, ``reason``.
        A row with two problems appears twice; :attr:`rows_rejected` counts rows.
    rows_read : int
        Data rows in the file.
    rows_filtered_out : int
        Rows left out by ``filter_category`` (not rejected: not asked for).
    columns : IncidentColumns
        The columns that were used.
    notes : list of str
        What the reader decided that a user should know (format recognised, DST adjustments...).
    filter_category : tuple of str
        The categories kept, as given (empty: all).
    dst_moves : tuple of int
        Times moved out of a spring-forward DST gap, and times read in a fall-back hour as its
        first occurrence (what the DST notes say).
    """

    incidents: object
    rejects: pd.DataFrame
    rows_read: int
    rows_filtered_out: int
    columns: IncidentColumns
    notes: list[str] = field(default_factory=list)
    filter_category: tuple[str, ...] = ()
    dst_moves: tuple[int, int] = (0, 0)

    @property
    def rows_rejected(self) -> int:
        """Number of distinct rows rejected."""
        return int(self.rejects[SOURCE_LINE].nunique())


def read_incidents(
    path: str | Path,
    *,
    time_col: str | None = None,
    x_col: str | None = None,
    y_col: str | None = None,
    crs: str | None = None,
    id_col: str | None = None,
    category_col: str | None = None,
    time_format: str | None = None,
    code_cols: tuple[str, ...] | list[str] = (),
    filter_category: tuple[str, ...] | list[str] | None = None,
) -> IncidentRead:
    """Read an incident file into points in the working CRS, with every bad row accounted for.

    The City of Chicago portal's "Crimes - 2001 to Present" export (columns ``ID``, ``Date``,
    ``X Coordinate``, ``Y Coordinate``, ...) is recognised with no options; for any other file name
    the time and coordinate columns and the CRS (``EPSG:4326`` is assumed for columns named
    longitude/latitude). Options given for a portal file override its defaults.

    Times become tz-aware America/Chicago. A naive time inside the spring-forward gap (which no
    clock showed) moves forward to the first valid instant; one inside the fall-back hour takes the
    first occurrence (daylight time). Both are counted in :attr:`IncidentRead.notes`.

    Rows with a missing or unparseable time, an implausible time (before 1900, or in the future:
    dates beyond what pandas holds among them, never wrapped around), missing, non-numeric or
    non-finite coordinates, the ``(0, 0)`` placeholder, or coordinates more than one degree
    outside the area of use of their CRS go to :attr:`IncidentRead.rejects`.

    Only the columns named are read (pyarrow), and each rule runs on whole columns
    (:mod:`geo_violence.sources.columnar`). The points are kept as their coordinates
    (:class:`~geo_violence.sources.points.PointArray`): shapely points are made the first time
    something asks for them, which assignment to units does not.

    Parameters
    ----------
    path : str or Path
        A CSV (optionally ``.gz``), Parquet or GeoParquet file.
    time_col, x_col, y_col, crs, id_col, category_col, time_format, code_cols
        See :class:`IncidentColumns`.
    filter_category : sequence of str, optional
        Keep only incidents whose category is one of these (compared case-insensitively).

    Returns
    -------
    IncidentRead

    Raises
    ------
    InputFileError
        The file does not exist or cannot be read.
    MissingColumnError
        A named column is not in the file (the message lists the columns present).
    OptionError
        The CRS is unknown, or the columns cannot be worked out.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "x.csv").write_text(
    ...     "when,lon,lat\\n2024-03-01 12:00,-87.63,41.88\\nnot a time,-87.6,41.9\\n")
    >>> read = read_incidents(folder / "x.csv", time_col="when", x_col="lon", y_col="lat",
    ...                       crs="EPSG:4326")
    >>> len(read.incidents), read.rows_rejected, read.rejects["reason"].tolist()
    (1, 1, ['unparseable time'])
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"incident file {str(path)!r} does not exist")
    header = _read_header(path)
    columns = _resolve_columns(
        header,
        time_col=time_col,
        x_col=x_col,
        y_col=y_col,
        crs=crs,
        id_col=id_col,
        category_col=category_col,
        time_format=time_format,
        code_cols=tuple(code_cols),
        path=path,
    )
    notes = _column_notes(columns, crs_given=crs is not None)
    raw, point_geometry, raw_crs, lines = _read_table(path, columns, header, notes)
    table = _Columns(raw)
    del raw  # handed over: its columns go as they are used
    read = _incidents(
        table,
        columns,
        line=lines,
        point_geometry=point_geometry,
        raw_crs=raw_crs,
        filter_category=filter_category,
        notes=notes,
        seen_ids=None,
    )
    for note in read.notes:
        logger.info(note)
    return read


def incidents_from_table(
    raw: pa.Table | pd.DataFrame,
    columns: IncidentColumns,
    *,
    line: np.ndarray,
    point_geometry: np.ndarray | None = None,
    raw_crs: str | None = None,
    filter_category: tuple[str, ...] | list[str] | None = None,
    notes: list[str] | None = None,
    seen_ids: SeenIds | None = None,
) -> IncidentRead:
    """The rules of :func:`read_incidents` applied to rows already read (a batch of a large file,
    or one file of a dataset read by a worker): times, coordinates, rejects, the working CRS.

    Each rule runs on whole columns (:mod:`.columnar`): the values it cannot settle exactly go,
    alone, through the per-value rules, and rejects are built from the failed rows only. The
    part's notes are logged at DEBUG only: its caller says the whole's (:func:`rejects_notes`).

    Parameters
    ----------
    raw : pyarrow.Table or pandas.DataFrame
        The rows, as read (text or numbers; a DataFrame is converted with pyarrow).
    columns : IncidentColumns
        The columns to use, as :func:`read_incidents` resolved them.
    line : numpy.ndarray
        Each row's line number in its source (for rejects).
    point_geometry : numpy.ndarray, optional
        Point geometries, for a GeoParquet source.
    raw_crs : str, optional
        The CRS of the coordinates (``columns.crs`` by default).
    filter_category : sequence of str, optional
        Keep only these categories.
    notes : list of str, optional
        Notes so far, extended in place.
    seen_ids : SeenIds, optional
        The ids of earlier parts of the same file (a stream's batches): a row repeating one is
        rejected as a duplicate, as a row repeating an earlier row of this part is; this part's
        ids are added.

    Returns
    -------
    IncidentRead

    Examples
    --------
    >>> table = pa.table({"when": ["2024-03-01 12:00", "later"], "lon": ["-87.63", "-87.6"],
    ...                   "lat": ["41.88", "41.9"]})
    >>> columns = IncidentColumns(time_col="when", x_col="lon", y_col="lat", crs="EPSG:4326")
    >>> read = incidents_from_table(table, columns, line=np.array([2, 3]))
    >>> len(read.incidents), read.rejects["reason"].tolist()
    (1, ['unparseable time'])
    """
    read = _incidents(
        _Columns(_as_table(raw)),
        columns,
        line=line,
        point_geometry=point_geometry,
        raw_crs=raw_crs,
        filter_category=filter_category,
        notes=notes,
        seen_ids=seen_ids,
    )
    for note in read.notes:  # a part's: its caller says the whole's
        logger.debug(note)
    return read


class _Columns:
    """The columns of a read, each let go once it is used: a large read does not hold its text
    columns and their copies at once (the caller hands the table over)."""

    def __init__(self, table: pa.Table) -> None:
        self.columns = {name: table.column(name) for name in table.column_names}
        self.num_rows = table.num_rows

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)

    def column(self, name: str) -> pa.ChunkedArray:
        return self.columns[name]

    def filter(self, keep: np.ndarray) -> _Columns:
        mask = pa.array(keep)
        kept = _Columns(pa.table({}))
        kept.columns = {name: values.filter(mask) for name, values in self.columns.items()}
        kept.num_rows = int(keep.sum())
        return kept

    def release(self, *names: str | None) -> None:
        """Let go of columns no longer needed."""
        for name in names:
            self.columns.pop(name, None)

    def take_out(self, name: str) -> pa.ChunkedArray:
        """A column, which this holder lets go of."""
        return self.columns.pop(name)


def _incidents(
    table: _Columns,
    columns: IncidentColumns,
    *,
    line: np.ndarray,
    point_geometry: np.ndarray | None,
    raw_crs: str | None,
    filter_category,
    notes: list[str] | None,
    seen_ids: SeenIds | None,
) -> IncidentRead:
    """:func:`incidents_from_table` on columns held by ``table``, let go of as they are used."""
    notes = [] if notes is None else notes
    raw_crs = raw_crs or columns.crs
    rows_read = table.num_rows
    line = np.asarray(line, dtype=np.int64)

    rows_filtered_out = 0
    if filter_category:
        if columns.category_col is None:
            raise OptionError("filter_category needs a category column (--category-col)")
        wanted = {str(value).strip().casefold() for value in filter_category}
        keep = _category_matches(table.column(columns.category_col), wanted)
        rows_filtered_out = int((~keep).sum())
        notes.append(
            f"kept categories {sorted(wanted)}; {rows_filtered_out} rows of other categories "
            "left out"
        )
        if rows_filtered_out:
            table = table.filter(keep)
            line = line[keep]
            if point_geometry is not None:
                point_geometry = point_geometry[keep]
    with ThreadPoolExecutor(max_workers=2) as pool:
        # each rule's results are used as soon as they are ready (the per-value rules of the
        # times run while the numbers and the ids are still being read)
        settled = _array_rules(table, columns, point_geometry, raw_crs, pool)
        occurred_at, time_problems, dst = _times(
            table.column(columns.time_col), columns, settled.ready("times").times
        )
        x, y, coordinate_problems = _parse_coordinates(
            table, columns, point_geometry, raw_crs, settled.ready("numbers", "area").numbers
        )
        incident_ids = _incident_ids(table, columns, line, settled.ready("ids").id_bytes)
        if settled.ids_as_read:  # the hashes rows share, sorted out while the rejects are made
            settled.pending["shared"] = [pool.submit(_find_shared_hashes, settled)]
        notes.extend(_dst_notes(*dst))
        problems = [(columns.time_col, time_problems), *coordinate_problems]
        bad = np.zeros(table.num_rows, dtype=bool)
        for _, masks in problems:
            for mask, _ in masks:
                bad |= mask
        frames = [
            _problem_frame(masks, line, incident_ids, column, table) for column, masks in problems
        ]
        settled.ready("shared")
    if columns.id_col is not None:  # the same incident twice is counted once
        hashes, shared = (
            (settled.id_hashes, settled.shared_hashes) if settled.ids_as_read else (None, None)
        )
        repeated, first_line = _repeated_ids(
            incident_ids, line, ~bad, seen_ids, hashes, shared=shared
        )
        if repeated.any():
            frames.append(
                _duplicate_frame(repeated, first_line, line, incident_ids, columns.id_col)
            )
            bad |= repeated
    rejects = _collect_rejects(frames)
    del frames, problems, time_problems, coordinate_problems, settled
    kept_names = [columns.category_col, *columns.code_cols]
    table.release(
        *(
            name
            for name in (columns.time_col, columns.x_col, columns.y_col, columns.id_col)
            if name not in kept_names
        )
    )

    good = ~bad
    gx, gy = _to_working_crs(x[good], y[good], raw_crs)
    del x, y
    codes = [code for code in columns.code_cols if code in table.column_names]
    jobs = [(_kept_values, (incident_ids, good))]
    del incident_ids
    for name in dict.fromkeys([columns.category_col, *codes]):
        if name:
            jobs.append((_kept_column, (table, name, good)))
    kept = dict(
        zip(
            ["ids", *dict.fromkeys(n for n in [columns.category_col, *codes] if n)],
            _two_at_a_time(jobs),
            strict=True,
        )
    )
    data = {
        INCIDENT_ID: kept["ids"],
        OCCURRED_AT: occurred_at[good],
        CATEGORY: kept[columns.category_col]
        if columns.category_col
        else np.full(int(good.sum()), None, object),
        SOURCE_LINE: line[good],
    }
    data.update({code: kept[code] for code in codes})
    import geopandas as gpd

    # the columns as they are, not copied (a frame given to GeoDataFrame, or a geometry set on
    # one, is copied whole by default: seconds and hundreds of megabytes on millions of rows)
    points = PointArray(gx, gy, crs=WORKING_CRS)
    if "geometry" in data:  # a code column of that name: the geometry is set as before
        incidents = gpd.GeoDataFrame(pd.DataFrame(data), geometry=points, crs=WORKING_CRS)
    else:
        data["geometry"] = points
        incidents = gpd.GeoDataFrame(
            pd.DataFrame(data, copy=False), geometry="geometry", crs=WORKING_CRS, copy=False
        )
    notes.extend(rejects_notes(rejects, rows_read))
    return IncidentRead(
        incidents=incidents,
        rejects=rejects,
        rows_read=rows_read,
        rows_filtered_out=rows_filtered_out,
        columns=columns,
        notes=notes,
        filter_category=tuple(str(value) for value in filter_category or ()),
        dst_moves=(int(dst[0]), int(dst[1])),
    )


@dataclass
class _Settled:
    """What the array rules settled, column by column, before the per-value rules run; each
    group of rules (``"times"``, ``"numbers"``, ``"ids"``, ``"area"``, then ``"shared"``) is
    read once :meth:`ready`."""

    times: ArrayTimes | None = None
    numbers: dict = field(default_factory=dict)
    id_bytes: tuple[np.ndarray, np.ndarray] | None = None
    id_hashes: np.ndarray | None = None
    #: the hashes that two rows or more share (sorted), found beside the other rules
    shared_hashes: np.ndarray | None = None
    #: the jobs still running, by group
    pending: dict[str, list[Future]] = field(default_factory=dict)

    @property
    def ids_as_read(self) -> bool:
        """Whether every id is used as read (nothing to strip, none empty), so its hash holds."""
        return self.id_bytes is not None and not self.id_bytes[0].any()

    def ready(self, *groups: str) -> _Settled:
        """These results, once the jobs of ``groups`` are done (raising what a job raised)."""
        for group in groups:
            for job in self.pending.pop(group, []):
                job.result()
        return self


def _array_rules(
    table: pa.Table,
    columns: IncidentColumns,
    point_geometry,
    raw_crs: str,
    pool: ThreadPoolExecutor,
) -> _Settled:
    """The array rules of every column of text, started on ``pool`` (numpy and Arrow let go of
    the interpreter while they work, so both cores work); the times in two halves; and the
    area of use of the coordinates' CRS looked up (``"area"``). Each writes its share of the
    results in place; :meth:`_Settled.ready` waits for a group of them."""
    n = table.num_rows
    settled = _Settled()

    def start(group: str, job, *arguments) -> None:
        settled.pending.setdefault(group, []).append(pool.submit(job, *arguments))

    start("area", _look_up_area_of_use, raw_crs)

    time_values = table.column(columns.time_col)
    if is_text(time_values):
        formats = (columns.time_format,) if columns.time_format else TIME_FORMATS
        layouts, window = layouts_for(formats), plausible_times()
        settled.times = ArrayTimes.unset(n)  # each half clears and fills its own rows
        settled.times.utc_ns = np.empty(n, dtype=np.int64)
        settled.times.unsure = np.empty(n, dtype=bool)
        first = 0
        for part in _halves(time_values):
            into = {"into": settled.times, "start": first}
            start("times", functools.partial(_read_and_localize, **into), part, layouts, window)
            first += len(part)
    if point_geometry is None:
        for name in dict.fromkeys((columns.x_col, columns.y_col)):
            if is_text(table.column(name)):
                # (the numbers are filled, their memory first touched, by the job itself)
                into = tuple([np.empty(n), *(np.zeros(n, dtype=bool) for _ in range(3))])
                settled.numbers[name] = into
                start("numbers", functools.partial(_plain_numbers, into=into), table.column(name))
    if columns.id_col is not None and is_text(table.column(columns.id_col)):
        ids = table.column(columns.id_col)
        if not _is_view(ids.type):
            settled.id_bytes = (np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64))
            settled.id_hashes = np.zeros(n, dtype=np.uint64)
            first = 0
            for part in _halves(ids):  # (in two halves: the ids' job is otherwise the last)
                start("ids", functools.partial(_id_rules, start=first), settled, part)
                first += len(part)
    return settled


def _plain_numbers(values: pa.ChunkedArray, *, into: tuple[np.ndarray, ...]) -> None:
    """:func:`read_plain_numbers` into ``into``, whose numbers are not yet written."""
    into[0].fill(np.nan)
    read_plain_numbers(values, into=into)


def _id_rules(settled: _Settled, ids: pa.ChunkedArray, *, start: int) -> None:
    """:func:`_id_bytes` of a part of the ids and each id's hash, into ``settled`` from row
    ``start`` on; each piece of the column is seen as bytes once for both."""
    for piece in chunks(ids):
        text = TextBytes.of(piece)
        _bytes_of_ids(text, settled.id_bytes, start)
        settled.id_hashes[start : start + len(text)] = hash_bytes(text)
        start += len(text)


def _find_shared_hashes(settled: _Settled) -> None:
    """The hashes that several rows share (the only rows whose ids :func:`_repeated_ids`
    compares), into ``settled``."""
    settled.shared_hashes = shared_values(settled.id_hashes)


def shared_values(values: np.ndarray) -> np.ndarray:
    """The values (64-bit) that occur more than once, sorted.

    Examples
    --------
    >>> shared_values(np.array([5, 3, 5, 9, 3, 5], dtype=np.uint64)).tolist()
    [3, 5]
    """
    ordered = np.sort(values)
    return np.unique(ordered[1:][ordered[1:] == ordered[:-1]])


def members(values: np.ndarray, of: np.ndarray) -> np.ndarray:
    """Which of ``values`` (well-mixed 64-bit hashes) are in ``of`` (sorted, distinct).

    A table of the low bits of ``of`` rules out nearly every value at once; the few left are
    looked up exactly. (``np.isin`` sorts all the values, or compares them with each member: a
    second or more for millions of rows and a few hundred members.)

    Examples
    --------
    >>> members(np.array([7, 2, 9, 2], dtype=np.uint64), np.array([2, 9], dtype=np.uint64)).tolist()
    [False, True, True, True]
    """
    found = np.zeros(len(values), dtype=bool)
    if not len(of) or not len(values):
        return found
    bits = int(np.clip(np.ceil(np.log2(8 * len(of))), 10, 26))
    mask = np.uint64((1 << bits) - 1)
    table = np.zeros(1 << bits, dtype=bool)
    table[(of & mask).astype(np.intp)] = True
    maybe = np.flatnonzero(table[(values & mask).astype(np.intp)])
    where = np.minimum(np.searchsorted(of, values[maybe]), len(of) - 1)
    found[maybe] = of[where] == values[maybe]
    return found


def _two_at_a_time(jobs: list) -> list:
    """The results of ``(function, arguments)`` jobs, run on two threads, in order."""
    if len(jobs) <= 1:
        return [function(*arguments) for function, arguments in jobs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(function, *arguments) for function, arguments in jobs]
        return [future.result() for future in futures]


def _halves(values: pa.Array | pa.ChunkedArray) -> list:
    """A column in two parts of about equal rows (its chunks kept whole)."""
    parts = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    if len(parts) <= 1:
        whole = parts[0] if parts else pa.array([], type=values.type)
        half = len(whole) // 2
        return [whole.slice(0, half), whole.slice(half)]
    sizes = np.cumsum([len(part) for part in parts])
    cut = int(np.searchsorted(sizes, sizes[-1] / 2)) + 1
    return [pa.chunked_array(parts[:cut], values.type), pa.chunked_array(parts[cut:], values.type)]


def _id_bytes(
    values: pa.ChunkedArray, *, into: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Which ids ``str.strip`` could change (or are missing), and each id's length."""
    if into is None:
        into = (np.zeros(len(values), dtype=bool), np.zeros(len(values), dtype=np.int64))
    start = 0
    for piece in chunks(values):
        text = TextBytes.of(piece)
        _bytes_of_ids(text, into, start)
        start += len(text)
    return into


def _bytes_of_ids(text: TextBytes, into: tuple[np.ndarray, np.ndarray], start: int) -> None:
    """:func:`_id_bytes` of one piece, into its rows from ``start`` on."""
    into[0][start : start + len(text)] = strip_needed(text) | text.null
    into[1][start : start + len(text)] = text.length


def _as_table(raw: pa.Table | pd.DataFrame) -> pa.Table:
    """The rows as an Arrow table; a DataFrame column of mixed Python values becomes text."""
    if isinstance(raw, pa.Table):
        return raw
    arrays = {}
    for name in raw.columns:
        values = raw[name]
        try:
            arrays[str(name)] = pa.array(values, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            text = [None if pd.isna(value) else value_as_text(value) for value in values]
            arrays[str(name)] = pa.array(text, type=pa.string())
    return pa.table(arrays) if arrays else pa.table({})


def _whole_column(values: pa.ChunkedArray) -> pd.Series:
    """A column as pandas reads it (the per-value rules' input)."""
    return values.to_pandas()


def _text_values(values: pa.Array | pa.ChunkedArray):
    """Text as pandas holds Python strings in a table: its ``str`` array, or, with no string at
    all (no value, or only missing ones), objects."""
    if values.null_count == len(values):
        return np.full(len(values), np.nan if len(values) else None, dtype=object)
    return values.to_pandas().array


def _kept(values: pa.Array | pa.ChunkedArray, good: np.ndarray):
    """The values of the rows kept (all of them without a copy, when all are kept)."""
    return values if good.all() else values.filter(pa.array(good))


def _kept_column(table: _Columns, name: str, good: np.ndarray):
    """:func:`_kept_values` of a column that ``table`` then lets go of."""
    values = table.take_out(name)
    return _kept_values(values, good)


def _kept_values(values: pa.ChunkedArray, good: np.ndarray):
    """The values of the good rows as the incidents table holds them: text as ``str``, anything
    else as the Python objects pandas gives."""
    if is_text(values):
        return _text_values(_kept(values, good))
    return _whole_column(values).to_numpy(dtype=object)[good]


def _category_matches(values: pa.ChunkedArray, wanted: set[str]) -> np.ndarray:
    """Which rows have one of the ``wanted`` categories (compared stripped and casefolded): each
    distinct value is compared once."""
    if not is_text(values):
        return as_text(_whole_column(values)).str.casefold().isin(wanted).to_numpy()
    codes, distinct = encode(values)
    text = as_text(pd.Series(distinct, dtype=object)).str.casefold()
    return text.isin(wanted).to_numpy()[codes]


DUPLICATE_ID = "duplicate incident id"
_FIRST_ON_LINE = r" \((?:first on line \d+|first in an earlier part)\)$"


class SeenIds:
    """The ids of the incidents of earlier parts of one file (batches of a stream), kept as
    64-bit hashes in one sorted array, so a part can tell its repeated ids.

    Examples
    --------
    >>> seen = SeenIds()
    >>> seen.repeated(np.array(["a", "b"], dtype=object)).tolist()
    [False, False]
    >>> seen.add(np.array(["a", "b"], dtype=object))
    >>> seen.repeated(np.array(["c", "a"], dtype=object)).tolist()
    [False, True]
    """

    def __init__(self) -> None:
        self.hashes = np.zeros(0, dtype=np.uint64)

    @staticmethod
    def _hash(ids) -> np.ndarray:
        if not isinstance(ids, (pa.Array, pa.ChunkedArray)):
            ids = pa.array(np.asarray(ids, dtype=object), type=pa.string())
        return hash_text(ids)

    def repeated(self, ids) -> np.ndarray:
        """Which of ``ids`` (text: an array of str, or an Arrow array) were seen before."""
        return self.repeated_hashes(self._hash(ids))

    def add(self, ids) -> None:
        """Keep ``ids`` (new ones: none of them seen before)."""
        self.add_hashes(self._hash(ids))

    def repeated_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """Which of ``hashes`` were added before (looked up in sorted order)."""
        found = np.zeros(len(hashes), dtype=bool)
        if not len(self.hashes) or not len(hashes):
            return found
        ordered = np.sort(hashes)
        where = np.minimum(np.searchsorted(self.hashes, ordered), len(self.hashes) - 1)
        common = ordered[self.hashes[where] == ordered]
        if not len(common):
            return found
        where = np.minimum(np.searchsorted(common, hashes), len(common) - 1)
        return common[where] == hashes

    def add_hashes(self, hashes: np.ndarray) -> None:
        """Keep ``hashes`` (of new ids)."""
        ordered = np.sort(hashes)
        if len(ordered):
            ordered = ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])]
        merged = np.concatenate([self.hashes, ordered])
        self.hashes = np.sort(merged, kind="stable")  # two sorted runs: timsort merges them


def _repeated_ids(
    ids: pa.Array | pa.ChunkedArray,
    line: np.ndarray,
    candidate: np.ndarray,
    seen_ids: SeenIds | None,
    hashes: np.ndarray | None = None,
    *,
    shared: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Which candidate rows repeat the id of an earlier candidate row (or of an earlier part),
    and the line of that first row (0 for an earlier part).

    Rows are compared by a hash of their id; only rows whose hash occurs twice (``shared``:
    the hashes that rows of the whole read share, when known) are compared as text, so a
    repeated id is exact."""
    repeated = np.zeros(len(ids), dtype=bool)
    first_line = np.zeros(len(ids), dtype=np.int64)
    if not candidate.any():
        return repeated, first_line
    if hashes is None:
        hashes, shared = hash_text(ids), None
    twice = shared_values(hashes[candidate]) if shared is None else shared
    if len(twice):  # the rows whose hash another row has: their ids compared as text
        # (every row looked up at once: no copy of the candidates' hashes)
        compared = np.flatnonzero(members(hashes, twice) & candidate)
        frame = pd.DataFrame(
            {"id": ids.take(pa.array(compared)).to_pylist(), "line": line[compared]}
        )
        again = frame["id"].duplicated(keep="first").to_numpy()
        if again.any():
            firsts = frame.drop_duplicates("id").set_index("id")["line"]
            repeated[compared[again]] = True
            first_line[compared[again]] = firsts.reindex(frame["id"][again]).to_numpy()
    if seen_ids is not None:
        rows = np.flatnonzero(candidate)
        earlier = seen_ids.repeated_hashes(hashes[rows]) & ~repeated[rows]
        repeated[rows[earlier]] = True
        seen_ids.add_hashes(hashes[rows[~repeated[rows]]])
    return repeated, first_line


def _duplicate_frame(
    repeated: np.ndarray, first_line: np.ndarray, line: np.ndarray, ids: pa.Array, column: str
) -> pd.DataFrame:
    where = [
        f"first on line {first}" if first else "first in an earlier part"
        for first in first_line[repeated]
    ]
    values = np.array(ids.take(pa.array(np.flatnonzero(repeated))).to_pylist(), dtype=object)
    return pd.DataFrame(
        {
            SOURCE_LINE: line[repeated],
            INCIDENT_ID: values,
            COLUMN: column,
            VALUE: values,
            REASON: [f"{DUPLICATE_ID} ({text})" for text in where],
        }
    )


def _incident_ids(
    table: pa.Table,
    columns: IncidentColumns,
    line: np.ndarray,
    id_bytes: tuple[np.ndarray, np.ndarray] | None = None,
) -> pa.Array | pa.ChunkedArray:
    """Each row's id as text: the id column stripped (``as_text``), or ``line-N`` where it is
    empty or there is no id column (``id_bytes``: :func:`_id_bytes` of the column, if known)."""
    if columns.id_col is None:
        return _line_ids(line)
    values = table.column(columns.id_col)
    if is_text(values):
        if _is_view(values.type):
            values = values.cast(pa.large_string())
            id_bytes = None
        fix, lengths = id_bytes if id_bytes is not None else _id_bytes(values)
        fix = np.flatnonzero(fix)
        ids = values
        if len(fix):  # the few values that str.strip could change, or nulls
            ids = one_array(values)
            cleaned = as_text(pd.Series(ids.take(pa.array(fix)).to_pylist(), dtype=object))
            ids = pc.replace_with_mask(
                ids, _mask(fix, len(ids)), pa.array(cleaned.tolist(), type=ids.type)
            )
            lengths = TextBytes.of(ids).length
    elif pa.types.is_integer(values.type) and values.null_count == 0:
        ids = values.cast(pa.string())
        lengths = text_lengths(ids)
    else:
        ids = pa.array(as_text(_whole_column(values)).tolist(), type=pa.string())
        lengths = TextBytes.of(ids).length
    empty = np.flatnonzero(lengths == 0)
    if len(empty):
        ids = one_array(ids)
        ids = pc.replace_with_mask(
            ids, _mask(empty, len(ids)), _line_ids(line[empty]).cast(ids.type)
        )
    return ids


def _line_ids(line: np.ndarray) -> pa.Array:
    """``line-N`` for each line number."""
    return pc.binary_join_element_wise("line-", pa.array(line).cast(pa.string()), "")


def _mask(rows: np.ndarray, n: int) -> pa.Array:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return pa.array(mask)


def _times(
    values: pa.ChunkedArray, columns: IncidentColumns, fast: ArrayTimes | None = None
) -> tuple[pd.DatetimeIndex, list[tuple[np.ndarray, str]], tuple[int, int]]:
    """Times to tz-aware America/Chicago, the masks of bad rows with their reasons, and the
    numbers of times moved out of a DST gap and read in a repeated hour.

    Text in a layout :mod:`.columnar` reads exactly (the time formats tried, ISO 8601 with an
    offset) and inside the plausible window is parsed there; every other value goes through
    :func:`_parse_times`, which read every value before, with the formats in the order that the
    whole column's sample gives."""
    if not is_text(values):
        return _parse_times(_whole_column(values), columns)
    formats = (columns.time_format,) if columns.time_format else TIME_FORMATS
    if fast is None:
        fast = read_times(values, layouts_for(formats), plausible_times())
    n = len(fast.wall)
    if fast.utc_ns is None:
        _localize_settled(fast, 0, n)
    utc_ns = fast.utc_ns
    unsure_rows = [np.flatnonzero(fast.unsure)]
    gap = overlap = 0
    unsure_rows = np.concatenate(unsure_rows) if unsure_rows else np.zeros(0, dtype=np.int64)
    if len(unsure_rows):
        wall = pd.DatetimeIndex(fast.wall[unsure_rows].astype("datetime64[us]")).as_unit("ns")
        localized, gap, overlap = _localize(wall)
        utc_ns[unsure_rows] = localized.asi8
    missing = fast.missing.copy()
    unparseable = np.zeros(n, dtype=bool)
    early = np.zeros(n, dtype=bool)
    late = np.zeros(n, dtype=bool)
    slow = np.flatnonzero(~fast.settled)
    if len(slow):
        if not columns.time_format:
            formats = _likely_first(_pending_sample(values))
        text = pd.Series(values.take(pa.array(slow)).to_pylist(), dtype=object)
        result, problems, (more_gap, more_overlap) = _parse_times(text, columns, formats)
        utc_ns[slow] = result.asi8
        for target, (mask, _) in zip((missing, unparseable, early, late), problems, strict=True):
            target[slow[mask]] = True
        gap += more_gap
        overlap += more_overlap
    # UTC clock times are UTC instants: read so at once (a naive index localised to UTC
    # afterwards is one more copy, 20 ms in a new process)
    occurred_at = pd.DatetimeIndex(
        utc_ns.view("datetime64[ns]"), dtype=pd.DatetimeTZDtype("ns", "UTC")
    )
    problems = [
        (missing, "missing time"),
        (unparseable, "unparseable time"),
        *_implausible(early, late),
    ]
    return occurred_at.tz_convert(TIMEZONE), problems, (gap, overlap)


def _localize_settled(fast: ArrayTimes, start: int, stop: int) -> None:
    """The instants (UTC nanoseconds) of the times settled in rows ``start`` to ``stop``, in
    ``fast.utc_ns``; clock times too near a change of offset are marked in ``fast.unsure``, for
    :func:`_localize`. A million rows at a time: few temporaries."""
    if fast.utc_ns is None:
        fast.utc_ns = np.full(len(fast.wall), NAT, dtype=np.int64)
        fast.unsure = np.zeros(len(fast.wall), dtype=bool)
    for begin in range(start, stop, ROWS_AT_A_TIME):
        part = slice(begin, min(begin + ROWS_AT_A_TIME, stop))
        utc_us, unsure = localize_clock(fast.wall[part], TIMEZONE)
        fast.utc_ns[part] = NAT  # (the rows may not have been written yet)
        np.multiply(utc_us, 1000, out=fast.utc_ns[part], where=utc_us != NAT)
        np.multiply(fast.utc[part], 1000, out=fast.utc_ns[part], where=fast.aware[part])
        fast.unsure[part] = unsure


def _read_and_localize(part, layouts, window, *, into: ArrayTimes, start: int) -> None:
    """:func:`read_times` of one part of a column (its rows of ``into`` cleared first), then
    :func:`_localize_settled` of it."""
    into.clear(start, start + len(part))
    read_times(part, layouts, window, into=into, start=start)
    _localize_settled(into, start, start + len(part))


def _pending_sample(values: pa.ChunkedArray, size: int = 200) -> pd.Series:
    """The first ``size`` values of a column of text that are neither empty nor end with an
    offset: the sample :func:`_likely_first` orders the formats by."""
    head = 4 * size
    while True:
        text = as_text(pd.Series(values.slice(0, head).to_pylist(), dtype=object))
        pending = text[(text != "") & ~text.str.contains(_OFFSET_AT_END, regex=True)]
        if len(pending) >= size or head >= len(values):
            return pending.head(size)
        head *= 8


def _parse_times(
    values: pd.Series, columns: IncidentColumns, formats: tuple[str, ...] | None = None
) -> tuple[pd.DatetimeIndex, list[tuple[np.ndarray, str]], tuple[int, int]]:
    """Parse times to tz-aware America/Chicago, value by value (pandas); return the masks of bad
    rows with reasons, and the numbers of times moved out of a DST gap and read in a repeated
    hour.

    Times are checked against :func:`plausible_times` at the resolution they were read in,
    before any conversion that could wrap them around (pandas' nanoseconds end in 2262). Text is
    tried with ``formats`` in order (by default the format given, or the time formats ordered by
    how many of the first 200 values each reads)."""
    window = plausible_times()
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = pd.DatetimeIndex(values)
        missing = np.asarray(parsed.isna())
        utc = parsed.tz_convert("UTC").tz_localize(None) if parsed.tz is not None else parsed
        early, late = _outside(utc.to_numpy(dtype="datetime64[us]"), window)
        parsed = parsed.where(~(early | late)).as_unit("ns")
        problems = [(missing, "missing time"), *_implausible(early, late)]
        if parsed.tz is not None:
            return parsed.tz_convert(TIMEZONE), problems, (0, 0)
        localized, gap, overlap = _localize(parsed)
        return localized, problems, (gap, overlap)

    text = as_text(values)
    missing = text.eq("").to_numpy()
    with_offset = text.str.contains(_OFFSET_AT_END, regex=True).to_numpy()
    aware_utc = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    early = np.zeros(len(text), dtype=bool)
    late = np.zeros(len(text), dtype=bool)

    pending = ~missing & ~with_offset
    if columns.time_format:
        formats = (columns.time_format,)
    elif formats is None:
        formats = _likely_first(text[pending])
    local_wall = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    for time_format in formats:
        if not pending.any():
            break
        parsed = _parse_with(text[pending], time_format)
        if getattr(parsed.dt, "tz", None) is not None:  # an offset the pattern did not catch
            parsed = parsed.dt.tz_convert(TIMEZONE).dt.tz_localize(None)
        index = np.flatnonzero(pending)
        values_us = parsed.to_numpy(dtype="datetime64[us]")
        read = ~np.isnat(values_us)
        too_early, too_late = _outside(values_us, window)
        good = read & ~too_early & ~too_late
        local_wall[index[good]] = values_us[good].astype("datetime64[ns]")
        early[index[too_early]] = True
        late[index[too_late]] = True
        pending[index[read]] = False
    if with_offset.any():
        parsed = pd.to_datetime(text[with_offset], format="ISO8601", utc=True, errors="coerce")
        values_us = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        too_early, too_late = _outside(values_us, window)
        good = ~np.isnat(values_us) & ~too_early & ~too_late
        index = np.flatnonzero(with_offset)
        aware_utc[index[good]] = values_us[good].astype("datetime64[ns]")
        early[index[too_early]] = True
        late[index[too_late]] = True
    unparseable = ~missing & np.isnat(local_wall) & np.isnat(aware_utc) & ~early & ~late

    localized, gap, overlap = _localize(pd.DatetimeIndex(local_wall))
    utc_wall = np.where(
        with_offset,
        aware_utc,
        localized.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]"),
    )
    result = pd.DatetimeIndex(utc_wall).tz_localize("UTC").tz_convert(TIMEZONE)
    problems = [
        (missing, "missing time"),
        (unparseable, "unparseable time"),
        *_implausible(early, late),
    ]
    return result, problems, (gap, overlap)


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(_PARQUET_SUFFIXES)


def _is_csv(path: Path) -> bool:
    return path.name.lower().endswith(_CSV_SUFFIXES)


def _read_header(path: Path) -> list[str]:
    try:
        if _is_parquet(path):
            return list(pq.read_schema(path).names)
        if _is_csv(path):
            names = _plain_header(path)
            if names is None:  # quoted, empty or repeated names: as pandas names them
                names = [str(name) for name in pd.read_csv(path, nrows=0).columns]
            return names
    except (*_READ_ERRORS, pa.ArrowException) as error:
        raise InputFileError(f"cannot read {str(path)!r}: {_what(error)}") from error
    raise InputFileError(
        f"incident file {str(path)!r} is not a CSV (.csv, .csv.gz) or Parquet (.parquet) file"
    )


def _plain_header(path: Path) -> list[str] | None:
    """The names on a CSV's first line when pandas would read them as written there: UTF-8
    names separated by commas, with no quote, none empty or repeated. Otherwise None.

    (``pandas.read_csv(nrows=0)`` takes 15 ms in a new process; this, a fraction of one.)
    """
    with _open_binary(path) as raw:
        first = raw.readline(1 << 20)
    if len(first) == 1 << 20:  # (perhaps not the whole line)
        return None
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    text = text.removesuffix("\n").removesuffix("\r")
    names = text.split(",")
    if any(mark in text for mark in '"\r\n\x00') or len(set(names)) != len(names):
        return None
    return names if all(names) and text.strip() else None


#: What reading a broken file raises: an unreadable or cut-off file (a truncated .gz ends in
#: EOFError, a garbled one in zlib.error), text that is not UTF-8, a malformed table.
_READ_ERRORS = (OSError, EOFError, zlib.error, ValueError, UnicodeDecodeError)


def _what(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, EOFError):
        return f"the file ends too early, cut off or truncated ({text})"
    return text


def _geoparquet_geometry_column(path: Path) -> str:
    """The primary geometry column named in a GeoParquet file's metadata."""
    import json

    info = json.loads((pq.read_schema(path).metadata or {})[b"geo"])
    return str(info.get("primary_column", GEOMETRY))


def _geoparquet_crs(path: Path) -> str | None:
    """The CRS of a GeoParquet file's geometry column, or None for plain Parquet."""
    import json

    metadata = pq.read_schema(path).metadata or {}
    geo = metadata.get(b"geo")
    if not geo:
        return None
    info = json.loads(geo)
    column = info["columns"][info.get("primary_column", GEOMETRY)]
    crs = column.get("crs")
    if crs is None:
        return "EPSG:4326"  # the GeoParquet default
    return CRS.from_user_input(crs).to_string()


def _resolve_columns(
    header: list[str],
    *,
    time_col: str | None,
    x_col: str | None,
    y_col: str | None,
    crs: str | None,
    id_col: str | None,
    category_col: str | None,
    time_format: str | None,
    code_cols: tuple[str, ...],
    path: Path,
) -> IncidentColumns:
    portal = {PORTAL_COLUMNS.time_col, PORTAL_COLUMNS.x_col, PORTAL_COLUMNS.y_col} <= set(header)
    geoparquet_crs = _geoparquet_crs(path) if _is_parquet(path) else None
    if portal:
        base = PORTAL_COLUMNS
        if id_col is None and PORTAL_COLUMNS.id_col not in header:
            base = replace(base, id_col=None)
        if category_col is None and PORTAL_COLUMNS.category_col not in header:
            base = replace(base, category_col=None)
    elif time_col is None:
        raise OptionError(
            f"{str(path)!r} is not the portal's 'Crimes - 2001 to Present' export (it has no "
            "'Date', 'X Coordinate' and 'Y Coordinate'); name its columns with --time-col, "
            f"--x-col, --y-col and --crs. Columns present: {', '.join(map(repr, header))}"
        )
    else:
        base = IncidentColumns(time_col=time_col, x_col=None, y_col=None, crs=None)
    given = {
        "time_col": time_col,
        "x_col": x_col,
        "y_col": y_col,
        "crs": crs,
        "id_col": id_col,
        "category_col": category_col,
        "time_format": time_format,
    }
    columns = replace(base, **{key: value for key, value in given.items() if value is not None})
    if code_cols:
        columns = replace(columns, code_cols=tuple(dict.fromkeys(columns.code_cols + code_cols)))

    if columns.x_col is None or columns.y_col is None:
        if geoparquet_crs is None:
            raise OptionError(
                "name the coordinate columns with --x-col and --y-col (or give a GeoParquet "
                f"file of points); columns present: {', '.join(map(repr, header))}"
            )
        if (columns.x_col is None) != (columns.y_col is None):
            raise OptionError("give both --x-col and --y-col, or neither for a GeoParquet file")
    roles = {
        "the time column (--time-col)": columns.time_col,
        "the x column (--x-col)": columns.x_col,
        "the y column (--y-col)": columns.y_col,
        "the id column (--id-col)": columns.id_col,
        "the category column (--category-col)": columns.category_col,
    }
    for role, name in roles.items():
        if name is not None and name not in header:
            raise MissingColumnError(name, header, role)
    for name in code_cols:
        if name not in header:
            raise MissingColumnError(name, header, "the recorded code column (--code-col)")

    if columns.crs is None:
        if columns.x_col is None:
            columns = replace(columns, crs=geoparquet_crs)
        elif _looks_like_lon_lat(columns.x_col, columns.y_col):
            columns = replace(columns, crs="EPSG:4326")
        else:
            raise OptionError(
                f"the CRS of {columns.x_col!r}/{columns.y_col!r} is unknown: give --crs "
                "(for example EPSG:4326 for longitude/latitude, EPSG:3435 for Illinois East feet)"
            )
    try:
        CRS.from_user_input(columns.crs)
    except CRSError as error:
        raise OptionError(f"'crs' was {columns.crs!r}, which is not a known CRS: {error}") from None
    return columns


def _looks_like_lon_lat(x_col: str | None, y_col: str | None) -> bool:
    return (x_col or "").strip().lower() in {"lon", "lng", "long", "longitude"} and (
        y_col or ""
    ).strip().lower() in {"lat", "latitude"}


def _read_table(
    path: Path, columns: IncidentColumns, header: list[str], notes: list[str]
) -> tuple[pa.Table, np.ndarray | None, str, np.ndarray]:
    """The needed columns (text from a CSV, as stored from Parquet), points if GeoParquet, and
    each row's line (the CSV line where its record starts, header = 1; the Parquet row from 1).
    What the reading noticed (values that are not UTF-8) goes to ``notes``."""
    wanted = _wanted(columns, header)
    try:
        if _is_parquet(path):
            if columns.x_col is None:
                import geopandas as gpd

                geometry_column = _geoparquet_geometry_column(path)
                points = gpd.read_parquet(path, columns=[geometry_column])
                geometry = points.geometry.to_numpy()
                if not np.all(shapely.get_type_id(geometry[~shapely.is_missing(geometry)]) == 0):
                    raise InputFileError(f"the geometry of {str(path)!r} is not points")
                table = pq.read_table(path, columns=wanted)
                return table, geometry, str(columns.crs), _source_lines(path, table.num_rows)
            table = pq.read_table(path, columns=wanted)
            return table, None, str(columns.crs), _source_lines(path, table.num_rows)
        table, lines = _read_csv(path, wanted, notes)
    except (*_READ_ERRORS, pa.ArrowException) as error:
        raise InputFileError(f"cannot read {str(path)!r}: {_what(error)}") from error
    return table, None, str(columns.crs), lines


def _wanted(columns: IncidentColumns, header: list[str]) -> list[str]:
    """The columns a read needs, each once, in the order id, time, x, y, category, codes."""
    names = (
        columns.id_col,
        columns.time_col,
        columns.x_col,
        columns.y_col,
        columns.category_col,
        *columns.code_cols,
    )
    return list(dict.fromkeys(name for name in names if name is not None and name in header))


def _source_lines(path: Path, n_rows: int) -> np.ndarray:
    """The row of each record of a Parquet file, from 1."""
    return np.arange(1, 1 + n_rows, dtype=np.int64)


#: pyarrow's first block size for a CSV; made larger while a record does not fit (a field of
#: megabytes is valid CSV), up to :data:`_MAX_BLOCK_BYTES`. Smaller blocks hold less memory in
#: flight: reading a million rows of the portal's export takes 170 MB of fresh pages with 2 MB
#: blocks, 200 with 4 and 375 with 16, and the CPU time of a first read falls with it.
_FIRST_BLOCK_BYTES = 1 << 21
_MAX_BLOCK_BYTES = 1 << 31


def _read_csv(path: Path, wanted: list[str], notes: list[str], *, newlines_in_values: bool = False):
    """The wanted columns of a CSV as text, and the file line where each record starts; values
    that are not UTF-8 are read with those bytes escaped, and said in ``notes``.

    The file is read once: its line breaks are counted as pyarrow reads it. When there are as
    many lines as records (and the header), each record is a line; otherwise (a quoted field
    holding a line break, blank lines) the records are found by reading the file as CSV."""
    block = _FIRST_BLOCK_BYTES
    while True:
        try:
            table, counter = read_csv_counting(
                path, wanted, block, newlines_in_values=newlines_in_values
            )
            break
        except pa.ArrowInvalid as error:
            if "straddling" not in str(error) or block >= _MAX_BLOCK_BYTES:
                raise
            block = min(block * 4, _MAX_BLOCK_BYTES)
    if counter.simple_lines(table.num_rows):
        lines = np.arange(2, 2 + table.num_rows, dtype=np.int64)
    else:
        lines = _scanned_record_lines(path)
    if len(lines) != table.num_rows:
        if not newlines_in_values:  # a quoted field holds a line break: read it as one
            return _read_csv(path, wanted, notes, newlines_in_values=True)
        raise InputFileError(
            f"cannot read {str(path)!r}: its records cannot be told apart consistently "
            f"({table.num_rows:,} by one reading, {len(lines):,} by another); check its quotes"
        )
    found = NotUtf8()
    table = text_columns(table, lines, found)
    notes.extend(found.notes())
    return table, lines


def _open_binary(path: Path):
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    return path.open("rb")


def _scanned_record_lines(path: Path) -> np.ndarray:
    """Where each data record starts, reading the file as CSV (blank lines are no record)."""
    return np.fromiter(_record_starts(path), dtype=np.int64)


def _record_starts(path: Path):
    """The line (header = 1) where each data record of a CSV starts, one after the other,
    reading the file as CSV (blank lines are no record)."""
    import csv
    import io

    csv.field_size_limit(_MAX_BLOCK_BYTES)
    with _open_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text)
        before = 0
        header_seen = False
        for record in reader:
            if record:
                if header_seen:
                    yield before + 1
                header_seen = True
            before = reader.line_num


#: The first day an incident may have happened; earlier times are rejected as implausible.
EARLIEST_TIME = "1900-01-01"


def plausible_times() -> tuple[np.datetime64, np.datetime64]:
    """The times an incident can have: from :data:`EARLIEST_TIME` to a day after now (UTC).

    Examples
    --------
    >>> first, last = plausible_times()
    >>> str(first), bool(last > np.datetime64("2024-01-01"))
    ('1900-01-01T00:00:00.000000', True)
    """
    now = np.datetime64(dt.datetime.now(dt.UTC).replace(tzinfo=None), "us")
    return np.datetime64(EARLIEST_TIME, "us"), now + np.timedelta64(1, "D")


def _outside(
    values: np.ndarray, window: tuple[np.datetime64, np.datetime64]
) -> tuple[np.ndarray, np.ndarray]:
    """Which read times fall before or after the plausible window (NaT: neither)."""
    read = ~np.isnat(values)
    return read & (values < window[0]), read & (values > window[1])


def _implausible(early: np.ndarray, late: np.ndarray) -> list[tuple[np.ndarray, str]]:
    return [
        (early, f"implausible time (before {EARLIEST_TIME})"),
        (late, "implausible time (in the future)"),
    ]


def _likely_first(text: pd.Series) -> tuple[str, ...]:
    """:data:`TIME_FORMATS`, the one that reads most of a sample of the values first."""
    sample = text.head(200)
    if sample.empty:
        return TIME_FORMATS
    read = [int(_parse_with(sample, time_format).notna().sum()) for time_format in TIME_FORMATS]
    order = sorted(range(len(TIME_FORMATS)), key=lambda i: -read[i])
    return tuple(TIME_FORMATS[i] for i in order)


def _parse_with(text: pd.Series, time_format: str) -> pd.Series:
    try:
        return pd.to_datetime(text, format=time_format, errors="coerce")
    except ValueError as error:
        raise OptionError(
            f"'time_format' was {time_format!r}, which is not a format: {error}"
        ) from None
    except (TypeError, OverflowError):  # pragma: no cover - mixed offsets are split out above
        return pd.to_datetime(text, format=time_format, errors="coerce", utc=True)


def _localize(wall: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, int, int]:
    """Wall-clock times (nanoseconds) to America/Chicago, with the DST rule of
    :func:`read_incidents`; also the numbers of times in a spring-forward gap and in a fall-back
    hour. Times away from both have one reading (:func:`.columnar.localize_clock`); pandas reads
    the others, one rule for each."""
    clock = np.asarray(wall.as_unit("ns").asi8)
    utc, unsure = localize_clock(clock, TIMEZONE, per_second=1_000_000_000)
    in_gap = in_overlap = 0
    rows = np.flatnonzero(unsure)
    if len(rows):
        near = wall[rows]
        strict = near.tz_localize(TIMEZONE, ambiguous="NaT", nonexistent="NaT")
        lost = np.asarray(strict.isna() & ~near.isna())
        if lost.any():
            forward = near.tz_localize(TIMEZONE, ambiguous="NaT", nonexistent="shift_forward")
            in_gap = int((lost & np.asarray(~forward.isna())).sum())
            in_overlap = int(lost.sum()) - in_gap
        localized = near.tz_localize(
            TIMEZONE, ambiguous=np.ones(len(near), dtype=bool), nonexistent="shift_forward"
        )
        utc[rows] = localized.asi8
    result = pd.DatetimeIndex(utc.view("datetime64[ns]")).tz_localize("UTC")
    return result.tz_convert(TIMEZONE), in_gap, in_overlap


def _column_notes(columns: IncidentColumns, *, crs_given: bool) -> list[str]:
    """What the reader decided about the columns that a user should know: a CRS it assumed, the
    portal's export recognised."""
    notes = []
    if (
        not crs_given
        and columns.x_col is not None
        and _looks_like_lon_lat(columns.x_col, columns.y_col)
    ):
        notes.append(f"assumed EPSG:4326 for columns {columns.x_col!r}/{columns.y_col!r}")
    if columns.id_col == PORTAL_COLUMNS.id_col and columns.time_col == PORTAL_COLUMNS.time_col:
        notes.append("recognised the City of Chicago portal's 'Crimes - 2001 to Present' export")
    return notes


def rejects_notes(rejects: pd.DataFrame, rows_read: int) -> list[str]:
    """The rejects in one note: how many rows of how many, and how many for each reason.

    A row is counted once however many of its values failed; a stream's or a dataset's rejects,
    gathered over its parts, give the note one read of the whole would give (a dataset's rows
    are told apart by their ``file`` as well as their ``line``).

    Parameters
    ----------
    rejects : pandas.DataFrame
        The rejects (``line`` and ``reason`` columns), as :class:`IncidentRead` holds them.
    rows_read : int
        The rows read.

    Returns
    -------
    list of str
        One note, or none when nothing was rejected.

    Examples
    --------
    >>> rejects = pd.DataFrame({"line": [3, 3, 7, 9], "reason": ["unparseable time",
    ...     "non-numeric coordinate", "unparseable time",
    ...     "duplicate incident id (first on line 2)"]})
    >>> rejects_notes(rejects, 10)
    ['3 of 10 rows rejected: 1 duplicate incident id; 1 non-numeric coordinate; 2 unparseable time']
    >>> rejects_notes(rejects.iloc[:0], 10)
    []
    """
    if not len(rejects):
        return []
    row = [SOURCE_LINE, *(["file"] if "file" in rejects else [])]  # a dataset's lines are a file's
    kinds = rejects[row].assign(kind=rejects[REASON].str.replace(_FIRST_ON_LINE, "", regex=True))
    by_reason = kinds.drop_duplicates().groupby("kind").size()
    return [
        f"{len(kinds[row].drop_duplicates())} of {rows_read} rows rejected: "
        + "; ".join(f"{n} {reason}" for reason, n in by_reason.items())
    ]


def _dst_notes(in_gap: int, in_overlap: int) -> list[str]:
    """What the DST rule did, for the notes."""
    notes = []
    if in_gap:
        notes.append(
            f"{in_gap} time(s) fell in a spring-forward DST gap and were moved to the first "
            "valid instant after it"
        )
    if in_overlap:
        notes.append(
            f"{in_overlap} time(s) fell in a fall-back DST hour and were read as the first "
            "occurrence (daylight time)"
        )
    return notes


#: Spellings of a non-finite number that are not "non-numeric".
_SPELLED_NON_FINITE = ["nan", "inf", "-inf", "+inf", "infinity"]


def _parse_coordinates(
    table: pa.Table,
    columns: IncidentColumns,
    point_geometry: np.ndarray | None,
    raw_crs: str,
    settled: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, list[tuple[np.ndarray, str]]]]]:
    """Coordinates as floats, and the masks of bad ones per column with their reasons."""
    if point_geometry is not None:
        missing = shapely.is_missing(point_geometry) | shapely.is_empty(point_geometry)
        x = np.full(len(point_geometry), np.nan)
        y = np.full(len(point_geometry), np.nan)
        x[~missing] = shapely.get_x(point_geometry[~missing])
        y[~missing] = shapely.get_y(point_geometry[~missing])
        problems = [(missing, "missing coordinate")]
        problems.extend(_impossible(x, y, raw_crs, ~missing))
        return x, y, [(GEOMETRY, problems)]

    checked: list[tuple[str, list[tuple[np.ndarray, str]]]] = []
    parsed: list[np.ndarray] = []
    read: dict = {}  # (one column for both is read once: _numbers works in place)
    for name in (columns.x_col, columns.y_col):
        if name not in read:
            read[name] = _numbers(table.column(name), (settled or {}).get(name))
        number, missing, non_numeric = read[name]
        non_finite = ~missing & ~non_numeric & ~np.isfinite(number)
        checked.append(
            (
                str(name),
                [
                    (missing, "missing coordinate"),
                    (non_numeric, "non-numeric coordinate"),
                    (non_finite, "non-finite coordinate"),
                ],
            )
        )
        parsed.append(number)
    x, y = parsed
    finite = np.isfinite(x) & np.isfinite(y)
    pair_label = f"{columns.x_col}/{columns.y_col}"
    checked.append((pair_label, _impossible(x, y, raw_crs, finite)))
    return x, y, checked


def _numbers(
    values: pa.ChunkedArray, plain_numbers: tuple | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A column of coordinates as floats, with the masks of missing and non-numeric values.

    Numbers are used as they are; text written as a plain decimal is cast by Arrow; every other
    text goes through :func:`_numbers_of_text`, which read every value before."""
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        number = _whole_column(values).to_numpy(dtype=float)
        return number, np.isnan(number), np.zeros(len(number), dtype=bool)
    if not is_text(values):
        return _numbers_of_text(_whole_column(values))
    # (the arrays are this read's own: worked on in place, not copied; missing is empty so far)
    number, plain, dotted, missing = plain_numbers or read_plain_numbers(values)
    non_numeric = np.zeros(len(number), dtype=bool)
    other = np.flatnonzero(~plain & ~missing)
    if len(other):
        # pandas reads a column of whole numbers as integers, any other as floats: the values
        # read here are read in the mode the whole column would give them
        floats_elsewhere = bool(missing.any() or dotted.any())
        text = pd.Series(values.take(pa.array(other)).to_pylist(), dtype=object)
        number[other], missing[other], non_numeric[other] = _numbers_of_text(
            text, floats_elsewhere=floats_elsewhere
        )
    return number, missing, non_numeric


def _numbers_of_text(
    values: pd.Series, *, floats_elsewhere: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Text read as numbers value by value (``pd.to_numeric``), with the masks of missing and
    non-numeric values. ``floats_elsewhere``: the rest of the column holds decimals or missing
    values, so pandas would read these as floats too."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        number = values.to_numpy(dtype=float)
        return number, np.isnan(number), np.zeros(len(number), dtype=bool)
    text = as_text(values)
    missing = text.eq("").to_numpy()
    read = text if not floats_elsewhere else pd.concat([text, pd.Series(["0.5"])])
    number = pd.to_numeric(read, errors="coerce").to_numpy(dtype=float)[: len(text)]
    spelled_non_finite = text.str.lower().isin(_SPELLED_NON_FINITE).to_numpy()
    non_numeric = ~missing & np.isnan(number) & ~spelled_non_finite
    return number, missing, non_numeric


def _impossible(
    x: np.ndarray, y: np.ndarray, crs: str, finite: np.ndarray
) -> list[tuple[np.ndarray, str]]:
    """Masks of coordinates that cannot be right for their CRS."""
    placeholder = finite & (x == 0) & (y == 0)
    source = CRS.from_user_input(crs)
    outside = np.zeros(len(x), dtype=bool)
    candidates = finite & ~placeholder
    label = source.to_string()
    if source.is_geographic:
        outside = candidates & ((np.abs(x) > 180) | (np.abs(y) > 90))
        reason = f"outside the valid range of {label} (longitude -180..180, latitude -90..90)"
    else:
        area = source.area_of_use
        reason = f"outside the area of use of {label}"
        if area is not None and candidates.any():
            reason = f"outside the area of use of {label} ({area.name})"
            margin = AREA_OF_USE_MARGIN_DEGREES
            box = _surely_inside(source, area, margin)
            if box is not None:  # points in this box of the CRS's own units are inside
                candidates = candidates & ~(
                    (x >= box[0]) & (x <= box[2]) & (y >= box[1]) & (y <= box[3])
                )
            if candidates.any():
                to_lon_lat = Transformer.from_crs(source, "EPSG:4326", always_xy=True)
                lon, lat = to_lon_lat.transform(x[candidates], y[candidates], errcheck=False)
                bad = (
                    ~np.isfinite(lon)
                    | ~np.isfinite(lat)
                    | (lon < area.west - margin)
                    | (lon > area.east + margin)
                    | (lat < area.south - margin)
                    | (lat > area.north + margin)
                )
                outside[np.flatnonzero(candidates)[bad]] = True
    return [(placeholder, "placeholder (0, 0) coordinates"), (outside, reason)]


_INSIDE_BOXES: dict[tuple[str, float], tuple[float, float, float, float] | None] = {}


def _look_up_area_of_use(crs: str) -> None:
    """The box :func:`_impossible` checks coordinates of ``crs`` against, worked out ahead
    (PROJ's database is read the first time: a few hundredths of a second); nothing if ``crs``
    is unknown or geographic (:func:`_impossible` says so itself)."""
    try:
        source = CRS.from_user_input(crs)
    except CRSError:
        return
    area = source.area_of_use
    if not source.is_geographic and area is not None:
        _surely_inside(source, area, AREA_OF_USE_MARGIN_DEGREES)


def _surely_inside(source: CRS, area, margin: float) -> tuple[float, float, float, float] | None:
    """A box in the CRS's own coordinates whose every point lies inside its area of use widened
    by ``margin`` degrees, so points in it need no transformation to be checked; or None.

    The box is the projection of the area of use itself; it is kept only when its whole outline,
    taken back to longitude and latitude, lies at least a tenth of the margin inside the widened
    area (then so does all of it, the projection being continuous and one-to-one there)."""
    key = (source.to_wkt(), margin)
    if key in _INSIDE_BOXES:
        return _INSIDE_BOXES[key]
    box = None
    try:
        from_lon_lat = Transformer.from_crs("EPSG:4326", source, always_xy=True)
        x_min, y_min, x_max, y_max = from_lon_lat.transform_bounds(
            area.west, area.south, area.east, area.north, densify_pts=200
        )
        steps = np.linspace(0.0, 1.0, 2001)
        up, flat = steps, np.ones_like(steps)
        outline_x = np.concatenate(
            [x_min + (x_max - x_min) * up, x_max * flat, x_max - (x_max - x_min) * up, x_min * flat]
        )
        outline_y = np.concatenate(
            [y_min * flat, y_min + (y_max - y_min) * up, y_max * flat, y_max - (y_max - y_min) * up]
        )
        inner_x, inner_y = np.meshgrid(
            np.linspace(x_min, x_max, 101), np.linspace(y_min, y_max, 101)
        )  # and, as a check, points across the inside
        outline_x = np.concatenate([outline_x, inner_x.ravel()])
        outline_y = np.concatenate([outline_y, inner_y.ravel()])
        to_lon_lat = Transformer.from_crs(source, "EPSG:4326", always_xy=True)
        lon, lat = to_lon_lat.transform(outline_x, outline_y, errcheck=False)
        slack = margin * 0.9
        inside = (
            np.isfinite(lon).all()
            and np.isfinite(lat).all()
            and lon.min() >= area.west - slack
            and lon.max() <= area.east + slack
            and lat.min() >= area.south - slack
            and lat.max() <= area.north + slack
        )
        if inside and np.isfinite([x_min, y_min, x_max, y_max]).all():
            box = (float(x_min), float(y_min), float(x_max), float(y_max))
    except Exception:  # no box: every point is transformed, as before
        box = None
    _INSIDE_BOXES[key] = box
    return box


def _problem_frame(
    masks: list[tuple[np.ndarray, str]],
    line: np.ndarray,
    incident_ids: pa.Array,
    column: str,
    table: pa.Table,
) -> pd.DataFrame:
    """The rejects of one column: one row per failed row and reason, values as text."""
    frames = []
    for mask, reason in masks:
        if not mask.any():
            continue
        rows = np.flatnonzero(mask)
        if column in table.column_names:
            value = _values_text(table, column, rows)
        elif "/" in column:
            x_name, y_name = column.split("/", 1)
            value = (
                pd.Series(_values_text(table, x_name, rows), dtype=object)
                + ", "
                + pd.Series(_values_text(table, y_name, rows), dtype=object)
            ).to_numpy(dtype=object)
        else:
            value = np.full(len(rows), "", dtype=object)
        ids = np.array(incident_ids.take(pa.array(rows)).to_pylist(), dtype=object)
        frames.append(
            pd.DataFrame(
                {
                    SOURCE_LINE: line[mask],
                    INCIDENT_ID: ids,
                    COLUMN: column,
                    VALUE: value,
                    REASON: reason,
                }
            )
        )
    if not frames:
        return _empty_rejects()
    return pd.concat(frames, ignore_index=True)


def _values_text(table: pa.Table, column: str, rows: np.ndarray) -> np.ndarray:
    """The values of ``rows`` of a column as text (``as_text``), as a rejects table shows them."""
    values = table.column(column)
    if is_text(values):
        part = pd.Series(values.take(pa.array(rows)).to_pylist(), dtype=object)
    else:
        part = _whole_column(values).iloc[rows]
    return as_text(part).to_numpy(dtype=object)


def _empty_rejects() -> pd.DataFrame:
    """A rejects table with no row (a copy: a caller may add to it)."""
    return _no_rejects().copy()


@functools.cache
def _no_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            SOURCE_LINE: pd.Series(dtype="int64"),
            INCIDENT_ID: pd.Series(dtype=object),
            COLUMN: pd.Series(dtype=object),
            VALUE: pd.Series(dtype=object),
            REASON: pd.Series(dtype=object),
        }
    )


def _collect_rejects(problems: list[pd.DataFrame]) -> pd.DataFrame:
    """All problems in one table, by line; a placeholder pair is not also 'outside the area'."""
    frames = [frame for frame in problems if len(frame)]
    if not frames:
        return _empty_rejects()
    rejects = pd.concat(frames, ignore_index=True)
    return rejects.sort_values([SOURCE_LINE, COLUMN, REASON], kind="stable").reset_index(drop=True)


def _to_working_crs(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    source = CRS.from_user_input(crs)
    if source == CRS.from_user_input(WORKING_CRS):
        return x, y
    transformer = Transformer.from_crs(source, WORKING_CRS, always_xy=True)
    return transformer.transform(x, y)
