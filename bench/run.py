"""Every stage at 1x, 10x and 100x the city's yearly volume, each against its baseline measured in
the same run. Run: ``python bench/run.py`` (``--scales 1 10`` for fewer, ``--peak-50m`` for the
peak memory of counting 50 million incidents).

The city's yearly volume is taken as 250,000 incidents (Chicago records about a quarter of a
million crimes a year). At each scale, synthetic incidents are drawn uniformly inside the city over
the 52 weeks of 2024 and written to one Parquet file (ISO time strings, longitude and latitude, as
an export would hold them). Stages:

- **read + assign + cube**: ``geo-violence counts --engine stream`` (batches of 2 million rows)
  against the obvious baseline: pandas reads the file, ``geopandas.points_from_xy`` and
  ``geopandas.sjoin(predicate="within")`` assign, ``groupby`` counts;
- **assign alone**: ``assign_units`` against ``geopandas.sjoin`` on the same points;
- **emerging (Gi\\* stage)** on the 275 beats x 52 weeks of that cube: ours against ``esda.G_Local``
  called week by week;
- **whole job**: counts, then the whole emerging analysis, as one figure.

Peak memory of each streaming run is measured in a subprocess (``ru_maxrss``). Times are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from common import DATA

YEARLY = 250_000
WEEKS = 52
CHUNK = 2_000_000


def synthetic_file(path: Path, rows: int, units, seed: int = 0) -> None:
    """``rows`` incidents inside the city, uniform over 2024's 52 weeks, written in chunks."""
    from pyproj import Transformer

    rng = np.random.default_rng(seed)
    city = shapely.union_all(units.geometry.to_numpy())
    shapely.prepare(city)
    x_min, y_min, x_max, y_max = units.total_bounds
    to_degrees = Transformer.from_crs("EPSG:3435", "EPSG:4326", always_xy=True)
    start = np.datetime64("2024-01-01T00:00:00")
    writer = None
    written = 0
    while written < rows:
        n = min(CHUNK, rows - written)
        xs, ys = [], []
        while sum(len(x) for x in xs) < n:
            x = rng.uniform(x_min, x_max, 2 * n)
            y = rng.uniform(y_min, y_max, 2 * n)
            inside = shapely.contains_xy(city, x, y)
            xs.append(x[inside])
            ys.append(y[inside])
        x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
        longitude, latitude = to_degrees.transform(x, y)
        seconds = rng.integers(0, WEEKS * 7 * 86400, n)
        times = (start + seconds.astype("timedelta64[s]")).astype(str)
        table = pa.table(
            {
                "date": pa.array(times),
                "longitude": pa.array(np.round(longitude, 6)),
                "latitude": pa.array(np.round(latitude, 6)),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
        written += n
    writer.close()


def baseline_counts(path: Path, units) -> pd.DataFrame:
    """The obvious way: pandas, points_from_xy, sjoin, groupby."""
    import geopandas as gpd

    frame = pd.read_parquet(path)
    points = gpd.GeoDataFrame(
        {"date": pd.to_datetime(frame["date"])},
        geometry=gpd.points_from_xy(frame["longitude"], frame["latitude"]),
        crs="EPSG:4326",
    ).to_crs(units.crs)
    joined = gpd.sjoin(points, units.reset_index()[["unit_id", "geometry"]], predicate="within")
    week = joined["date"].dt.to_period("W-SUN")
    return joined.groupby(["unit_id", week]).size()


def stream_in_subprocess(path: Path, out: Path) -> dict:
    """``counts --engine stream`` in a fresh process: its time and peak memory."""
    code = f"""
import json, resource, sys, time
from geo_violence.jobs.counts import run_scaled_counts
from geo_violence.jobs import CubeOptions, ReadOptions, UnitOptions
start = time.perf_counter()
result = run_scaled_counts({str(path)!r}, {str(out)!r}, engine="stream", overwrite=True,
    read_options=ReadOptions(time_col="date", x_col="longitude", y_col="latitude",
                             crs="EPSG:4326"),
    unit_options=UnitOptions(units="beats", units_file={str(DATA / "police_beats.geojson")!r}),
    cube_options=CubeOptions(start="2024-01-01", end="2024-12-29"))
print(json.dumps({{"seconds": time.perf_counter() - start, "rows": result.rows_read,
    "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--peak-50m", action="store_true", help="also count 50 million rows")
    parser.add_argument(
        "--skip-baseline-above",
        type=int,
        default=100,
        help="skip the sjoin baselines above this scale",
    )
    args = parser.parse_args()
    if not (DATA / "police_beats.geojson").exists():
        print(f"the shared Chicago data are not at {DATA}")
        return 1
    import esda
    import geopandas as gpd

    from geo_violence import assign_units, load_units, read_incidents
    from geo_violence.stats.emerging import emerging_hotspots, space_time_gi_star
    from geo_violence.units.neighbours import build_weights

    units = load_units("beats", units_file=DATA / "police_beats.geojson").units
    neighbours = build_weights(units)
    w = neighbours.to_w("B")
    folder = Path(tempfile.mkdtemp())
    rows = []
    for scale in args.scales:
        n = YEARLY * scale
        path = folder / f"x{scale}.parquet"
        synthetic_file(path, n, units, seed=scale)
        ours = stream_in_subprocess(path, folder / f"out{scale}")
        base = None
        if scale <= args.skip_baseline_above:
            base, _ = timed(lambda path=path: baseline_counts(path, units))
        rows.append(
            (
                "read + assign + cube (stream) vs pandas+sjoin+groupby",
                scale,
                n,
                ours["seconds"],
                base,
                f"peak {ours['peak_gib']:.2f} GiB",
            )
        )
        read = (
            read_incidents(
                path, time_col="date", x_col="longitude", y_col="latitude", crs="EPSG:4326"
            )
            if scale <= 10
            else None
        )
        if read is not None:
            ours_assign, _ = timed(lambda read=read: assign_units(read.incidents, units))
            frame = read.incidents[["geometry"]].copy()
            right = units.reset_index()[["unit_id", "geometry"]]
            sjoin_time, _ = timed(
                lambda frame=frame, right=right: gpd.sjoin(frame, right, predicate="within")
            )
            rows.append(("assign_units vs gpd.sjoin", scale, n, ours_assign, sjoin_time, ""))
            del read, frame
        counts = pd.read_parquet(folder / f"out{scale}" / "counts.parquet")
        cube = counts.pivot(index="unit_id", columns="step_start", values="count")
        cube = cube.reindex(neighbours.unit_ids).to_numpy(dtype=float)
        gi_time, _ = timed(
            lambda cube=cube: space_time_gi_star(
                cube, neighbours.matrix, time_window=0, window="step"
            )
        )
        loop_time, _ = timed(
            lambda cube=cube: [
                esda.G_Local(cube[:, t], w, transform="B", star=True, permutations=0).Zs
                for t in range(cube.shape[1])
            ]
        )
        rows.append(
            (
                "emerging Gi* stage vs esda G_Local week loop",
                scale,
                n,
                gi_time,
                loop_time,
                f"{cube.shape[0]} x {cube.shape[1]}",
            )
        )
        whole, _ = timed(
            lambda cube=cube: emerging_hotspots(cube, neighbours.matrix, neighbours.unit_ids)
        )
        rows.append(
            ("whole job: counts + emerging analysis", scale, n, ours["seconds"] + whole, None, "")
        )
        path.unlink()
    if args.peak_50m:
        path = folder / "x50m.parquet"
        synthetic_file(path, 50_000_000, units, seed=50)
        ours = stream_in_subprocess(path, folder / "out50m")
        rows.append(
            (
                "read + assign + cube (stream), 50 million rows",
                200,
                50_000_000,
                ours["seconds"],
                None,
                f"peak {ours['peak_gib']:.2f} GiB (goal < 4)",
            )
        )
        path.unlink()
    print(
        f"{'stage':52} | {'scale':>5} | {'incidents':>11} | {'ours (s)':>9} | "
        f"{'baseline (s)':>12} | {'ratio':>6} | note"
    )
    print("-" * 125)
    for stage, scale, n, ours_s, base_s, note in rows:
        ratio = f"{base_s / ours_s:6.1f}" if base_s else "     -"
        base_text = f"{base_s:12.3f}" if base_s else f"{'-':>12}"
        print(
            f"{stage:52} | {scale:>4}x | {n:>11,} | {ours_s:9.3f} | {base_text} | {ratio} | {note}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
