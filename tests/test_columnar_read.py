"""The columnar reading path (issue 21): pyarrow reads the needed columns, array rules settle the
values they can decide exactly, and every other value goes through the per-value rules (pandas)
that read every value before.

The reference for "the same result as before" is those per-value rules themselves: with the array
rules switched off (monkeypatched to settle nothing), every value of a file goes through them, as
every value did before this path existed. A file with every kind of bad row is read both ways and
the results (incidents, rejects, notes, cube) must be identical. The exact figures of the real
files (tests/test_shared_data.py) and of the hand-written cases (tests/test_ingest.py,
tests/test_adversarial.py) pin the rest.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import logging
import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from geo_violence import assign_units, build_cube, load_units, read_incidents
from geo_violence.cli import main
from geo_violence.cube.scale import stream_cube
from geo_violence.sources import columnar
from geo_violence.sources import incidents as reading
from geo_violence.sources.points import PointArray, point_coordinates

PLAUSIBLE = reading.plausible_times()
FUTURE = (dt.date.today() + dt.timedelta(days=400)).isoformat()

#: Times of every kind: each layout read by the array rules, and everything they leave alone.
TIMES = [
    "", "   ", "yesterday", "nan", "NaT", "None",
    "2024-13-45 10:00", "02/30/2024 10:00:00 AM", "2023-02-29 10:00", "2024-02-29 10:00",
    "1677-01-01 10:00", "9999-12-31 10:00", "0001-01-01 00:00", "1899-12-31 23:00",
    "1900-01-01 00:00", "2262-04-12 00:00", "99999-01-01 00:00", f"{FUTURE} 10:00",
    "9999-12-31T00:00:00Z", "1899-12-31T23:00:00-05:00", "1900-01-01T05:59:59Z",
    "03/10/2024 02:30:00 AM", "2024-03-10 02:30", "2024-03-10T02:00:00", "2024-03-10T03:00:00",
    "11/03/2024 01:30:00 AM", "2024-11-03 01:30:00", "2024-11-03 01:00", "2024-11-03 02:00",
    "2024-07-01T05:00:00Z", "2024-07-01T00:00:00-05:00", "2024-03-01T12:00:00-05",
    "2024-03-01T12:00:00+00", "2024-03-01 12:00-0500", "2024-03-01T12:00:00.5Z",
    "2024-03-01T12:00Z", "2024-03-01 12:00:00 +05:30", "2024-03-01T12:00:00+0530",
    "2024-01-02T10:00:00.123", "2024-01-02 10:00:00.123456", "2024-01-02 10:00:00.1234567",
    "2024-01-02T10:00:00.000", "01/02/2024 01:05:00 pm", "1/2/2024 1:05:00 PM",
    "01/02/2024 13:05", "01/02/2024 01:05 PM", "2024-01-02", "2024-01", "2024", "20240102",
    "2024-01-02T10", " 2024-01-02 10:00 ", "2024-01-02 24:00:00", "12/31/1899 11:59:59 PM",
    "01/01/1900 12:00:00 AM", "00/10/2024 10:00:00 AM", "01/02/2024 00:30:00 AM",
    "01/02/2024 12:30:00 AM", "01/02/2024 12:30:00 PM", "2024-01-02 10:00:60",
    "2024-01-02 10:60", "2024-1-2 10:00", "2024-01-02t10:00", "2024/01/02 10:00",
    "09/08/2021 04:45:00 PM", "09/08/2021 04:45:00 PM ", "13/08/2021 04:45:00 PM",
    "09/08/2021 04:45:00 XM", "2024-01-02 10:00:00Z", "2024-06-30T23:59:59.999999-05:00",
    "2024-01-01T00:00:00+14:00", "2024-01-01T00:00:00-23:59", "2024-01-01T00:00:00+24:00",
    "1969-12-31 23:59:59.999", "1950-06-01 12:00", "1950-06-01T12:00:00.25",
    "2024-01-02 10:00:00.", "01/02/2024 1:05 PM", "01/02/2024 1:05", "2024-01-02 9:00",
    "2024-01-02 10:00:5", "1945-08-14 19:00", "1918-03-31 02:30", "1936-03-01 02:30",
]  # fmt: skip
XS = [
    "-87.63", "", " ", "west", "inf", "-inf", "nan", "NaN", "1e3", "  -87.6  ", "0", "0.0",
    "+87.6", ".5", "5.", "1e400", "0x10", "-0", "1_000", "-87.6300000000000000001", "-87.63e0",
    "Infinity", "-Infinity", "infinity", "-87,63", "-87.6298", "-87.72", "-180.5", "180",
    "-87.123456789012345678", "-0.0", "٣",
]  # fmt: skip
YS = ["41.88", "", "north", "inf", "nan", "0", "41.9", "141.88", "-90", "90.0001", "41.8781",
      "4.188e1", " 41.88", "41.95", "41.75", "-0"]  # fmt: skip
IDS = ["1", "2", "", " 7 ", "007", "7", "8", "x-1", "2", "\u00a0id\u00a0", "é"]
KINDS = ["HOMICIDE", "battery", "", " Robbery ", "HOMICIDE", "ROBBERY\t"]
BEATS = ["011", "11", " 0111", "31A", "", "0", "32", "32", "7", "0111"]
OPTIONS = {"time_col": "when", "x_col": "lon", "y_col": "lat", "id_col": "id"}


def every_kind_of_row(n_random: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Each listed time with good coordinates, each coordinate with a good time, and random
    mixtures of all of them (ids, categories and codes drawn at random)."""
    good_time, good_x, good_y = "2024-01-03 10:00", "-87.63", "41.88"
    rows = [(t, good_x, good_y) for t in TIMES]
    rows += [(good_time, x, good_y) for x in XS]
    rows += [(good_time, good_x, y) for y in YS]
    rng = np.random.default_rng(seed)
    times = rng.choice(TIMES + ["09/08/2021 04:45:00 PM", good_time] * 20, n_random)
    xs = rng.choice(XS + ["-87.65", "-87.7", "-87.6"] * 10, n_random)
    ys = rng.choice(YS + ["41.8", "41.85", "41.9"] * 10, n_random)
    rows += list(zip(times, xs, ys, strict=True))
    frame = pd.DataFrame(rows, columns=["when", "lon", "lat"])
    frame.insert(0, "id", rng.choice(IDS, len(frame)))
    frame["kind"] = rng.choice(KINDS, len(frame))
    frame["Beat"] = rng.choice(BEATS, len(frame))
    return frame


def per_value_rules_only(monkeypatch) -> None:
    """Switch the array rules off: every value goes through the per-value rules."""

    def nothing_settled(values, layouts, window, *, into=None, start=0):
        return columnar.ArrayTimes.empty(len(values)) if into is None else into

    def no_plain_numbers(values, *, into=None, start=0):
        # nothing read, and no value seen empty: the per-value rules find the empty ones
        if into is None:
            n = len(values)
            into = (np.full(n, np.nan), *(np.zeros(n, dtype=bool) for _ in range(3)))
        return into

    def every_clock_time_unsure(wall, zone, per_second=1_000_000):
        return np.full(len(wall), columnar.NAT, dtype=np.int64), wall != columnar.NAT

    monkeypatch.setattr(reading, "read_times", nothing_settled)
    monkeypatch.setattr(reading, "read_plain_numbers", no_plain_numbers)
    monkeypatch.setattr(reading, "localize_clock", every_clock_time_unsure)
    monkeypatch.setattr(reading, "strip_needed", lambda text: text.length >= 0)

    # every id shares one hash: repeated ids are found by comparing the text alone
    def same_hash(ids, *, into=None, start=0):
        return np.zeros(len(ids), dtype=np.uint64) if into is None else into

    monkeypatch.setattr(reading, "hash_text", same_hash)
    monkeypatch.setattr(reading, "_surely_inside", lambda *args: None)


def as_compared(read) -> dict:
    """A read's result, geometry as coordinates."""
    incidents = read.incidents
    x, y = point_coordinates(incidents.geometry)
    return {
        "incidents": pd.DataFrame(incidents.drop(columns="geometry")).assign(x=x, y=y),
        "crs": incidents.crs,
        "rejects": read.rejects,
        "notes": read.notes,
        "rows": (read.rows_read, read.rows_filtered_out, read.rows_rejected),
    }


def assert_same(ours: dict, reference: dict) -> None:
    pd.testing.assert_frame_equal(ours["incidents"], reference["incidents"], check_exact=True)
    pd.testing.assert_frame_equal(ours["rejects"], reference["rejects"], check_exact=True)
    assert ours["notes"] == reference["notes"]
    assert ours["rows"] == reference["rows"]
    assert ours["crs"] == reference["crs"]


@pytest.fixture(scope="module")
def bad_rows_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_rows")
    frame = every_kind_of_row()
    frame.to_csv(folder / "x.csv", index=False)
    frame.to_csv(folder / "x.csv.gz", index=False)
    frame.to_parquet(folder / "x.parquet")
    return folder


@pytest.mark.parametrize("name", ["x.csv", "x.csv.gz", "x.parquet"])
@pytest.mark.parametrize(
    "options",
    [
        {**OPTIONS, "category_col": "kind", "code_cols": ["Beat"]},
        {"time_col": "when", "x_col": "lon", "y_col": "lat"},
        {**OPTIONS, "time_format": "%m/%d/%Y %I:%M:%S %p"},
        {**OPTIONS, "time_format": "%Y-%m-%d %H:%M"},
        {**OPTIONS, "category_col": "kind", "filter_category": ["homicide", "ROBBERY"]},
        {**OPTIONS, "crs": "EPSG:3435"},
    ],
    ids=["codes", "no-id", "portal-format", "own-format", "filter", "feet"],
)
def test_a_file_with_every_kind_of_bad_row_reads_as_the_per_value_rules_read_it(
    bad_rows_files, monkeypatch, name, options
):
    ours = read_incidents(bad_rows_files / name, **options)
    assert not ours.incidents.geometry.values.materialized  # no point made while reading
    with monkeypatch.context() as patch:
        per_value_rules_only(patch)
        reference = read_incidents(bad_rows_files / name, **options)
    assert_same(as_compared(ours), as_compared(reference))
    # and so is everything counted from it
    units = load_units("community_areas").units
    for how in ("polygon", "recorded") if "code_cols" in options else ("polygon",):
        code = "Beat" if "code_cols" in options else None
        a = assign_units(ours.incidents, units, how=how, code_column=code)
        b = assign_units(reference.incidents, units, how=how, code_column=code)
        pd.testing.assert_frame_equal(a.unassigned, b.unassigned, check_exact=True)
        assert a.agreement == b.agreement and a.notes == b.notes
        if len(a.incidents):
            period = {"step": "month", "start": "2000-01-01", "end": "2025-12-31"}
            np.testing.assert_array_equal(
                build_cube(a.incidents, units, **period).counts,
                build_cube(b.incidents, units, **period).counts,
            )


row_text = st.one_of(
    st.sampled_from(TIMES),
    st.datetimes(min_value=dt.datetime(1890, 1, 1), max_value=dt.datetime(2100, 1, 1)).flatmap(
        lambda t: st.sampled_from(
            [
                t.strftime("%m/%d/%Y %I:%M:%S %p"),
                t.strftime("%Y-%m-%dT%H:%M:%S"),
                t.strftime("%Y-%m-%d %H:%M"),
                t.isoformat(timespec="microseconds"),
                t.strftime("%Y-%m-%dT%H:%M:%S-05:00"),
                t.strftime("%m/%d/%Y %H:%M"),
            ]
        )
    ),
)
number_text = st.one_of(
    st.sampled_from(XS),
    st.floats(min_value=-200, max_value=200).map(lambda v: f"{v:.{abs(int(v * 7)) % 12}f}"),
    st.text(alphabet="0123456789.-+ e", max_size=8),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(row_text, number_text, st.sampled_from(YS), st.sampled_from(IDS)),
        min_size=1,
        max_size=40,
    )
)
def test_any_rows_read_as_the_per_value_rules_read_them(tmp_path_factory, monkeypatch, rows):
    path = tmp_path_factory.mktemp("rows") / "x.csv"
    frame = pd.DataFrame(rows, columns=["when", "lon", "lat", "id"])
    frame.to_csv(path, index=False)
    ours = read_incidents(path, **OPTIONS)
    with monkeypatch.context() as patch:
        per_value_rules_only(patch)
        reference = read_incidents(path, **OPTIONS)
    assert_same(as_compared(ours), as_compared(reference))


LAYOUT_FORMATS = [
    ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M:%S %p"),
    ("%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M %p"),
    ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M"),
    ("ISO8601", "%Y-%m-%d"),
    ("ISO8601", "%Y-%m-%d %H:%M"),
    ("ISO8601", "%Y-%m-%dT%H:%M:%S"),
    ("ISO8601", "%Y-%m-%dT%H:%M:%S.%f"),
    ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S"),
]


@pytest.mark.parametrize(("time_format", "written"), LAYOUT_FORMATS)
def test_times_read_from_their_bytes_equal_pandas(time_format, written):
    rng = np.random.default_rng(7)
    seconds = rng.integers(-2_208_988_800, 4_102_444_800, 20_000)  # 1900 to 2100
    stamps = pd.to_datetime(seconds, unit="s") + pd.to_timedelta(
        rng.integers(0, 1_000_000, 20_000), unit="us"
    )
    text = pd.Series(stamps.strftime(written))
    layouts = columnar.layouts_for((time_format,))
    window = (np.datetime64("1900-01-01", "us"), np.datetime64("2100-12-31", "us"))
    times = columnar.read_times(pa.array(text), layouts, window)
    expected = pd.to_datetime(text, format=time_format).to_numpy(dtype="datetime64[us]")
    assert times.naive.all()
    np.testing.assert_array_equal(times.wall, expected.astype(np.int64))


@pytest.mark.parametrize("time_format", ["%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M"])
def test_a_column_of_one_width_with_damaged_bytes_reads_as_pandas_reads_it(time_format):
    # one width throughout: the path for the usual column, which reads it in place
    rng = np.random.default_rng(11)
    seconds = rng.integers(978_307_200, 1_767_225_600, 30_000)  # 2001 to 2025
    text = pd.to_datetime(seconds, unit="s").strftime(time_format).to_numpy(dtype=object)
    damaged = rng.random(len(text)) < 0.4
    for row in np.flatnonzero(damaged):  # one byte changed: digits, separators, letters, a space
        at = rng.integers(len(text[row]))
        text[row] = text[row][:at] + rng.choice(list("0123456789/-: APMT")) + text[row][at + 1 :]
    text[:6] = pd.Series(["13", "02", "00", "12", "11", "04"]) + pd.Series(text[:6]).str[2:]
    window = (np.datetime64("1900-01-01", "us"), np.datetime64("2100-12-31", "us"))
    times = columnar.read_times(pa.array(text), columnar.layouts_for((time_format,)), window)
    parsed = pd.to_datetime(pd.Series(text), format=time_format, errors="coerce")
    canonical = parsed.notna() & (parsed.dt.strftime(time_format) == pd.Series(text))
    canonical &= parsed.between(*(pd.Timestamp(end) for end in window))
    # ours reads exactly the values written in the layout inside the window, as pandas reads them
    # (a damaged year too: one digit a ':' once indexed past the table of months)
    np.testing.assert_array_equal(times.naive, canonical.to_numpy())
    expected = parsed[canonical].to_numpy(dtype="datetime64[us]").astype(np.int64)
    np.testing.assert_array_equal(times.wall[times.naive], expected)
    assert 0.4 < (~times.naive[damaged]).mean() < 1  # most damage is caught, some is a new time


def test_a_letter_in_a_year_is_an_unparseable_time(tmp_path):
    # it once made a year past 9999, and an index error out of the table of months
    (tmp_path / "x.csv").write_text(
        "ID,Date,X Coordinate,Y Coordinate\n"
        "1,01/02/P024 01:05:00 PM,1176000,1900000\n2,01/02/2024 01:05:00 PM,1176000,1900000\n"
    )
    read = read_incidents(tmp_path / "x.csv")
    assert read.incidents["incident_id"].tolist() == ["2"]
    assert read.rejects[["reason", "value"]].values.tolist() == [
        ["unparseable time", "01/02/P024 01:05:00 PM"]
    ]


def test_a_rejected_value_is_shown_stripped_as_text(tmp_path):
    (tmp_path / "x.csv").write_text(
        "ID,Date,X Coordinate,Y Coordinate\n"
        '1,"  soon\t",1176000,1900000\n'
        '2,01/02/2024 01:05:00 PM," east ",1900000\n'
        "3,01/02/2024 01:05:00 PM,1176000,1900000\n"
    )
    read = read_incidents(tmp_path / "x.csv")
    assert read.rejects[["incident_id", "reason", "value"]].values.tolist() == [
        ["1", "unparseable time", "soon"],
        ["2", "non-numeric coordinate", "east"],
    ]


def test_the_table_of_months_is_pythons_calendar():
    # built from one 400-year cycle, shifted: every month of years 1 to 9999 against datetime
    first_day, length = columnar._months()
    epoch = dt.date(1970, 1, 1).toordinal()
    expected = np.array(
        [
            dt.date(year, month, 1).toordinal() - epoch
            for year in range(1, 10_000)
            for month in range(1, 13)
        ]
    )
    np.testing.assert_array_equal(first_day[12:], expected)
    np.testing.assert_array_equal(length[12:-1], np.diff(first_day[12:]))
    assert length[-1] == 31 and first_day[1] - first_day[0] == 31  # December 9999, January 0
    assert length[2 * 12 + 1] == 28 and length[4 * 12 + 1] == 29 and length[1900 * 12 + 1] == 28


def test_offsets_read_from_their_bytes_equal_pandas():
    rng = np.random.default_rng(8)
    seconds = rng.integers(0, 4_000_000_000, 5_000)
    base = pd.Series(pd.to_datetime(seconds, unit="s").strftime("%Y-%m-%dT%H:%M:%S"))
    offsets = rng.choice(["Z", "+05:30", "-0600", "+01", "-11:45", ".25Z", ".123456-03:00"], 5000)
    text = base + pd.Series(offsets)
    window = (np.datetime64("1900-01-01", "us"), np.datetime64("2200-01-01", "us"))
    times = columnar.read_times(pa.array(text), columnar.layouts_for(()), window)
    expected = pd.to_datetime(text, format="ISO8601", utc=True).dt.tz_localize(None)
    assert times.aware.all()
    np.testing.assert_array_equal(
        times.utc, expected.to_numpy(dtype="datetime64[us]").astype(np.int64)
    )


def test_clock_times_near_every_dst_change_read_as_pandas_reads_them():
    first = np.datetime64("1900-01-01T00:00", "m")
    last = np.datetime64("2101-01-01T00:00", "m")
    changes, before, after = columnar.zone_changes(
        "America/Chicago",
        int(first.astype("datetime64[s]").astype(np.int64)),
        int(last.astype("datetime64[s]").astype(np.int64)),
    )
    assert len(changes) > 300  # twice a year, mostly
    clock_of_change = (changes + np.minimum(before, after)) * 1_000_000
    near = clock_of_change[:, None] + np.arange(-180, 241, 7)[None, :] * 60_000_000
    rng = np.random.default_rng(3)
    spread = rng.integers(first.astype(np.int64), last.astype(np.int64), 50_000) * 60_000_000
    wall = np.concatenate([near.ravel(), spread])
    utc, unsure = columnar.localize_clock(wall, "America/Chicago")
    clock = pd.DatetimeIndex(wall.astype("datetime64[us]")).as_unit("ns")
    strict = clock.tz_localize("America/Chicago", ambiguous="NaT", nonexistent="NaT")
    # every time in a gap or a repeated hour is left to pandas; every other one is pandas' reading
    assert unsure[np.asarray(strict.isna())].all()
    sure = ~unsure
    np.testing.assert_array_equal(utc[sure] * 1000, strict.asi8[sure])
    assert sure.mean() > 0.9
    # a missing clock time (NaT) is no instant and not unsure; the others read as they did
    gaps = wall.copy()
    gaps[::3] = columnar.NAT
    utc_gaps, unsure_gaps = columnar.localize_clock(gaps, "America/Chicago")
    assert (utc_gaps[::3] == columnar.NAT).all() and not unsure_gaps[::3].any()
    kept = np.ones(len(wall), dtype=bool)
    kept[::3] = False
    np.testing.assert_array_equal(utc_gaps[kept], utc[kept])
    np.testing.assert_array_equal(unsure_gaps[kept], unsure[kept])
    utc_none, unsure_none = columnar.localize_clock(gaps[::3], "America/Chicago")
    assert (utc_none == columnar.NAT).all() and not unsure_none.any()


@given(st.lists(number_text, min_size=1, max_size=50))
def test_plain_decimals_are_read_as_pandas_reads_them(values):
    number, plain, dotted, empty = columnar.read_plain_numbers(pa.array(values, type=pa.string()))
    expected = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(float)
    np.testing.assert_array_equal(number[plain], expected[plain])
    np.testing.assert_array_equal(np.signbit(number[plain]), np.signbit(expected[plain]))
    assert all("." in values[i] for i in np.flatnonzero(dotted))
    assert empty.tolist() == [value == "" for value in values]


def test_a_bare_point_before_an_offset_is_an_offset(tmp_path):
    # pandas reads "10:00:00.+05:00" with its offset; it was taken for a time without one, and
    # the whole file was refused as if its time format were wrong
    path = tmp_path / "x.csv"
    path.write_text(
        "when,lon,lat\n2024-01-02 10:00:00.+05:00,-87.6,41.9\n2024-01-02 10:00,-87.6,41.9\n"
    )
    times = read_incidents(path, time_col="when", x_col="lon", y_col="lat").incidents["occurred_at"]
    assert times.iloc[0] == pd.Timestamp("2024-01-02 05:00", tz="UTC")
    assert times.iloc[1] == pd.Timestamp("2024-01-02 10:00", tz="America/Chicago")


def test_points_stay_coordinates_until_asked_for():
    points = PointArray(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]), crs="EPSG:3435")
    frame = gpd.GeoDataFrame({"a": [1, 2, 3]}, geometry=points, crs="EPSG:3435")
    part = frame.loc[frame["a"] > 1].copy()
    part["b"] = "x"
    again = pickle.loads(pickle.dumps(pd.concat([part, part])))
    for kept in (part, again):
        assert isinstance(kept.geometry.values, PointArray)
        assert not kept.geometry.values.materialized
    assert point_coordinates(again.geometry)[0].tolist() == [2.0, 3.0, 2.0, 3.0]
    expected = gpd.GeoDataFrame(
        {"a": [2, 3], "b": ["x", "x"]}, geometry=shapely.points([2, 3], [5, 6]), index=[1, 2]
    ).set_crs("EPSG:3435")[["a", "geometry", "b"]]
    pd.testing.assert_frame_equal(part, expected, check_dtype=False)
    assert part.geometry.x.tolist() == [2.0, 3.0] and part.total_bounds.tolist() == [2, 5, 3, 6]
    assert part.geometry.iloc[0].wkt == "POINT (2 5)"  # a point asked for: the points are made
    assert part.geometry.values.materialized


READ = {"time_col": "date", "x_col": "longitude", "y_col": "latitude", "crs": "EPSG:4326"}
PERIOD = {"step": "week", "start": "2010-01-04", "end": "2019-12-29"}


@pytest.fixture(scope="module")
def assaults_with_bad_rows(shared_data, tmp_path_factory):
    """The 2010-2019 assaults as a CSV and a CSV.gz, with bad rows added, and their in-memory
    read, assignment and cube by community area."""
    folder = tmp_path_factory.mktemp("assaults")
    with gzip.open(shared_data / "aggravated_assaults_2010_2019.csv.gz", "rt") as handle:
        text = handle.read()
    bad = [
        "not a date,street,-87.6,41.8,2",
        "2015-05-05 10:00,street,,41.8,2",
        "2015-05-05 10:00,street,-80.0,30.0,2",
        "2015-05-05 10:00,street,-87.6,41.8,2",
    ]
    text = text.rstrip("\n") + "\n" + "\n".join(bad) + "\n"
    (folder / "a.csv").write_text(text)
    (folder / "a.csv.gz").write_bytes(gzip.compress(text.encode()))
    units = load_units("community_areas").units
    read = read_incidents(folder / "a.csv", **READ)
    assigned = assign_units(read.incidents, units)
    cube = build_cube(assigned.incidents, units, keep_partial=True, **PERIOD)
    return folder, units, read, assigned, cube


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["a.csv", "a.csv.gz"])
def test_streaming_a_csv_in_blocks_gives_the_in_memory_cube(assaults_with_bad_rows, name):
    folder, units, read, assigned, cube = assaults_with_bad_rows
    result = stream_cube(folder / name, units, read_options=READ, batch_rows=40_000, **PERIOD)
    assert result.parts == 4
    np.testing.assert_array_equal(result.cube.counts, cube.counts)
    assert (result.rows_read, result.rejected, result.unassigned) == (
        read.rows_read,
        read.rows_rejected,
        len(assigned.unassigned),
    )
    assert result.cube.outside_period == cube.outside_period
    rejects = result.rejects.sort_values(["line", "column", "reason"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(rejects, read.rejects, check_dtype=False)
    assert rejects["line"].tolist()[-2:] == [148_638, 148_639]


def test_a_streamed_csv_with_records_over_several_lines_keeps_each_line(tmp_path):
    record = '{i},{when},-87.6298,41.8781,"a\nb"\n\n'
    text = "id,when,lon,lat,note\n" + "".join(
        record.format(i=i, when="bad" if i % 3 == 0 else "2024-01-03 10:00") for i in range(1, 10)
    )
    text += "4,2024-01-04 10:00,-87.6298,41.8781,x\n"  # a repeated id
    path = tmp_path / "x.csv"
    path.write_text(text)
    units = load_units("community_areas").units
    options = {"time_col": "when", "x_col": "lon", "y_col": "lat", "id_col": "id"}
    read = read_incidents(path, **options)
    result = stream_cube(
        path, units, read_options=options, batch_rows=2, start="2024-01-01", end="2024-01-07"
    )
    assert read.rejects["line"].tolist() == [8, 17, 26, 29]
    assert sorted(result.rejects["line"]) == [8, 17, 26, 29]
    assert "first on line 11" in read.rejects["reason"].iloc[-1]
    assert "first in an earlier part" in result.rejects["reason"].iloc[-1]
    assert int(result.cube.counts.sum()) == len(read.incidents) == 6


def test_a_stream_says_what_the_dst_rule_did_over_all_its_batches(tmp_path):
    # two times in the spring-forward gap and three in the repeated fall-back hour, spread over
    # batches of two rows: the stream's notes sum them, as one in-memory read says them
    times = ["2024-03-10 02:30", "2024-03-10 02:05", "2024-11-03 01:30", "2024-11-03 01:10"]
    times += ["2024-11-03 01:59", "2024-06-01 12:00", "2024-03-10 03:30"]
    rows = [f"{i},{when},-87.6298,41.8781" for i, when in enumerate(times, start=1)]
    path = tmp_path / "dst.csv"
    path.write_text("id,when,lon,lat\n" + "\n".join(rows) + "\n")
    read = read_incidents(path, **OPTIONS)
    assert read.dst_moves == (2, 3)
    result = stream_cube(
        path,
        load_units("community_areas").units,
        read_options=OPTIONS,
        batch_rows=2,
        start="2024-01-01",
        end="2024-12-29",
    )
    assert result.parts == 4
    said = [note for note in result.notes if "DST" in note]
    assert said == [note for note in read.notes if "DST" in note]
    assert [note.split()[0] for note in said] == ["2", "3"]


def test_a_stream_says_what_one_read_of_the_whole_file_says(tmp_path, caplog):
    # the portal's export, with a bad time, a missing coordinate and an id repeated in a later
    # batch: the stream's notes are the read's notes (the export recognised, the rejects summed
    # over its batches), and the rejects are said once, not once a batch
    header = "ID,Date,Primary Type,X Coordinate,Y Coordinate"
    rows = ["1,01/02/2024 10:00:00 AM,BATTERY,1144907,1896933"]
    rows += ["2,01/02/2024 25:00:00 AM,BATTERY,1144907,1896933"]
    rows += ["3,01/03/2024 10:00:00 AM,BATTERY,,1896933"]
    rows += ["4,01/03/2024 11:00:00 PM,BATTERY,1144907,1896933"]
    rows += ["1,01/04/2024 10:00:00 AM,BATTERY,1144907,1896933"]
    rows += ["5,01/04/2024 10:00:00 AM,BATTERY,1144907,1896933"]
    path = tmp_path / "crimes.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    read = read_incidents(path)
    assert read.rows_rejected == 3
    caplog.set_level(logging.INFO, logger="geo_violence")
    caplog.clear()
    result = stream_cube(
        path,
        load_units("community_areas").units,
        batch_rows=2,
        start="2024-01-01",
        end="2024-01-07",
    )
    assert result.parts == 3 and int(result.cube.counts.sum()) == 3
    assert [note for note in result.notes if not note.startswith("counted ")] == read.notes
    assert read.notes[0].startswith("recognised the City of Chicago portal's")
    assert read.notes[-1].startswith("3 of 6 rows rejected: 1 duplicate incident id; ")
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert sum("rows rejected" in message for message in said) == 1


@pytest.mark.shared_data
def test_the_counts_command_streams_a_csv_to_the_in_memory_counts(assaults_with_bad_rows, tmp_path):
    folder, *_ = assaults_with_bad_rows
    tables = {}
    for engine in ("memory", "stream"):
        out = tmp_path / engine
        arguments = ["counts", str(folder / "a.csv.gz"), "--engine", engine]
        arguments += ["--time-col", "date", "--x-col", "longitude", "--y-col", "latitude"]
        arguments += ["--start", PERIOD["start"], "--end", PERIOD["end"], "--keep-partial"]
        result = CliRunner().invoke(main, [*arguments, "--out", str(out)])
        assert result.exit_code == 0, result.output
        tables[engine] = pd.read_parquet(out / "counts.parquet")[["unit_id", "step_start", "count"]]
        tables[engine + " rejects"] = pd.read_csv(out / "rejects.csv")
    pd.testing.assert_frame_equal(tables["memory"], tables["stream"])
    pd.testing.assert_frame_equal(tables["memory rejects"], tables["stream rejects"])


def test_local_days_are_the_days_pythons_zoneinfo_gives():
    import zoneinfo

    from geo_violence.cube.counts import local_days

    rng = np.random.default_rng(5)
    instants = rng.integers(-2_208_988_800, 4_102_444_800, 3_000)
    # and the seconds around each change of offset in 2024 (and an hour of UTC midnight)
    changes = [1710054000, 1730613600, 1704067200]
    instants = np.concatenate([instants, *[np.arange(c - 3605, c + 3605, 5) for c in changes]])
    times = pd.Series(pd.DatetimeIndex((instants * 10**9).astype("datetime64[ns]")))
    times = times.dt.tz_localize("UTC").dt.tz_convert("America/Chicago")
    times.iloc[[5, 7]] = pd.NaT
    chicago = zoneinfo.ZoneInfo("America/Chicago")
    expected = np.array(
        [dt.datetime.fromtimestamp(int(s), chicago).date() for s in instants], dtype="datetime64[D]"
    )
    expected[[5, 7]] = np.datetime64("NaT")
    np.testing.assert_array_equal(local_days(times), expected)


def test_long_arrays_read_in_slices_give_what_they_give_whole(monkeypatch):
    """The array rules take a long array in slices of MAX_PIECE_ROWS rows: the same results as
    in one piece."""
    rng = np.random.default_rng(5)
    n = 2 * 1000 + 7
    stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400 * 86400, n), "s")
    times = pa.array(stamps.strftime("%m/%d/%Y %I:%M:%S %p").tolist())
    numbers = pa.array([f"{v:.6f}" for v in rng.uniform(-88, -87, n)])
    ids = pa.chunked_array([pa.array([str(k) for k in range(n)]), pa.array(["x" * 70, ""])])
    layouts = columnar.layouts_for(("%m/%d/%Y %I:%M:%S %p",))

    def read_all():
        read = columnar.read_times(times, layouts, PLAUSIBLE)
        return (
            read.wall,
            read.settled,
            *columnar.read_plain_numbers(numbers),
            columnar.hash_text(ids),
            columnar.text_lengths(ids),
        )

    whole = read_all()
    monkeypatch.setattr(columnar, "MAX_PIECE_ROWS", 1000)
    assert len(list(columnar.chunks(times))) == 3
    for sliced, one in zip(read_all(), whole, strict=True):
        np.testing.assert_array_equal(sliced, one)


@settings(
    deadline=None, max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.sampled_from(["ID", "Date", " x", "é", ",", ",", '"', *"\r\n\t\x00\ufeff"]), max_size=12
    ),
    st.sampled_from([b"", b"\n1,2\n"]),
    st.sampled_from(["x.csv", "x.csv.gz", "x.csv.bz2"]),
)
@example(pieces=["ID", ",", "ID"], rest=b"", name="x.csv")  # repeated: pandas renames one
@example(pieces=["\ufeff", "ID", ",", " x", "\t"], rest=b"\n1,2\n", name="x.csv")
@example(pieces=["ID", ","], rest=b"\n1,2\n", name="x.csv.gz")  # an empty name
@example(pieces=["\n", "ID", ",", "Date"], rest=b"\n1,2\n", name="x.csv")  # a blank line first
def test_a_header_is_named_as_pandas_names_it(tmp_path, pieces, rest, name):
    # the first line is read by hand when its names are plain; pandas reads any other
    import bz2

    raw = "".join(pieces).encode() + rest
    path = tmp_path / name
    packed = {".gz": gzip.compress, "bz2": bz2.compress}.get(name[-3:], lambda data: data)
    path.write_bytes(packed(raw))
    plain = reading._plain_header(path)
    if plain is not None:  # the names pandas reads on that line alone
        first = io.BytesIO(raw.split(b"\n", 1)[0] + b"\n")
        assert plain == [str(column) for column in pd.read_csv(first, nrows=0).columns]
    try:
        expected = [str(column) for column in pd.read_csv(path, nrows=0).columns]
    except ValueError:  # no names, or a broken line after them (pandas reads on past the names)
        if plain is None:
            with pytest.raises(reading.InputFileError):
                reading._read_header(path)
        return
    assert reading._read_header(path) == expected


@settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.sampled_from([b"a", b",", b"\n", b"\r", b"\r\n", b"\xe9"]), max_size=60),
    st.integers(1, 7),
    st.sampled_from(["read", "read_buffer", "gzip"]),
)
def test_the_line_counter_counts_the_lines_python_splits(tmp_path, pieces, block, how):
    data = b"".join(pieces)
    name = "f.csv.gz" if how == "gzip" else "f.csv"
    (tmp_path / name).write_bytes(gzip.compress(data) if how == "gzip" else data)
    read = []
    with columnar.LineCounter(tmp_path / name) as counter:
        next_block = counter.read if how == "read" else counter.read_buffer
        while chunk := next_block(block):  # blocks end between a "\r" and its "\n" too
            read.append(bytes(chunk))
    assert b"".join(read) == data
    assert counter.lines == len(data.splitlines())
    assert counter.returns == data.count(b"\r") and counter.pairs == data.count(b"\r\n")


def _one_width_column(width: int, alphabet: str):
    """Columns whose values are all of one width or empty: what the array rules read in place."""
    value = st.text(alphabet=alphabet, min_size=width, max_size=width)
    return st.lists(st.just("") | value, min_size=1, max_size=30)


def _one_width_times(time_format: str):
    """Columns of times written in one format (of one width), some with bytes changed."""
    written = st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2030, 1, 1)).map(
        lambda moment: moment.strftime(time_format)
    )
    width = len(dt.datetime(2000, 1, 1).strftime(time_format))
    damaged = st.text(alphabet="0123456789/: APMT-", min_size=width, max_size=width)
    return st.lists(written | damaged | st.just(""), min_size=1, max_size=30)


@settings(deadline=None, max_examples=80)
@given(
    st.integers(1, 10).flatmap(lambda width: _one_width_column(width, "0123456789.-")),
    st.sampled_from(["%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M"]).flatmap(_one_width_times),
)
def test_a_column_of_one_width_reads_as_each_of_its_values_does_alone(numbers, times):
    # each rule of the usual column (values of one width, read in place) against the same
    # values among others of another width (read row by row): each value reads the same
    odd = "1234567890123"  # a width of its own
    for values in (numbers, times):
        alone = columnar.hash_text(pa.array(values))
        among = columnar.hash_text(pa.array([*values, odd]))[:-1]
        np.testing.assert_array_equal(alone, among)
    alone = columnar.read_plain_numbers(pa.array(numbers))
    among = columnar.read_plain_numbers(pa.array([*numbers, odd]))
    for one, other in zip(alone, among, strict=True):
        np.testing.assert_array_equal(one, other[:-1])
    layouts = columnar.layouts_for(("%m/%d/%Y %I:%M:%S %p", "ISO8601"))
    window = (np.datetime64("1900-01-01", "us"), np.datetime64("2100-01-01", "us"))
    alone = columnar.read_times(pa.array(times), layouts, window)
    among = columnar.read_times(pa.array([*times, odd]), layouts, window)
    for name in ("wall", "utc", "naive", "aware", "missing"):
        np.testing.assert_array_equal(getattr(alone, name), getattr(among, name)[:-1])


@given(st.binary(max_size=40), st.integers(0, 12), st.integers(0, 12))
def test_ascii_check_of_bytes_equals_pythons(data, cut_front, cut_back):
    values = np.frombuffer(data, dtype=np.uint8)[cut_front : max(cut_front, len(data) - cut_back)]
    assert columnar.is_ascii(values) == values.tobytes().isascii()


@given(st.lists(st.text(max_size=6) | st.binary(max_size=6), max_size=12), st.integers(0, 4))
def test_bytes_read_as_text_are_what_arrow_makes_of_them(values, offset):
    encoded = [value.encode() if isinstance(value, str) else value for value in values]
    array = pa.array(encoded, type=pa.binary()).slice(min(offset, len(encoded)))
    text, rows = columnar.text_of_bytes(array)
    text.validate(full=True)
    as_read = array.to_pylist()
    # UTF-8 as Python decodes it; other bytes escaped (backslashreplace), their rows given
    assert text.to_pylist() == [value.decode("utf-8", "backslashreplace") for value in as_read]
    assert rows.tolist() == [row for row, value in enumerate(as_read) if not _is_utf8(value)]
    if not len(rows):
        assert text.equals(array.cast(pa.string()))


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize("engine", ["memory", "stream"])
def test_bytes_that_are_not_utf8_are_read_escaped_and_said(tmp_path, engine):
    rows = [b'1,2024-01-03 10:00,-87.6298,41.8781,"a\nb",HOMICIDE']  # a record over two lines
    rows += [b"2,2024-01-03 10:00,-87.6298,41.8781,\xe9t\xe9,BATTERY"]  # Latin-1, but not read
    rows += [b"3\xc9,2024-01-03 10:00,-87.6298,41.8781,x,HOMICIDE"]  # Latin-1 in a read column
    rows += [b"4,2024-01-03 10:00,-87.6298,41.8781,x,caf\xc3\xa9"]  # UTF-8
    rows += [b"5,2024-01-03 10:00\xe9,-87.6298,41.8781,x,BATTERY"]  # in a time: unparseable
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"id,when,lon,lat,note,kind\n" + b"\n".join(rows) + b"\n")
    arguments = ["counts", str(path), "--engine", engine, "--units", "community_areas"]
    arguments += ["--time-col", "when", "--x-col", "lon", "--y-col", "lat", "--id-col", "id"]
    arguments += ["--category-col", "kind", "--start", "2024-01-01", "--end", "2024-01-07"]
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [*arguments, "--out", str(out)])
    # the file is read, not refused: the time written with such a byte is the one reject
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out / "counts.parquet")["count"].sum() == 4
    rejects = pd.read_csv(out / "rejects.csv", dtype=str)
    assert rejects[["line", "reason", "value"]].values.tolist() == [
        ["7", "unparseable time", "2024-01-03 10:00\\xe9"]
    ]
    said = json.loads((out / "manifest.json").read_text())["notes"]
    assert any("1 'id' value was not UTF-8 text (the first on line 5)" in note for note in said)
    read = read_incidents(path, **OPTIONS, category_col="kind")
    assert read.incidents["incident_id"].tolist() == ["1", "2", "3\\xc9", "4"]
    assert read.incidents["category"].tolist() == ["HOMICIDE", "BATTERY", "HOMICIDE", "café"]
    assert sum("not UTF-8 text" in note for note in read.notes) == 2  # the id and the time


@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=60),
    st.lists(st.integers(0, 2**64 - 1), max_size=20),
)
def test_hashes_that_rows_share_and_membership_equal_numpys(values, others):
    low = (1 << 26) - 1  # others with the low bits of a value: past the table, told apart exactly
    alike = [(o & ~low) | (values[k % len(values)] & low) for k, o in enumerate(others) if values]
    hashes = np.array(values + (alike or others) + values[: len(values) // 2], dtype=np.uint64)
    shared = reading.shared_values(hashes)
    distinct, counts = np.unique(hashes, return_counts=True)
    np.testing.assert_array_equal(shared, distinct[counts > 1])
    members = np.array(sorted(set(alike or others) | set(values[::3])), dtype=np.uint64)
    np.testing.assert_array_equal(reading.members(hashes, members), np.isin(hashes, members))
