"""Counting per unit and step: calendar steps in Chicago time, partial steps, zeros, rates."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_violence import PeriodError, build_cube
from geo_violence.cube.counts import step_floor

UNITS = pd.DataFrame({"name": ["A", "B", "C"]}, index=pd.Index(["1", "2", "3"], name="unit_id"))


def _incidents(rows: list[tuple[str, str]]) -> pd.DataFrame:
    units, times = zip(*rows, strict=True) if rows else ((), ())
    return pd.DataFrame(
        {
            "unit_id": list(units),
            "occurred_at": pd.DatetimeIndex(list(times)).tz_localize("America/Chicago"),
        }
    )


def test_weeks_start_monday_midnight_chicago_and_zeros_are_kept():
    incidents = _incidents(
        [("1", "2024-01-07 23:59:59"), ("1", "2024-01-08 00:00:00"), ("2", "2024-01-20 12:00")]
    )
    cube = build_cube(incidents, UNITS, start="2024-01-01", end="2024-01-21")
    assert cube.step_starts.strftime("%Y-%m-%d %a").tolist() == [
        "2024-01-01 Mon",
        "2024-01-08 Mon",
        "2024-01-15 Mon",
    ]
    assert cube.counts.tolist() == [[1, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert cube.step_starts[0] == pd.Timestamp("2024-01-01 00:00", tz="America/Chicago")


def test_steps_follow_local_time_not_utc():
    # Monday 00:30 in Chicago is Monday 06:30 UTC; Sunday 23:30 in Chicago is Monday UTC
    times = pd.DatetimeIndex(["2024-01-08 05:30", "2024-01-08 06:30"]).tz_localize("UTC")
    incidents = pd.DataFrame({"unit_id": ["1", "1"], "occurred_at": times})
    cube = build_cube(incidents, UNITS, start="2024-01-01", end="2024-01-14")
    assert cube.counts[0].tolist() == [1, 1]


def test_week_across_the_dst_change_is_one_week():
    incidents = _incidents(
        [("1", "2024-03-10 01:59"), ("1", "2024-03-10 03:00"), ("1", "2024-03-11 00:00")]
    )
    cube = build_cube(incidents, UNITS, start="2024-03-04", end="2024-03-17")
    assert cube.counts[0].tolist() == [2, 1]
    assert (cube.edges[2] - cube.edges[1]) == pd.Timedelta(days=7)
    assert (cube.edges[1] - cube.edges[0]) == pd.Timedelta(days=7) - pd.Timedelta(hours=1)


def test_incomplete_first_and_last_weeks_are_left_out_and_said():
    incidents = _incidents([("1", "2024-01-03"), ("1", "2024-01-10"), ("1", "2024-01-24")])
    cube = build_cube(incidents, UNITS, start="2024-01-03", end="2024-01-24")
    assert cube.step_starts.strftime("%Y-%m-%d").tolist() == ["2024-01-08", "2024-01-15"]
    assert cube.counts[0].tolist() == [1, 0]
    assert cube.outside_period == 2
    assert any("incomplete" in note and "2024-01-01" in note for note in cube.notes)
    kept = build_cube(incidents, UNITS, start="2024-01-03", end="2024-01-24", keep_partial=True)
    assert kept.counts[0].tolist() == [1, 1, 0, 1]


def test_partial_steps_count_only_days_inside_the_period():
    incidents = _incidents([("1", "2024-01-01"), ("1", "2024-01-03")])
    cube = build_cube(incidents, UNITS, start="2024-01-02", end="2024-01-07", keep_partial=True)
    assert cube.counts[0].tolist() == [1]
    assert cube.outside_period == 1


def test_months_and_days():
    incidents = _incidents(
        [("2", "2024-01-31 23:00"), ("2", "2024-02-01 00:00"), ("3", "2024-02-29 12:00")]
    )
    months = build_cube(incidents, UNITS, step="month", start="2024-01-01", end="2024-02-29")
    assert months.counts.tolist() == [[0, 0], [1, 1], [0, 1]]
    days = build_cube(incidents, UNITS, step="day", start="2024-01-31", end="2024-02-01")
    assert days.counts[1].tolist() == [1, 1]


def test_default_period_is_the_data_and_totals_equal_assigned():
    rng = np.random.default_rng(1)
    stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 70 * 86400, 500), "s")
    incidents = pd.DataFrame(
        {
            "unit_id": rng.choice(["1", "2", "3"], 500),
            "occurred_at": pd.DatetimeIndex(stamps).tz_localize("America/Chicago"),
        }
    )
    cube = build_cube(incidents, UNITS, keep_partial=True)
    assert cube.counts.sum() == 500
    frame = cube.to_frame()
    assert len(frame) == 3 * cube.n_steps
    assert frame.groupby("unit_id")["count"].sum().to_dict() == (
        incidents["unit_id"].value_counts().to_dict()
    )


def test_rates_per_100000():
    incidents = _incidents([("1", "2024-01-02")] * 3)
    population = np.array([30_000.0, np.nan, 10_000.0])
    cube = build_cube(incidents, UNITS, start="2024-01-01", end="2024-01-07", population=population)
    rates = cube.rates()
    assert rates[0, 0] == pytest.approx(10.0)
    assert np.isnan(rates[1, 0]) and rates[2, 0] == 0
    assert cube.to_frame()["rate"].iloc[0] == pytest.approx(10.0)


def test_reversed_or_empty_periods_are_clear_errors():
    incidents = _incidents([("1", "2024-01-02")])
    with pytest.raises(PeriodError, match="reversed"):
        build_cube(incidents, UNITS, start="2024-02-01", end="2024-01-01")
    with pytest.raises(PeriodError, match="no complete week"):
        build_cube(incidents, UNITS, start="2024-01-02", end="2024-01-05")
    with pytest.raises(PeriodError, match="not a date"):
        build_cube(incidents, UNITS, start="last year")


def test_step_floor_is_monday_for_every_day_of_a_year():
    days = np.arange(np.datetime64("2023-01-01"), np.datetime64("2025-01-01"))
    floors = step_floor(days, "week")
    assert (pd.DatetimeIndex(floors).day_of_week == 0).all()
    assert ((days - floors) < np.timedelta64(7, "D")).all() and (days >= floors).all()


#: Instants a step's edge lies near: the 2024 DST changes (UTC) and a local midnight.
_NEAR_EDGES = [1710054000, 1730613600, 1704088800, 1719810000]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    step=st.sampled_from(["week", "month", "day"]),
    keep_partial=st.booleans(),
    unit=st.sampled_from(["ns", "us", "s"]),
    given_period=st.booleans(),
)
def test_each_incident_is_counted_in_the_step_of_its_local_day(
    seed, step, keep_partial, unit, given_period
):
    """The cube counts by its edges' instants; here each incident's local day is found with
    Python's zoneinfo and its step by hand, over times next to local midnights and DST changes,
    in every unit pandas keeps times in, with missing times among them."""
    rng = np.random.default_rng(seed)
    n = 400
    uniform = rng.integers(1704067200, 1735689600, n // 2)  # 2024 (UTC)
    near = rng.choice(_NEAR_EDGES, n // 2) + rng.integers(-3 * 86400, 3 * 86400, n // 2)
    near = (
        (near // 86400) * 86400
        + rng.choice([0, 5 * 3600, 6 * 3600], n // 2)
        + rng.choice([-1, 0, 1], n // 2)
    )  # UTC midnights and Chicago's (at 5 or 6 hours UTC), and a second either side
    seconds = np.concatenate([uniform, near])
    times = pd.Series(pd.to_datetime(seconds, unit="s", utc=True)).dt.tz_convert("America/Chicago")
    times = times.dt.as_unit(unit)
    times.iloc[[3, 250]] = pd.NaT
    incidents = pd.DataFrame({"unit_id": rng.choice(["1", "2", "3"], n), "occurred_at": times})
    chicago = zoneinfo.ZoneInfo("America/Chicago")
    local = [
        None if i in (3, 250) else dt.datetime.fromtimestamp(int(s), chicago).date()
        for i, s in enumerate(seconds)
    ]
    start, end = (dt.date(2024, 2, 3), dt.date(2024, 10, 30)) if given_period else (None, None)
    cube = build_cube(incidents, UNITS, step=step, start=start, end=end, keep_partial=keep_partial)
    first = start or min(day for day in local if day)
    last = end or max(day for day in local if day)
    edges = [edge.date() for edge in cube.edges]
    expected = np.zeros_like(cube.counts)
    for unit_id, day in zip(incidents["unit_id"], local, strict=True):
        if day is None or not (first <= day <= last and edges[0] <= day < edges[-1]):
            continue
        step_index = max(k for k, edge in enumerate(edges) if edge <= day)
        expected[int(unit_id) - 1, step_index] += 1
    np.testing.assert_array_equal(cube.counts, expected)
    assert cube.outside_period == n - expected.sum()
