"""Counting more incidents than fit in memory: one Parquet or CSV file (``.csv``, ``.csv.gz``) read
in batches, or a dataset of many Parquet files counted with dask-geopandas on a dask.distributed
cluster.

Both apply, to each batch or file, exactly the in-memory stages
(:func:`~geo_violence.sources.incidents.incidents_from_table`,
:func:`~geo_violence.units.assign.assign_units`, :func:`~geo_violence.cube.counts.build_cube` on
the same step edges) and add the counts, so the cube is identical to the one ``prepare_cube``
builds from the same rows (tested). The period must be given (``start`` and ``end``): every part
must count on the same steps. A stream holds one batch (and the next being read) at a time.
"""

from __future__ import annotations

import itertools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..choices import ENGINES  # noqa: F401 - importable from here too
from ..errors import InputFileError, OptionError
from ..sources.columnar import LineCounter, NotUtf8, csv_options, text_columns
from ..sources.incidents import (
    _CSV_SUFFIXES,
    _PARQUET_SUFFIXES,
    _READ_ERRORS,
    IncidentColumns,
    SeenIds,
    _column_notes,
    _dst_notes,
    _read_header,
    _record_starts,
    _resolve_columns,
    _what,
    incidents_from_table,
    rejects_notes,
)
from ..units.assign import assign_units
from .counts import Cube, build_cube

logger = logging.getLogger(__name__)

#: Rows per batch when streaming one file (bounds memory to a few hundred MB per batch).
BATCH_ROWS = 2_000_000
#: Bytes of CSV that pyarrow parses at a time when streaming (a record larger than this makes
#: the block larger, up to :data:`MAX_CSV_BLOCK`).
CSV_BLOCK = 1 << 24
MAX_CSV_BLOCK = 1 << 31


@dataclass
class PartCounts:
    """What one batch or file contributed."""

    counts: np.ndarray
    rows_read: int
    rejected: int
    unassigned: int
    outside_period: int
    rejects: pd.DataFrame
    unassigned_rows: pd.DataFrame
    #: times moved out of a DST gap, and read in a repeated hour (:attr:`IncidentRead.dst_moves`)
    dst_moves: tuple[int, int] = (0, 0)


@dataclass
class ScaledCube:
    """The cube and where every row went, summed over the parts."""

    cube: Cube
    rows_read: int
    rejected: int
    unassigned: int
    parts: int
    rejects: pd.DataFrame
    unassigned_rows: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _count_part(
    raw: pa.Table,
    lines: np.ndarray,
    columns: IncidentColumns,
    units,
    *,
    step: str,
    start: str,
    end: str,
    seen_ids: SeenIds | None = None,
) -> PartCounts:
    read = incidents_from_table(raw, columns, line=lines, seen_ids=seen_ids)
    assigned = assign_units(read.incidents, units)
    cube = build_cube(assigned.counted(), units, step=step, start=start, end=end, keep_partial=True)
    return PartCounts(
        counts=cube.counts.astype(np.int64),
        rows_read=read.rows_read,
        rejected=read.rows_rejected,
        unassigned=len(assigned.unassigned),
        outside_period=cube.outside_period,
        rejects=read.rejects,
        unassigned_rows=assigned.unassigned,
        dst_moves=read.dst_moves,
    )


def _combine(parts: list[PartCounts], template: Cube, notes: list[str]) -> ScaledCube:
    rejects = (
        pd.concat([part.rejects for part in parts], ignore_index=True) if parts else pd.DataFrame()
    )
    rows_read = sum(part.rows_read for part in parts)
    moved = [sum(part.dst_moves[k] for part in parts) for k in (0, 1)]
    # the DST rule's work and the rejects, over every part, as one read of the whole says them
    notes = [*notes, *_dst_notes(*moved), *rejects_notes(rejects, rows_read)]
    for note in notes:
        logger.info(note)
    counts = np.sum([part.counts for part in parts], axis=0) if parts else template.counts
    cube = Cube(
        counts=counts,
        unit_ids=template.unit_ids,
        names=template.names,
        step=template.step,
        edges=template.edges,
        outside_period=sum(part.outside_period for part in parts),
    )
    return ScaledCube(
        cube=cube,
        rows_read=rows_read,
        rejected=sum(part.rejected for part in parts),
        unassigned=sum(part.unassigned for part in parts),
        parts=len(parts),
        rejects=rejects,
        unassigned_rows=pd.concat([part.unassigned_rows for part in parts], ignore_index=True)
        if parts
        else pd.DataFrame(),
        notes=notes,
    )


def _empty_cube(units, step: str, start: str, end: str) -> Cube:
    empty = pd.DataFrame(
        {
            "unit_id": pd.Series(dtype=object),
            "occurred_at": pd.Series(dtype="datetime64[ns, America/Chicago]"),
        }
    )
    return build_cube(empty, units, step=step, start=start, end=end, keep_partial=True)


READ_KEYS = ("time_col", "x_col", "y_col", "crs", "id_col", "category_col", "time_format")


def _wanted_columns(columns: IncidentColumns) -> list[str]:
    """The columns a part reads: time, coordinates, and the id and category when named."""
    names = (columns.time_col, columns.x_col, columns.y_col, columns.id_col, columns.category_col)
    return [name for name in names if name]


def _columns_for(path: Path, read_options: dict) -> tuple[IncidentColumns, list[str]]:
    """The columns the parts read, and what was decided about them for the notes (a CRS
    assumed, the portal's export recognised), as :func:`read_incidents` decides them."""
    unknown = set(read_options) - set(READ_KEYS)
    if unknown:
        raise OptionError(f"unknown read options {sorted(unknown)} (known: {list(READ_KEYS)})")
    options = {key: read_options.get(key) for key in READ_KEYS}
    columns = _resolve_columns(_read_header(path), path=path, code_cols=(), **options)
    return columns, _column_notes(columns, crs_given=options["crs"] is not None)


def stream_cube(
    path: str | Path,
    units,
    *,
    step: str = "week",
    start: str | None = None,
    end: str | None = None,
    read_options: dict | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ScaledCube:
    """Count one Parquet or CSV file in batches of about ``batch_rows`` rows: memory stays at one
    batch, whatever the file's size.

    A Parquet file is read whole row groups at a time; a CSV (``.csv``, ``.csv.gz``) in blocks
    of :data:`CSV_BLOCK` bytes, its line breaks counted as it is read, so each rejected row keeps
    its line. Should the file turn out to hold a record over several lines or blank lines, it is
    read again with each record's line found by reading it as CSV.

    Parameters
    ----------
    path : str or Path
        A Parquet or CSV file of incidents (columns as :func:`read_incidents` takes them).
    units : geopandas.GeoDataFrame
        The units (working CRS).
    step, start, end : str
        The cube's step and period (both days needed).
    read_options : dict, optional
        ``time_col``, ``x_col``, ``y_col``, ``crs``, ``id_col``, ``category_col``,
        ``time_format``, as for :func:`read_incidents`.
    batch_rows : int
        Rows per batch.

    Returns
    -------
    ScaledCube

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence import load_units
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = path.write_text("when,lon,lat\\n2024-01-03 10:00,-87.6298,41.8781\\nsoon,-87.6,41.9\\n")
    >>> result = stream_cube(path, load_units("community_areas").units, start="2024-01-01",
    ...     end="2024-01-07", read_options={"time_col": "when", "x_col": "lon", "y_col": "lat"})
    >>> int(result.cube.counts.sum()), result.rejected, result.rejects["line"].tolist()
    (1, 1, [3])
    """
    path = Path(path)
    _check_period(start, end)
    if not path.exists():
        raise InputFileError(f"incident file {str(path)!r} does not exist")
    kind = _stream_kind(path)
    # the category says nothing the counts need (a stream takes no --filter-category): unread
    columns, said = _columns_for(path, read_options or {})
    columns = replace(columns, category_col=None)
    wanted = _wanted_columns(columns)
    template = _empty_cube(units, step, start, end)

    def count_all(batches) -> list[PartCounts]:
        seen_ids = SeenIds() if columns.id_col else None  # an id repeated across batches
        parts = []
        for table, lines in batches:
            parts.append(
                _count_part(
                    table,
                    lines,
                    columns,
                    units,
                    step=step,
                    start=start,
                    end=end,
                    seen_ids=seen_ids,
                )
            )
            logger.debug("counted %d rows", int(lines[-1]) if len(lines) else 0)
        return parts

    notes: list[str] = []
    if kind == "parquet":
        parts = count_all(_parquet_batches(path, wanted, batch_rows))
    else:
        parts = _count_csv(path, wanted, batch_rows, count_all, notes)
    return _combine(
        parts, template, [*said, f"counted {path.name} in {len(parts)} batches", *notes]
    )


def stream_parquet_cube(path: str | Path, units, **options) -> ScaledCube:
    """:func:`stream_cube` under its first name (it read Parquet files only); it reads CSV files
    too."""
    return stream_cube(path, units, **options)


def _stream_kind(path: Path) -> str:
    """``parquet`` or ``csv``; anything else is refused in one line."""
    name = path.name.lower()
    if not path.is_dir() and name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if not path.is_dir() and name.endswith(_CSV_SUFFIXES):
        return "csv"
    what = "a folder" if path.is_dir() else "neither"
    raise OptionError(
        f"--engine stream reads one Parquet or CSV file (.parquet, .csv, .csv.gz); {str(path)!r} "
        f"is {what}: use --engine dask for a folder of Parquet files, or --engine memory"
    )


def _parquet_batches(path: Path, wanted: list[str], batch_rows: int):
    """The batches of a Parquet file: whole row groups at a time (ParquetFile.iter_batches
    pre-buffers and grows without bound on large files, measured +90 MB a batch; reading row
    groups does not), with each row's number from 1. The next batch is read in a second thread
    while this one is counted (pyarrow lets go of the interpreter while it reads)."""
    parquet = _parquet_file(path)
    batches = _row_group_batches(parquet, batch_rows)
    first = 1
    with ThreadPoolExecutor(max_workers=1) as pool:
        upcoming = (
            pool.submit(parquet.read_row_groups, batches[0], columns=wanted) if batches else None
        )
        for following in [*batches[1:], None]:
            table = upcoming.result()
            if following is not None:
                upcoming = pool.submit(parquet.read_row_groups, following, columns=wanted)
            yield table, np.arange(first, first + table.num_rows, dtype=np.int64)
            first += table.num_rows
            del table


class _LinesDifferError(Exception):
    """The CSV's records are not one a line: count it again with each record's line found."""


def _count_csv(
    path: Path, wanted: list[str], batch_rows: int, count_all, notes: list[str]
) -> list[PartCounts]:
    """Count a CSV in batches; first assuming one record a line (checked against the line breaks
    counted at the end), else again with the lines where the records start. Values that are not
    UTF-8 are said in ``notes``."""
    block = CSV_BLOCK
    exact = False
    while True:
        found = NotUtf8()  # (their lines are sure once the whole file is read)
        try:
            parts = count_all(
                _csv_batches(path, wanted, batch_rows, block, exact=exact, found=found)
            )
            notes.extend(found.notes())
            return parts
        except _LinesDifferError:
            exact = True
        except pa.ArrowInvalid as error:
            if "straddling" in str(error) and block < MAX_CSV_BLOCK:
                block = min(block * 4, MAX_CSV_BLOCK)
            elif not exact:  # a quoted field holding a line break, perhaps
                exact = True
            else:
                raise InputFileError(f"cannot read {str(path)!r}: {_what(error)}") from error
        except InputFileError:
            raise
        except (*_READ_ERRORS, pa.ArrowException) as error:
            raise InputFileError(f"cannot read {str(path)!r}: {_what(error)}") from error


def _csv_batches(
    path: Path, wanted: list[str], batch_rows: int, block: int, *, exact: bool, found: NotUtf8
):
    """The batches of a CSV (``batch_rows`` rows, the last fewer), as text (values that are not
    UTF-8 counted in ``found``), with each record's line. Not ``exact``: records are taken to be
    one a line (from line 2), and :class:`_LinesDifferError` ends the iteration when the line
    breaks counted say otherwise; ``exact``: the lines are read from the file as CSV, and quoted
    fields may hold line breaks."""
    starts = _record_starts(path) if exact else None
    done = 0  # records given so far

    def lines_for(n: int) -> np.ndarray:
        if starts is None:
            return np.arange(2 + done, 2 + done + n, dtype=np.int64)
        lines = np.fromiter(itertools.islice(starts, n), dtype=np.int64)
        if len(lines) < n:
            raise _records_differ(path, done + n, done + len(lines))
        return lines

    pending: list[pa.RecordBatch] = []
    rows = 0
    options = csv_options(wanted, block, newlines_in_values=exact)
    with LineCounter(path) as counter:
        for batch in pacsv.open_csv(counter, **options):
            pending.append(batch)
            rows += batch.num_rows
            while rows >= batch_rows:
                table = pa.Table.from_batches(pending)
                lines = lines_for(batch_rows)
                yield text_columns(table.slice(0, batch_rows), lines, found), lines
                done += batch_rows
                rest = table.slice(batch_rows)
                pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        lines = lines_for(rows)
        yield text_columns(pa.Table.from_batches(pending), lines, found), lines
        done += rows
    if not exact and not counter.simple_lines(done):
        raise _LinesDifferError()
    if starts is not None:
        more = sum(1 for _ in starts)
        if more:
            raise _records_differ(path, done, done + more)


def _records_differ(path: Path, by_arrow: int, by_csv: int) -> InputFileError:
    return InputFileError(
        f"cannot read {str(path)!r}: its records cannot be told apart consistently "
        f"({by_arrow:,} by one reading, {by_csv:,} by another); check its quotes"
    )


def _parquet_file(path: Path):
    """The Parquet file to stream, opened."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as error:
        raise InputFileError(f"cannot read {str(path)!r} as Parquet: {error}") from error


def _row_group_batches(parquet, batch_rows: int) -> list[list[int]]:
    """Consecutive row groups gathered into batches of about ``batch_rows`` rows (at least one
    group each)."""
    batches: list[list[int]] = []
    current: list[int] = []
    rows = 0
    for group in range(parquet.num_row_groups):
        current.append(group)
        rows += parquet.metadata.row_group(group).num_rows
        if rows >= batch_rows:
            batches.append(current)
            current, rows = [], 0
    if current:
        batches.append(current)
    return batches


def dask_parquet_cube(
    files: list[str | Path] | str | Path,
    units,
    *,
    step: str = "week",
    start: str | None = None,
    end: str | None = None,
    read_options: dict | None = None,
    scheduler: str | None = None,
    n_workers: int = 2,
) -> ScaledCube:
    """Count a dataset of Parquet files with dask-geopandas on a dask.distributed cluster.

    Each file is a partition. The workers read it and apply the reading rules (rejected rows stay
    on the worker that found them), which makes the incidents one dask-geopandas GeoDataFrame;
    each partition is assigned to the units (the exact, grid-accelerated assignment, not a
    distributed ``sjoin``) and counted on the cube's steps. Only the small count arrays, and the
    rejected and unassigned rows, come back.

    Parameters
    ----------
    files : list of paths, or a folder
        The dataset's files (a folder: every ``*.parquet`` in it, in name order).
    units : geopandas.GeoDataFrame
        The units (working CRS), sent to the workers once.
    step, start, end : str
        The cube's step and period (both days needed).
    read_options : dict, optional
        As for :func:`stream_parquet_cube`.
    scheduler : str, optional
        A cluster's scheduler address (``tcp://host:8786``); without it, a LocalCluster of
        ``n_workers`` processes on this machine.
    n_workers : int
        Workers of the LocalCluster.

    Returns
    -------
    ScaledCube
    """
    _check_period(start, end)
    paths = _dataset_files(files)
    try:
        import dask
        import dask.dataframe as dd
        import dask_geopandas  # noqa: F401 - registers GeoDataFrame partitions with dask
        from dask.distributed import Client, LocalCluster
    except ImportError as error:  # pragma: no cover - an extra
        raise OptionError(
            "the dask engine needs dask-geopandas and dask.distributed: "
            "pip install 'geo-violence[dask]'"
        ) from error
    columns, said = _columns_for(paths[0], read_options or {})
    template = _empty_cube(units, step, start, end)
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    try:
        with Client(cluster if cluster is not None else scheduler) as client:
            reads = client.map(_read_file, [str(path) for path in paths], columns=columns)
            # one dask-geopandas GeoDataFrame of the incidents, a partition per file
            incidents = dd.from_delayed(
                [client.submit(_incidents_of, read) for read in reads],
                meta=_incidents_meta(),
                verify_meta=False,
            )
            shared_units = client.scatter(units, broadcast=True)
            counted = incidents.to_delayed()
            parts = [
                dask.delayed(_count_partition)(
                    partition, units=shared_units, step=step, start=start, end=end
                )
                for partition in counted
            ]
            parts, tallies = client.gather(
                [client.compute(parts), [client.submit(_tally_of, read) for read in reads]]
            )
    finally:
        if cluster is not None:
            cluster.close()
    for part, (rows_read, rejected, rejects, moved) in zip(parts, tallies, strict=True):
        part.rows_read, part.rejected, part.rejects, part.dst_moves = (
            rows_read,
            rejected,
            rejects,
            moved,
        )
    where = scheduler or f"a local cluster of {n_workers} workers"
    return _combine(
        parts, template, [*said, f"counted {len(paths)} files with dask-geopandas on {where}"]
    )


def _read_file(path: str, *, columns: IncidentColumns):
    """A worker's read of one file: the reading rules' result, rejects marked with the file."""
    import pyarrow.parquet as pq

    wanted = _wanted_columns(columns)
    raw = pq.read_table(path, columns=wanted)
    read = incidents_from_table(raw, columns, line=np.arange(1, raw.num_rows + 1, dtype=np.int64))
    name = Path(path).name
    read.incidents["file"] = name
    read.rejects = read.rejects.assign(file=name)
    return read


def _incidents_of(read):
    return read.incidents


def _tally_of(read) -> tuple[int, int, pd.DataFrame, tuple[int, int]]:
    return read.rows_read, read.rows_rejected, read.rejects, read.dst_moves


def _incidents_meta():
    """The (empty) shape of one partition of incidents, as :func:`incidents_from_table` makes
    them."""
    import geopandas as gpd

    from ..columns import CATEGORY, INCIDENT_ID, OCCURRED_AT, SOURCE_LINE, WORKING_CRS

    frame = pd.DataFrame(
        {
            INCIDENT_ID: pd.Series(dtype=object),
            OCCURRED_AT: pd.Series(dtype="datetime64[ns, America/Chicago]"),
            CATEGORY: pd.Series(dtype=object),
            SOURCE_LINE: pd.Series(dtype=np.int64),
            "file": pd.Series(dtype=object),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=WORKING_CRS), crs=WORKING_CRS)


def _count_partition(incidents, *, units, step: str, start: str, end: str) -> PartCounts:
    """Assign one partition of incidents and count it on the cube's steps."""
    assigned = assign_units(incidents, units)
    cube = build_cube(assigned.counted(), units, step=step, start=start, end=end, keep_partial=True)
    return PartCounts(
        counts=cube.counts.astype(np.int64),
        rows_read=0,
        rejected=0,
        unassigned=len(assigned.unassigned),
        outside_period=cube.outside_period,
        rejects=pd.DataFrame(),
        unassigned_rows=assigned.unassigned.assign(
            file=incidents["file"].iloc[0] if len(incidents) else None
        ),
    )


def _dataset_files(files) -> list[Path]:
    if isinstance(files, (str, Path)) and Path(files).is_dir():
        paths = sorted(Path(files).glob("*.parquet"))
    elif isinstance(files, (str, Path)):
        paths = [Path(files)]
    else:
        paths = [Path(path) for path in files]
    if not paths:
        raise InputFileError(f"no Parquet file in {files}")
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise InputFileError(f"incident files do not exist: {', '.join(missing[:5])}")
    other = [str(path) for path in paths if not path.name.lower().endswith(_PARQUET_SUFFIXES)]
    if other:
        raise OptionError(
            f"--engine dask reads Parquet files; {', '.join(other[:3])} is not one: use "
            "--engine memory for a CSV, or convert it to Parquet"
        )
    return paths


def _check_period(start: str | None, end: str | None) -> None:
    if start is None or end is None:
        raise OptionError(
            "counting in parts needs the period: give --start and --end (every part must count "
            "on the same steps)"
        )
