"""What the benchmarks share: where the real data are, and the beats with the assaults."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

#: The real Chicago files: ``../shared/data/chicago`` beside the repository, or this variable.
DATA = Path(
    os.environ.get(
        "GEO_VIOLENCE_SHARED_DATA",
        Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chicago",
    )
)


def best_of(repeats: int, call: Callable[[], object]) -> float:
    """The shortest wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def assaults_by_beat(step: str = "week", start: str | None = None, end: str | None = None):
    """The 2010-2019 aggravated assaults counted per beat, and the beats' queen neighbours."""
    from geo_violence import assign_units, build_cube, build_weights, load_units, read_incidents

    layer = load_units("beats", units_file=DATA / "police_beats.geojson")
    read = read_incidents(
        DATA / "aggravated_assaults_2010_2019.csv.gz",
        time_col="date",
        x_col="longitude",
        y_col="latitude",
        crs="EPSG:4326",
    )
    assigned = assign_units(read.incidents, layer.units).incidents
    cube = build_cube(assigned, layer.units, step=step, start=start, end=end, keep_partial=True)
    return cube, build_weights(layer.units)


#: The 22 columns of the portal's "Crimes - 2001 to Present" export, in its order.
PORTAL_HEADER = (
    "ID",
    "Case Number",
    "Date",
    "Block",
    "IUCR",
    "Primary Type",
    "Description",
    "Location Description",
    "Arrest",
    "Domestic",
    "Beat",
    "District",
    "Ward",
    "Community Area",
    "FBI Code",
    "X Coordinate",
    "Y Coordinate",
    "Year",
    "Updated On",
    "Latitude",
    "Longitude",
    "Location",
)
#: The time format of the portal's export.
PORTAL_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
_OFFENCES = (
    ("0110", "HOMICIDE", "FIRST DEGREE MURDER", "01A"),
    ("041A", "BATTERY", "AGGRAVATED - HANDGUN", "04B"),
    ("0486", "BATTERY", "DOMESTIC BATTERY SIMPLE", "08B"),
    ("051A", "ASSAULT", "AGGRAVATED - HANDGUN", "04A"),
    ("031A", "ROBBERY", "ARMED - HANDGUN", "03"),
)
_PLACES = ("STREET", "APARTMENT", "RESIDENCE", "SIDEWALK", "ALLEY", "PARKING LOT / GARAGE")
_STREETS = ("W HARRISON ST", "W JACKSON BLVD", "E 79TH ST", "N MARSHFIELD AVE", "S MAY ST")


def points_inside(units, n: int, rng) -> tuple:
    """``n`` uniform random points (working CRS) inside the union of ``units``."""
    import numpy as np
    import shapely

    city = shapely.union_all(units.geometry.to_numpy())
    shapely.prepare(city)
    x_min, y_min, x_max, y_max = units.total_bounds
    xs, ys, found = [], [], 0
    while found < n:
        x = rng.uniform(x_min, x_max, 2 * (n - found) + 1000)
        y = rng.uniform(y_min, y_max, 2 * (n - found) + 1000)
        inside = shapely.contains_xy(city, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        found += int(inside.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def portal_chunks(
    rows: int,
    *,
    seed: int = 0,
    iso: bool = False,
    start: str = "2024-01-01",
    weeks: int = 52,
    missing_share: float = 0.005,
    chunk: int = 1_000_000,
):
    """Rows laid out like the portal's export, as Arrow tables of text in its 22 columns, chunk by
    chunk: ``MM/DD/YYYY hh:mm:ss AM`` dates (``iso``: ``YYYY-MM-DDThh:mm:ss``) uniform over
    ``weeks`` weeks from ``start``, points uniform inside the community areas (X/Y in Illinois East
    feet, latitude and longitude, the recorded ``Community Area``, ``Beat`` and ``District`` of
    the point), and, as in the real export, a few rows without a location (``missing_share``)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyproj import Transformer

    from geo_violence import load_units
    from geo_violence.units.polygon_grid import locate_many

    areas = load_units("community_areas").units
    beats = load_units("beats", units_file=DATA / "police_beats.geojson").units
    rng = np.random.default_rng(seed)
    to_degrees = Transformer.from_crs("EPSG:3435", "EPSG:4326", always_xy=True)
    first = np.datetime64(start, "s")

    def pick(options, index):
        return pa.array(np.asarray(options, dtype=object)[index], pa.string())

    def text(values):
        return pc.cast(pa.array(values), pa.string())

    for offset in range(0, rows, chunk):
        n = min(chunk, rows - offset)
        x, y = points_inside(areas, n, rng)
        area = areas.index.to_numpy()[np.maximum(locate_many(x, y, areas.geometry.values), 0)]
        beat = beats.index.to_numpy()[np.maximum(locate_many(x, y, beats.geometry.values), 0)]
        lon, lat = to_degrees.transform(x, y)
        stamps = pa.array(first + rng.integers(0, weeks * 7 * 86400, n).astype("timedelta64[s]"))
        layout = "%Y-%m-%dT%H:%M:%S" if iso else PORTAL_TIME_FORMAT
        offence = rng.integers(0, len(_OFFENCES), n)
        located = pa.array(rng.random(n) >= missing_share)
        lat_text = pc.if_else(located, text(np.round(lat, 9)), "")
        lon_text = pc.if_else(located, text(np.round(lon, 9)), "")
        beat_code = pc.utf8_lpad(pa.array(np.asarray(beat, dtype=object), pa.string()), 4, "0")
        columns = [
            text(np.arange(10_000_000 + offset, 10_000_000 + offset + n)),
            pc.binary_join_element_wise(
                pick(("JA", "JB", "JE", "JG", "HZ"), rng.integers(0, 5, n)),
                text(rng.integers(100_000, 999_999, n)),
                "",
            ),
            pc.strftime(stamps, format=layout),
            pc.binary_join_element_wise(
                pc.utf8_lpad(text(rng.integers(0, 120, n)), 3, "0"),
                pick(_STREETS, rng.integers(0, len(_STREETS), n)),
                "XX ",
            ),
            pick([o[0] for o in _OFFENCES], offence),
            pick([o[1] for o in _OFFENCES], offence),
            pick([o[2] for o in _OFFENCES], offence),
            pick(_PLACES, rng.integers(0, len(_PLACES), n)),
            pick(("true", "false"), rng.integers(0, 2, n)),
            pick(("true", "false"), rng.integers(0, 2, n)),
            beat_code,
            pc.utf8_lpad(pc.utf8_slice_codeunits(beat_code, 0, 2), 3, "0"),
            text(rng.integers(1, 51, n)),
            pa.array(np.asarray(area, dtype=object), pa.string()),
            pick([o[3] for o in _OFFENCES], offence),
            pc.if_else(located, text(np.round(x).astype(np.int64)), ""),
            pc.if_else(located, text(np.round(y).astype(np.int64)), ""),
            pc.strftime(stamps, format="%Y"),
            pc.strftime(stamps, format="09/15/2025 03:41:25 PM"),
            lat_text,
            lon_text,
            pc.if_else(
                located, pc.binary_join_element_wise("(", lat_text, ", ", lon_text, ")", ""), ""
            ),
        ]
        yield pa.table(dict(zip(PORTAL_HEADER, columns, strict=True)))


def write_portal_csv(path: Path, rows: int, **options) -> None:
    """A CSV laid out like the portal's export (see :func:`portal_chunks`; ``.gz``: compressed):
    written as the portal writes it, quotes only around the ``Location`` field.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "p.csv"
    >>> write_portal_csv(path, 3)
    >>> path.read_text().splitlines()[0].split(",") == list(PORTAL_HEADER)
    True
    """
    import gzip

    import numpy as np
    import pyarrow.compute as pc

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write((",".join(PORTAL_HEADER) + "\n").encode())
        for table in portal_chunks(rows, **options):
            fields = [table.column(name) for name in PORTAL_HEADER]
            location = fields[-1]
            fields[-1] = pc.if_else(
                pc.equal(location, ""), "", pc.binary_join_element_wise('"', location, '"', "")
            )
            lines = pc.binary_join_element_wise(*fields, ",").combine_chunks()
            lines = pc.binary_join_element_wise(lines, "\n", "")
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[: len(lines) + 1]
            handle.write(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])


def write_portal_parquet(path: Path, rows: int, **options) -> None:
    """The same rows as :func:`write_portal_csv` in a Parquet file, every column text (as the
    portal store of ``geo-violence fetch`` keeps them), a row group per million rows."""
    import pyarrow.parquet as pq

    writer = None
    for table in portal_chunks(rows, **options):
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=1_000_000)
    if writer is not None:
        writer.close()


#: Runs its arguments as a child and prints the child's wall time and peak memory: the child is
#: started from this small process, because Linux carries ``ru_maxrss`` across ``exec`` (a child
#: started straight from a large benchmark process would report that process's peak).
#: GiB of memory touched and let go just before each measured process starts (more than any
#: run's peak here): see :func:`measured`.
WARM_GIB = 3

_MEASURE = """
import json, os, subprocess, sys, time
if float(sys.argv[1]):  # in a process of its own: a child would inherit this one's peak
    touch = "b'\\\\x01' * int(float(__import__('sys').argv[1]) * 2**30)"  # every page written
    subprocess.run([sys.executable, "-c", touch, sys.argv[1]], check=True)
start = time.perf_counter()
child = subprocess.Popen(sys.argv[2:], stdout=sys.stderr)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps({"seconds": time.perf_counter() - start, "peak_kib": usage.ru_maxrss,
                  "cpu": usage.ru_utime + usage.ru_stime,
                  "status": os.waitstatus_to_exitcode(status)}))
"""


def measured(argv: list[str], env: dict | None = None, *, warm_gib: float = WARM_GIB) -> dict:
    """Run ``argv`` in a fresh process: its wall time (``seconds``), CPU time, peak resident
    memory (``peak_gib``) and what it printed (``output``). A failure stops the benchmark.

    Just before the process starts, another touches ``warm_gib`` GiB and exits. This machine is a
    virtual machine that hands free memory back to its host about 2 s after it is freed (free
    page reporting): the next process to use that memory pays a host fault on every page.
    Touching 3 GiB took 7 s after 20 s idle, and 0.2-0.5 s right after another process had
    freed it; `geo-violence counts` of 5 million rows took 4.7-5.5 s after a pause, 3.2-4.5 s
    after the warm-up. Without it, whichever run follows a pause (the first after the files are
    written) or a smaller run pays that cost and the other does not; with it, every run starts
    alike, as on a machine that keeps its memory. ``warm_gib=0`` measures cold
    (``run.py --cold``).
    """
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(warm_gib), *argv],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}... failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["status"] != 0:
        raise SystemExit(f"{' '.join(argv[:4])}... failed:\n{done.stderr[-3000:]}")
    result["peak_gib"] = result.pop("peak_kib") / 2**20
    result["output"] = done.stderr
    return result
