"""Counting the city's history on the portal's own format, against the plain script anyone would
write, at several sizes; each figure is measured in the same run as its baseline. Run:
``python bench/run.py`` (``--scales 1 4`` for fewer rows, ``--peak-50m`` for the peak memory of
streaming 50 million rows).

The city's yearly volume is taken as 250,000 incidents (Chicago records about a quarter of a
million crimes a year); scales multiply it (1, 4 and 20 by default: 250,000, 1,000,000 and
5,000,000 rows). At each scale the same synthetic incidents (uniform inside the community areas
over the 52 weeks of 2024, 0.5% without a location, as in the real export) are written three
ways, in the portal export's 22 columns (``bench/common.py``): a CSV with the portal's
``MM/DD/YYYY hh:mm:ss AM`` dates, the same CSV with ISO 8601 dates, and a Parquet file of text
columns (as the portal store of ``geo-violence fetch`` keeps them). Rows:

- **counts, portal CSV** and **counts, ISO CSV**: ``geo-violence counts FILE`` (weeks by community
  area, the whole command in a fresh process: start-up, reading, assignment, the cube and every
  output) against the plain script: ``pandas.read_csv`` of the date and coordinate columns,
  ``pandas.to_datetime(format=...)``, ``geopandas.points_from_xy``, ``geopandas.sjoin(predicate=
  "within")`` and a ``groupby`` by unit and week, also in a fresh process;
- **counts --engine stream**, on the Parquet file and on the portal CSV, against the plain script
  on the same file (``pandas.read_parquet`` for the Parquet one);
- **read_incidents, portal CSV**: the call alone, against ``pandas.read_csv`` of the same
  columns (its own types) with ``to_datetime(format=...)``, both called three times in a fresh
  process (after their imports): the first call, which also pays for what a process does once
  (fresh memory from the system, the CRS's area of use), and the best of the two later ones;
  the first call's peak is the process's when it returned, the later one's over all three.
  Up to a million rows, three such processes each, ours and the baseline's taking turns (this
  machine's speed drifts by a third from one minute to the next): the median is shown, the
  highest peak, and ours all three in the note (one process each beyond);
- **emerging (Gi\\* stage)** on the cube counted: ours against ``esda.G_Local`` week by week, and
  the whole job (counts, then the whole emerging analysis).

Every run in a fresh process reports its wall time and its peak resident memory (``ru_maxrss``
of that process alone). Just before each, 3 GiB are touched and let go, so that no run pays for
memory this virtual machine handed back to its host while it was idle (``common.measured``;
``--cold`` leaves that out). The cubes of ours and of the baseline are checked to hold the same
number of incidents. Times are printed, never asserted: ratio is baseline time over ours.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import (
    DATA,
    PORTAL_TIME_FORMAT,
    WARM_GIB,
    measured,
    write_portal_csv,
    write_portal_parquet,
)

YEARLY = 250_000
START, END = "2024-01-01", "2024-12-29"  # the 52 whole weeks of 2024
BASELINE = """
import sys
import geopandas as gpd
import pandas as pd
path, time_format, units_path = sys.argv[1:]
columns = ["Date", "X Coordinate", "Y Coordinate"]
if path.endswith(".parquet"):
    frame = pd.read_parquet(path, columns=columns)
    for name in columns[1:]:
        frame[name] = pd.to_numeric(frame[name], errors="coerce")
else:
    frame = pd.read_csv(path, usecols=columns)
frame = frame.dropna(subset=columns[1:])
when = pd.to_datetime(frame["Date"], format=time_format)
points = gpd.GeoDataFrame(
    {"when": when.to_numpy()},
    geometry=gpd.points_from_xy(frame["X Coordinate"], frame["Y Coordinate"]),
    crs="EPSG:3435",
)
units = gpd.read_parquet(units_path)
joined = gpd.sjoin(points, units, predicate="within")
counts = joined.groupby(["unit_id", joined["when"].dt.to_period("W-SUN")]).size()
print("counted", int(counts.sum()))
"""
READ = """
import resource, sys, time
from geo_violence import read_incidents
seconds, peaks = [], []
for _ in range(3):  # the first call, then two more (each result let go before the next)
    start = time.perf_counter()
    read = read_incidents(sys.argv[1])
    seconds.append(time.perf_counter() - start)
    peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)  # GiB, so far
    n, rejected = len(read.incidents), read.rows_rejected
    del read
print("read", n, rejected, peaks[0], seconds[0], min(seconds[1:]))
"""
READ_BASELINE = """
import sys, time
import pandas as pd
columns = ["ID", "Date", "Primary Type", "Beat", "District", "Ward", "Community Area",
           "X Coordinate", "Y Coordinate"]
seconds = []
for _ in range(3):
    start = time.perf_counter()
    frame = pd.read_csv(sys.argv[1], usecols=columns)
    when = pd.to_datetime(frame["Date"], format=sys.argv[2], errors="coerce")
    seconds.append(time.perf_counter() - start)
    n = len(frame)
    del frame, when
print("read", n, seconds[0], min(seconds[1:]))
"""


def counts_command(path: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "geo_violence",
        "-q",
        "counts",
        str(path),
        "--start",
        START,
        "--end",
        END,
        "--out",
        str(out),
        "--overwrite",
        *extra,
    ]


def counted(out: Path) -> int:
    return int(pd.read_parquet(out / "counts.parquet")["count"].sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4, 20])
    parser.add_argument("--peak-50m", action="store_true", help="also stream 50 million rows")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="no warm-up of memory before each measured process (common.measured says why)",
    )
    parser.add_argument(
        "--skip-baseline-above", type=int, default=20, help="skip the baselines above this scale"
    )
    args = parser.parse_args()
    if not (DATA / "police_beats.geojson").exists():
        print(f"the shared Chicago data are not at {DATA}")
        return 1
    from geo_violence import load_units
    from geo_violence.units.neighbours import build_weights

    units = load_units("community_areas").units
    neighbours = build_weights(units)
    w = neighbours.to_w("B")
    with tempfile.TemporaryDirectory() as temporary:
        rows = run_scales(args, Path(temporary), units, neighbours, w)
    print_table(rows)
    return 0


def run_scales(args, folder: Path, units, neighbours, w) -> list[tuple]:
    """Every row of the table, the files written in ``folder``."""
    import esda

    def measure(argv: list[str], env: dict | None = None) -> dict:
        return measured(argv, env, warm_gib=0 if args.cold else WARM_GIB)

    from geo_violence.stats.emerging import emerging_hotspots, space_time_gi_star

    units_path = folder / "units.parquet"
    units.reset_index()[["unit_id", "geometry"]].to_parquet(units_path)
    env = os.environ | {"GEO_VIOLENCE_SHARED_DATA": str(DATA)}
    rows: list[tuple] = []
    for scale in args.scales:
        n = YEARLY * scale
        portal, iso, parquet = folder / "portal.csv", folder / "iso.csv", folder / "portal.parquet"
        start = time.perf_counter()
        write_portal_csv(portal, n, seed=scale)
        write_portal_csv(iso, n, seed=scale, iso=True)
        write_portal_parquet(parquet, n, seed=scale)
        size = portal.stat().st_size / 2**30
        # the files on disk before any run: a run just after the writing (ours, the first) would
        # share the machine with the kernel writing gigabytes back; each run then reads the same
        # files from the page cache
        os.sync()
        print(f"scale {scale}: wrote {n:,} rows three ways ({size:.2f} GiB of portal CSV) in "
              f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
        with_baseline = scale <= args.skip_baseline_above
        baselines = {}
        cases = [
            ("counts, portal CSV", portal, PORTAL_TIME_FORMAT, ()),
            ("counts, ISO CSV", iso, "ISO8601", ()),
            ("counts --engine stream, portal Parquet", parquet, PORTAL_TIME_FORMAT, ("stream",)),
            ("counts --engine stream, portal CSV", portal, PORTAL_TIME_FORMAT, ("stream",)),
        ]
        for stage, path, time_format, engine in cases:
            out = folder / f"out-{path.name}-{'-'.join(engine) or 'memory'}"
            extra = ("--engine", engine[0]) if engine else ()
            ours = measure(counts_command(path, out, *extra), env)
            base = None
            if with_baseline:
                key = (path, time_format)
                if key not in baselines:
                    baselines[key] = measure(
                        [sys.executable, "-c", BASELINE, str(path), time_format, str(units_path)]
                    )
                base = baselines[key]
                theirs = int(base["output"].split("counted")[-1].split()[0])
                if theirs != counted(out):
                    print(f"  {stage}: baseline counted {theirs:,}, ours {counted(out):,}")
            rows.append((stage, scale, n, ours, base))
            if stage == "counts, portal CSV":
                counts_portal = ours
            print(f"  {stage}: {ours['seconds']:.2f} s", flush=True)
        reads, read_bases = [], []
        processes = READ_PROCESSES if n <= READ_GOAL_ROWS else 1
        for _ in range(processes):  # taking turns: this machine's speed drifts
            reads.append(measure([sys.executable, "-c", READ, str(portal)], env))
            read_bases.append(
                measure([sys.executable, "-c", READ_BASELINE, str(portal), PORTAL_TIME_FORMAT])
            )
        for stage, field in (("first call", -2), ("a later call", -1)):
            ours, base = median_call(reads, field), median_call(read_bases, field)
            if stage == "first call":  # the peak until the first call returned, the highest
                ours["peak_gib"] = max(float(read["output"].split()[-3]) for read in reads)
            spread = ", ".join(f"{seconds:.2f}" for seconds in ours["all_seconds"])
            rows.append(
                (f"read_incidents, portal CSV ({stage})", scale, n, ours, base, f"ours: {spread}")
            )

        out = folder / "out-portal.csv-memory"
        cube = pd.read_parquet(out / "counts.parquet")
        cube = cube.pivot(index="unit_id", columns="step_start", values="count")
        cube = cube.reindex(neighbours.unit_ids).to_numpy(dtype=float)
        gi = best_time(
            lambda cube=cube: space_time_gi_star(
                cube, neighbours.matrix, time_window=0, window="step"
            )
        )
        loop = best_time(
            lambda cube=cube: [
                esda.G_Local(cube[:, t], w, transform="B", star=True, permutations=0).Zs
                for t in range(cube.shape[1])
            ]
        )
        shape = f"{cube.shape[0]} x {cube.shape[1]}"
        rows.append(("emerging Gi* stage vs esda G_Local loop", scale, n, gi, loop, shape))
        whole = best_time(
            lambda cube=cube: emerging_hotspots(cube, neighbours.matrix, neighbours.unit_ids)
        )
        job = counts_portal["seconds"] + whole
        rows.append(("whole job: counts + emerging analysis", scale, n, job, None, ""))
        for path in (portal, iso, parquet):
            path.unlink()
    if args.peak_50m:
        path = folder / "x50m.parquet"
        write_portal_parquet(path, 50_000_000, seed=50)
        ours = measure(counts_command(path, folder / "out50m", "--engine", "stream"), env)
        rows.append(("counts --engine stream, Parquet, 50 million rows", 200, 50_000_000, ours,
                     None, "goal: peak < 4 GiB"))  # fmt: skip
        path.unlink()
    return rows


#: Fresh processes that time ``read_incidents`` (and its baseline), whose median is shown, up
#: to the size of issue 21's goal (one beyond: pandas takes 20 s a call on 5 million rows).
READ_PROCESSES = 3
READ_GOAL_ROWS = 1_000_000


def median_call(runs: list[dict], field: int) -> dict:
    """Of fresh processes that each timed calls: the median of the time printed in ``field``,
    with every one (``all_seconds``), and the highest peak memory."""
    seconds = sorted(float(run["output"].split()[field]) for run in runs)
    return {
        "seconds": seconds[len(seconds) // 2],
        "all_seconds": seconds,
        "peak_gib": max(run["peak_gib"] for run in runs),
    }


def best_time(call, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def print_table(rows: list[tuple]) -> None:
    """The table: time and peak memory of ours and of the baseline, and their ratio."""
    header = (
        f"{'stage':44} | {'scale':>5} | {'incidents':>10} | {'ours (s)':>8} | {'peak GiB':>8} | "
        f"{'baseline (s)':>12} | {'peak GiB':>8} | {'ratio':>5} | note"
    )
    print()
    print(header)
    print("-" * len(header))
    for stage, scale, n, ours, base, *note in rows:
        ours_s, ours_peak = _time_and_peak(ours)
        base_s, base_peak = _time_and_peak(base)
        ratio = f"{base_s / ours_s:5.1f}" if base_s else "    -"
        base_text = f"{base_s:12.2f}" if base_s else f"{'-':>12}"
        print(
            f"{stage:44} | {scale:>4}x | {n:>10,} | {ours_s:8.2f} | {ours_peak:>8} | "
            f"{base_text} | {base_peak:>8} | {ratio} | "
            f"{note[0] if note else ''}"
        )


def _time_and_peak(result) -> tuple[float | None, str]:
    if result is None:
        return None, "-"
    if isinstance(result, dict):
        return result["seconds"], f"{result['peak_gib']:.2f}"
    return float(result), "-"


if __name__ == "__main__":
    sys.exit(main())
