"""The embedded default: seeded synthetic incidents over the 77 community areas, with planted
patterns that the analyses must find. No network and no file needed.

What is planted (weekly expected counts, two years of weeks from Monday 2024-01-01):

- **Downtown emerging**: the Loop (32) and the Near North Side (8) have almost nothing
  (0.3 a week) until the last ``emerging_weeks`` (10) weeks, then ``emerging_rate`` (20) a week:
  a rise strong enough for the calibrated statistics to call it in nearly every seed (at 12 a
  week, a fifth of seeds do; see ``bench/bench_calibration.py`` for the power at weaker rises).
- **West Side fading**: Austin (25), West Garfield Park (26), East Garfield Park (27),
  Humboldt Park (23) and North Lawndale (29) have ``hot_rate`` (12) a week for the first half of
  the weeks, then decline in a straight line to ``faded_rate`` (8) by 85% of the weeks
  (``faded_by``) and stay there: still hot, but less so (ArcGIS's "diminishing" hot spot).
- **Background**: every other area draws its own level uniformly between 0.5 and 2 a week,
  with no spatial pattern.
- **Bad rows**, so the reports show how they are handled: 3 unparseable dates, 2 rows with no
  coordinates, 2 points in Lake Michigan (in no community area).

The data are synthetic: they say nothing about real violence in these places.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from ..columns import MAP_CRS, WORKING_CRS
from ..outputs import write_csv
from ..units.layers import load_units

DEMO_FILE = "demo_incidents.csv"


@dataclass(frozen=True)
class DemoPlan:
    """The planted patterns of the demo (see the module docstring)."""

    first_monday: dt.date = dt.date(2024, 1, 1)
    weeks: int = 104
    emerging: tuple[str, ...] = ("32", "8")
    fading: tuple[str, ...] = ("25", "26", "27", "23", "29")
    hot_rate: float = 12.0
    emerging_rate: float = 20.0
    quiet_rate: float = 0.3
    emerging_weeks: int = 10
    fading_from: float = 0.5
    faded_by: float = 0.85
    faded_rate: float = 8.0
    background_low: float = 0.5
    background_high: float = 2.0


def weekly_rates(unit_ids: pd.Index, plan: DemoPlan, rng: np.random.Generator) -> np.ndarray:
    """Expected incidents per unit and week, shape ``(n_units, weeks)``.

    Examples
    --------
    >>> rates = weekly_rates(pd.Index(["32", "25", "1"]), DemoPlan(), np.random.default_rng(0))
    >>> rates.shape, float(rates[0, -1]), float(rates[1, 0]), float(rates[1, -1])
    ((3, 104), 20.0, 12.0, 8.0)
    """
    background = rng.uniform(plan.background_low, plan.background_high, len(unit_ids))
    rates = np.repeat(background[:, None], plan.weeks, axis=1)
    week = np.arange(plan.weeks)
    onset = plan.weeks - plan.emerging_weeks
    fade_start = int(plan.weeks * plan.fading_from)
    for row, unit in enumerate(unit_ids):
        if unit in plan.emerging:
            rates[row] = np.where(week >= onset, plan.emerging_rate, plan.quiet_rate)
        elif unit in plan.fading:
            fade_end = int(plan.weeks * plan.faded_by)
            share_left = np.clip((fade_end - week) / (fade_end - fade_start), 0, 1)
            floor = plan.faded_rate
            rates[row] = np.where(
                week < fade_start, plan.hot_rate, floor + (plan.hot_rate - floor) * share_left
            )
    return rates


def _points_in(polygon: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random points inside a polygon (rejection sampling in its box)."""
    x_min, y_min, x_max, y_max = polygon.bounds
    shapely.prepare(polygon)
    found: list[np.ndarray] = []
    still = n
    while still > 0:
        batch = max(2 * still, 64)
        # whole feet, as the portal writes them, rounded before the test so none slips outside
        x = np.round(rng.uniform(x_min, x_max, batch))
        y = np.round(rng.uniform(y_min, y_max, batch))
        inside = shapely.contains_xy(polygon, x, y)
        found.append(np.column_stack([x[inside], y[inside]])[:still])
        still -= int(inside.sum())
    return np.concatenate(found)[:n] if found else np.empty((0, 2))


def make_demo_incidents(seed: int = 20240101, plan: DemoPlan | None = None) -> pd.DataFrame:
    """Synthetic incidents in the portal export's shape (columns ``ID``, ``Date``, ...).

    Parameters
    ----------
    seed : int
        The random seed: the same seed gives the same rows.
    plan : DemoPlan, optional
        The planted patterns.

    Returns
    -------
    pandas.DataFrame
        Columns ``ID``, ``Date`` (``MM/DD/YYYY hh:mm:ss AM``), ``Primary Type``,
        ``Community Area``, ``X Coordinate``, ``Y Coordinate``, ``Latitude``, ``Longitude``.

    Examples
    --------
    >>> frame = make_demo_incidents(seed=1)
    >>> frame.columns.tolist()[:3], frame["Primary Type"].iloc[0]
    (['ID', 'Date', 'Primary Type'], 'SYNTHETIC')
    """
    plan = plan or DemoPlan()
    rng = np.random.default_rng(seed)
    units = load_units("community_areas").units
    rates = weekly_rates(units.index, plan, rng)
    counts = rng.poisson(rates)
    rows = []
    first = np.datetime64(plan.first_monday, "s")
    week_seconds = 7 * 24 * 3600
    for row, (unit_id, polygon) in enumerate(zip(units.index, units.geometry, strict=True)):
        per_week = counts[row]
        total = int(per_week.sum())
        if total == 0:
            continue
        xy = _points_in(polygon, total, rng)
        week = np.repeat(np.arange(plan.weeks), per_week)
        offset = rng.integers(0, week_seconds, total)
        wall = first + (week * week_seconds + offset).astype("timedelta64[s]")
        rows.append(pd.DataFrame({"wall": wall, "area": unit_id, "x": xy[:, 0], "y": xy[:, 1]}))
    frame = pd.concat(rows, ignore_index=True).sort_values("wall", kind="stable")
    frame = frame.reset_index(drop=True)
    to_lon_lat = Transformer.from_crs(WORKING_CRS, MAP_CRS, always_xy=True)
    lon, lat = to_lon_lat.transform(frame["x"].to_numpy(), frame["y"].to_numpy())
    incidents = pd.DataFrame(
        {
            "ID": np.arange(1, len(frame) + 1).astype(str),
            "Date": pd.DatetimeIndex(frame["wall"]).strftime("%m/%d/%Y %I:%M:%S %p"),
            "Primary Type": "SYNTHETIC",
            "Community Area": frame["area"].to_numpy(),
            "X Coordinate": frame["x"].astype(np.int64).astype(str),
            "Y Coordinate": frame["y"].astype(np.int64).astype(str),
            "Latitude": np.round(lat, 9).astype(str),
            "Longitude": np.round(lon, 9).astype(str),
        }
    )
    return _with_bad_rows(incidents, rng)


def write_demo_incidents(folder: str | Path | None = None, *, seed: int = 20240101) -> Path:
    """Write :func:`make_demo_incidents` as ``demo_incidents.csv`` (into a new temporary folder
    by default), for examples and trials.

    Examples
    --------
    >>> path = write_demo_incidents(seed=1)
    >>> path.name, path.read_text().splitlines()[0].split(",")[:2]
    ('demo_incidents.csv', ['ID', 'Date'])
    """
    folder = Path(tempfile.mkdtemp()) if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return write_csv(make_demo_incidents(seed=seed), folder / DEMO_FILE)


def _with_bad_rows(incidents: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Plant the documented bad rows at seeded places."""
    incidents = incidents.copy()
    positions = rng.choice(len(incidents), size=7, replace=False)
    bad_date, no_coordinates, in_lake = positions[:3], positions[3:5], positions[5:]
    incidents.loc[bad_date, "Date"] = "not recorded"
    incidents.loc[no_coordinates, ["X Coordinate", "Y Coordinate", "Latitude", "Longitude"]] = ""
    # Lake Michigan, a mile and more east of the shore at Streeterville
    lake_x, lake_y = np.array([1185000.0, 1190000.0]), np.array([1905000.0, 1910000.0])
    lon, lat = Transformer.from_crs(WORKING_CRS, MAP_CRS, always_xy=True).transform(lake_x, lake_y)
    incidents.loc[in_lake, "X Coordinate"] = lake_x.astype(np.int64).astype(str)
    incidents.loc[in_lake, "Y Coordinate"] = lake_y.astype(np.int64).astype(str)
    incidents.loc[in_lake, "Latitude"] = np.round(lat, 9).astype(str)
    incidents.loc[in_lake, "Longitude"] = np.round(lon, 9).astype(str)
    return incidents
