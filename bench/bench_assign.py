"""Benchmark point-in-polygon assignment against the obvious baselines.

What is measured, all in the same run so the ratios compare like with like:

1. Real data (the 148,636 aggravated assaults of 2010-2019 and the police beats, from
   ``../shared/data/chicago`` relative to the repository root, or ``$GEO_VIOLENCE_SHARED_DATA``):
   ``assign_units`` and the lower-level ``locate_points`` against
   ``geopandas.sjoin(..., predicate="within", how="left")``, timed on a fresh copy of the points
   each run (sjoin caches the points' spatial index on the frame, so a repeated sjoin on one frame
   skips building it: that "sindex cached" time is shown too; ours is timed likewise, once with
   its grid built in each run and once with the grid cached), and against two bare STRtree
   queries: what sjoin runs for "within" (a tree of the points, queried with each unit under
   ``contains``) and the naive one (a tree of the units, queried with each point under
   ``within``). Each time is the best of ``--repeats`` runs; the trees are built inside the
   timed call, as ``locate_points`` builds its own.
2. Synthetic data: ``--points`` uniform random points (seed 0, 2,000,000 by default, 500,000 with
   ``--quick``) inside the city (the union of the beats, tested with shapely alone), as incidents
   are, same comparison, best of ``--synthetic-repeats``.

Reading the portal's CSV is timed in ``bench/run.py``.

Every timed result is checked against sjoin's: a point sjoin puts in exactly one unit must get
that unit; a point sjoin puts in none must be unassigned, unless it lies exactly on an edge (our
rule gives it the first unit in id order whose boundary it touches; ``within`` leaves it out):
those are counted apart; a point sjoin puts in several overlapping units must get the first of
them in id order. Any other difference stops the run with a message. Times are reported, never
asserted: ratio is baseline time over ours, so above 1 means ours is faster.

Run it from the repository root::

    python bench/bench_assign.py [--quick] [--points N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_violence import assign_units, load_units, locate_points, read_incidents
from geo_violence.units import polygon_grid

DATA_ENV = "GEO_VIOLENCE_SHARED_DATA"
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chicago"
BEATS_FILE = "police_beats.geojson"
ASSAULTS_FILE = "aggravated_assaults_2010_2019.csv.gz"
FULL_POINTS = 2_000_000
QUICK_POINTS = 500_000


@dataclass
class Row:
    """One line of the timing table."""

    stage: str
    n: int
    ours: float
    baseline: float
    identical: str


@dataclass
class Check:
    """How our positions compare with sjoin's matches."""

    one: int
    none: int
    several: int
    edge: int
    mismatched: np.ndarray


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_POINTS:,} synthetic points")
    parser.add_argument(
        "--points", type=int, default=None, help=f"synthetic points (default {FULL_POINTS:,})"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per real-data timing")
    parser.add_argument(
        "--synthetic-repeats", type=int, default=2, help="runs per synthetic timing"
    )
    return parser.parse_args(argv)


def data_dir() -> Path | None:
    """The shared Chicago data folder, or None (with a message) when it is not there."""
    folder = Path(os.environ.get(DATA_ENV) or DEFAULT_DATA)
    if (folder / BEATS_FILE).exists() and (folder / ASSAULTS_FILE).exists():
        return folder
    print(
        f"shared data not found in {folder} (set {DATA_ENV} to the folder holding "
        f"{BEATS_FILE} and {ASSAULTS_FILE}); skipping the real-data part"
    )
    return None


def best_of(
    repeats: int, func: Callable[..., Any], setup: Callable[[], Any] | None = None
) -> tuple[float, Any]:
    """The shortest wall time of ``repeats`` calls, and the last call's result.

    ``setup``, when given, runs untimed before each call and its result is the call's argument.
    """
    best = float("inf")
    result = None
    for _ in range(max(repeats, 1)):
        result = None  # free the previous run's result before timing the next
        args = () if setup is None else (setup(),)
        start = time.perf_counter()
        result = func(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def sjoin_within(points: gpd.GeoDataFrame, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The baseline: geopandas' spatial join of points within units."""
    right = units.reset_index()[["unit_id", "geometry"]]
    return gpd.sjoin(points, right, predicate="within", how="left")


def strtree_within(x: np.ndarray, y: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """The naive lower-level baseline: a tree of the units, queried point by point."""
    tree = shapely.STRtree(polygons)
    return tree.query(shapely.points(x, y), predicate="within")


def strtree_contains(x: np.ndarray, y: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """What sjoin runs for 'within': a tree of the points, queried with each unit prepared."""
    tree = shapely.STRtree(shapely.points(x, y))
    unit_index, point_index = tree.query(polygons, predicate="contains")
    return np.vstack([point_index, unit_index])


def sjoin_pairs(joined: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> np.ndarray:
    """Sjoin's matches as (point position, unit position) pairs, like ``STRtree.query``."""
    matched = joined["index_right"].notna().to_numpy()
    point_position = points.index.get_indexer(joined.index[matched])
    unit_position = joined["index_right"].to_numpy()[matched].astype(np.int64)
    return np.vstack([point_position, unit_position])


def assignment_positions(
    assignment: Any, points: gpd.GeoDataFrame, units: gpd.GeoDataFrame
) -> np.ndarray:
    """Our assignment as one unit position (or -1) per point, checked for completeness."""
    position = np.full(len(points), -1, dtype=np.int64)
    rows = points.index.get_indexer(assignment.incidents.index)
    position[rows] = units.index.get_indexer(assignment.incidents["unit_id"])
    if len(assignment.incidents) + len(assignment.unassigned) != len(points):
        raise SystemExit("assign_units lost or duplicated incidents")
    if (position[rows] < 0).any():
        raise SystemExit("assign_units gave unit ids that are not in the layer")
    return position


def compare(
    ours: np.ndarray, pairs: np.ndarray, x: np.ndarray, y: np.ndarray, polygons: np.ndarray
) -> Check:
    """Compare our positions with the baseline's (point, unit) pairs, under our edge rule."""
    point_index, unit_index = pairs
    count = np.bincount(point_index, minlength=len(ours))
    first = np.full(len(ours), -1, dtype=np.int64)
    order = np.lexsort((unit_index, point_index))
    matched, at = np.unique(point_index[order], return_index=True)
    first[matched] = unit_index[order][at]
    expected_ok = (count >= 1) & (ours == first)
    none = count == 0
    edge = none & (ours >= 0)
    edge[edge] = shapely.intersects_xy(polygons[ours[edge]], x[edge], y[edge])
    good = expected_ok | (none & (ours == -1)) | edge
    return Check(
        one=int((count == 1).sum()),
        none=int(none.sum()),
        several=int((count > 1).sum()),
        edge=int(edge.sum()),
        mismatched=np.flatnonzero(~good),
    )


def describe_mismatches(
    label: str,
    check: Check,
    ours: np.ndarray,
    pairs: np.ndarray,
    units: gpd.GeoDataFrame,
    x: np.ndarray,
    y: np.ndarray,
) -> str:
    """A message naming the first points where ours and the baseline differ."""
    ids = units.index.to_numpy()
    lines = [f"{label}: {len(check.mismatched)} points differ from sjoin"]
    for point in check.mismatched[:20]:
        theirs = ids[pairs[1][pairs[0] == point]].tolist()
        mine = ids[ours[point]] if ours[point] >= 0 else None
        where = f"({float(x[point])!r}, {float(y[point])!r})"
        lines.append(f"  point {point} {where}: ours {mine}, sjoin {theirs}")
    return "\n".join(lines)


def verify(
    label: str,
    ours: np.ndarray,
    pairs: np.ndarray,
    units: gpd.GeoDataFrame,
    x: np.ndarray,
    y: np.ndarray,
) -> Check:
    """Compare, and stop the run if any point differs."""
    polygons = units.geometry.to_numpy()
    check = compare(ours, pairs, x, y, polygons)
    if len(check.mismatched):
        raise SystemExit(describe_mismatches(label, check, ours, pairs, units, x, y))
    return check


def time_baselines(
    points: gpd.GeoDataFrame, units: gpd.GeoDataFrame, repeats: int
) -> dict[str, tuple[float, np.ndarray]]:
    """Each baseline's best time and its (point position, unit position) pairs."""
    x, y = shapely.get_x(points.geometry.values), shapely.get_y(points.geometry.values)
    polygons = units.geometry.to_numpy()
    warm = points.copy()
    _ = warm.sindex  # built once, untimed: what a repeated sjoin on one frame sees
    runs = {
        "gpd.sjoin (fresh frame)": best_of(
            repeats, lambda frame: sjoin_within(frame, units), setup=points.copy
        ),
        "gpd.sjoin (sindex cached)": best_of(repeats, lambda: sjoin_within(warm, units)),
    }
    timings = {name: (t, sjoin_pairs(joined, points)) for name, (t, joined) in runs.items()}
    timings["STRtree(points) contains"] = best_of(repeats, lambda: strtree_contains(x, y, polygons))
    timings["STRtree(units) within"] = best_of(repeats, lambda: strtree_within(x, y, polygons))
    return timings


def run_comparison(
    name: str, points: gpd.GeoDataFrame, units: gpd.GeoDataFrame, repeats: int
) -> list[Row]:
    """Time ours and the baselines on one point set; check they agree; give table rows."""
    x, y = shapely.get_x(points.geometry.values), shapely.get_y(points.geometry.values)
    polygons = units.geometry.to_numpy()
    n = len(points)
    # like with like: sjoin on a fresh frame builds its tree, so ours builds its grid (the cache
    # is emptied before each run); a repeated sjoin reuses the frame's tree, ours the cached grid
    t_built, assignment = best_of(
        repeats, lambda _: assign_units(points, units), setup=polygon_grid._grids.clear
    )
    del assignment
    t_cached, assignment = best_of(repeats, lambda: assign_units(points, units))
    assigned = assignment_positions(assignment, points, units)
    del assignment
    t_locate, located = best_of(repeats, lambda: locate_points(x, y, polygons))
    if not np.array_equal(assigned, located):
        raise SystemExit(f"{name}: assign_units and locate_points disagree")
    baselines = time_baselines(points, units, repeats)
    checks = [
        verify(f"{name} vs {b}", assigned, pairs, units, x, y)
        for b, (_, pairs) in baselines.items()
    ]
    print_check(name, n, checks[0])
    rows = [
        Row(
            f"{name}: assign_units, grid built vs gpd.sjoin (fresh frame)",
            n,
            t_built,
            baselines["gpd.sjoin (fresh frame)"][0],
            "yes",
        ),
        Row(
            f"{name}: assign_units, grid cached vs gpd.sjoin (sindex cached)",
            n,
            t_cached,
            baselines["gpd.sjoin (sindex cached)"][0],
            "yes",
        ),
    ]
    rows += [
        Row(f"{name}: locate_points vs {b}", n, t_locate, t, "yes")
        for b, (t, _) in baselines.items()
    ]
    return rows


def print_check(name: str, n: int, check: Check) -> None:
    """Say how the points split between units, and that the results are identical."""
    print(
        f"{name}: {n:,} points; sjoin found one unit for {check.one:,}, none for "
        f"{check.none:,}, several (overlap) for {check.several:,}; on an edge (ours assigns, "
        f"sjoin 'within' does not): {check.edge:,}; identical: yes"
    )


def real_part(folder: Path, units: gpd.GeoDataFrame, repeats: int) -> list[Row]:
    """The comparison on the real aggravated assaults."""
    start = time.perf_counter()
    read = read_incidents(
        folder / ASSAULTS_FILE,
        time_col="date",
        x_col="longitude",
        y_col="latitude",
        crs="EPSG:4326",
    )
    print(f"read {len(read.incidents):,} assaults in {time.perf_counter() - start:.2f} s")
    return run_comparison("real", read.incidents, units, repeats)


def synthetic_points(n: int, units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``n`` uniform random points (seed 0) inside the units' union, shaped like read incidents."""
    rng = np.random.default_rng(0)
    city = shapely.union_all(units.geometry.to_numpy())
    shapely.prepare(city)
    bounds = units.total_bounds
    xs, ys, found = [], [], 0
    while found < n:
        x = rng.uniform(bounds[0], bounds[2], 2 * n)
        y = rng.uniform(bounds[1], bounds[3], 2 * n)
        inside = shapely.contains_xy(city, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        found += int(inside.sum())
    x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    crs = units.crs
    when = pd.Timestamp("2024-01-01", tz="America/Chicago")
    frame = pd.DataFrame(
        {
            "incident_id": np.arange(n).astype(str).astype(object),
            "occurred_at": pd.DatetimeIndex(np.full(n, when.value)).tz_localize("UTC"),
            "line": np.arange(2, n + 2, dtype=np.int64),
        }
    )
    return gpd.GeoDataFrame(frame, geometry=shapely.points(x, y), crs=crs)


def synthetic_part(units: gpd.GeoDataFrame, n: int, repeats: int) -> list[Row]:
    """The comparison on uniform random points inside the units."""
    points = synthetic_points(n, units)
    return run_comparison("synthetic", points, units, repeats)


def print_table(header: list[str], body: list[list[str]]) -> None:
    """An aligned table with ``|`` between columns."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    print(" | ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)))
    print("-+-".join("-" * width for width in widths))
    for row in body:
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def print_timings(rows: list[Row]) -> None:
    """The timing table."""
    header = ["stage", "n", "ours (s)", "baseline (s)", "ratio (baseline/ours)", "identical"]
    body = [
        [
            r.stage,
            f"{r.n:,}",
            f"{r.ours:.3f}",
            f"{r.baseline:.3f}",
            f"{r.baseline / r.ours:.2f}",
            r.identical,
        ]
        for r in rows
    ]
    print_table(header, body)


def load_layer(folder: Path | None) -> gpd.GeoDataFrame:
    """The beats from the shared data, or the embedded community areas when it is absent."""
    if folder is None:
        print("using the embedded community areas for the synthetic part")
        return load_units("community_areas").units
    return load_units("beats", units_file=folder / BEATS_FILE).units


def main(argv: list[str] | None = None) -> int:
    """Run every part and print the tables."""
    args = parse_args(argv)
    n_points = args.points or (QUICK_POINTS if args.quick else FULL_POINTS)
    folder = data_dir()
    units = load_layer(folder)
    print(f"{len(units)} units, CRS {units.crs.to_string()}")
    rows: list[Row] = []
    if folder is not None:
        rows += real_part(folder, units, args.repeats)
    rows += synthetic_part(units, n_points, args.synthetic_repeats)
    print()
    print_timings(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
