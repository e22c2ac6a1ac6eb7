"""Inputs a user can get wrong: each gives a clear one-line error or a correct result, never a
traceback (cases found in review)."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import write_csv

from geo_violence import read_incidents
from geo_violence.cli import main
from geo_violence.errors import DataError
from geo_violence.sources.population import align_population

OPTIONS = ["--time-col", "when", "--x-col", "lon", "--y-col", "lat"]


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _last_line_error(result) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert [line for line in lines if line.startswith("error: ")] == [lines[-1]]
    return lines[-1]


def test_a_header_only_file_with_a_period_gives_a_cube_of_zeros(tmp_path):
    source = write_csv(tmp_path / "x.csv", "when,lon,lat", [])
    out = tmp_path / "out"
    result = _run(
        "counts",
        str(source),
        *OPTIONS,
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-14",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    counts = pd.read_parquet(out / "counts.parquet")
    assert len(counts) == 77 * 2 and counts["count"].sum() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", ""], "not a date"),
        (["--time-format", "%Q %Q"], "not a format"),
        (["--alpha", "0"], "--alpha"),
        (["--permutations", "-5"], "--permutations"),
        (["--seed", "-1"], "--seed"),
        (["--k", "0"], "--k"),
    ],
)
def test_bad_option_values_are_one_line(tmp_path, args, message):
    source = write_csv(tmp_path / "x.csv", "when,lon,lat", ["2024-01-03 10:00,-87.63,41.88"])
    result = _run("hotspots", str(source), *OPTIONS, *args, "--out", str(tmp_path / "o"))
    assert message in _last_line_error(result)
    assert not (tmp_path / "o").exists()  # a failed run leaves no empty folder


def test_out_pointing_to_a_file_is_one_line(tmp_path):
    source = write_csv(tmp_path / "x.csv", "when,lon,lat", ["2024-01-03 10:00,-87.63,41.88"])
    (tmp_path / "taken").write_text("x")
    result = _run("counts", str(source), *OPTIONS, "--out", str(tmp_path / "taken"))
    assert "is a file" in _last_line_error(result)


@pytest.mark.parametrize(
    ("text", "utc_hour"),
    [
        ("2024-03-01T12:00:00-05", 17),
        ("2024-03-01T12:00:00+00", 12),
        ("2024-03-01 12:00-0500", 17),
        ("2024-03-01T12:00:00.5Z", 12),
    ],
)
def test_every_spelling_of_an_offset_is_converted(tmp_path, text, utc_hour):
    path = write_csv(
        tmp_path / "x.csv", "when,lon,lat", [f"{text},-87.6,41.9", "2024-03-01 12:00,-87.6,41.9"]
    )
    times = read_incidents(path, time_col="when", x_col="lon", y_col="lat").incidents["occurred_at"]
    assert times.iloc[0].tz_convert("UTC").hour == utc_hour
    assert times.iloc[1] == pd.Timestamp("2024-03-01 12:00", tz="America/Chicago")


def test_a_portal_shaped_file_with_iso_dates_is_read(tmp_path):
    path = write_csv(
        tmp_path / "crimes.csv",
        "ID,Date,X Coordinate,Y Coordinate",
        ["1,2024-03-01 12:00:00,1176000,1900000"],
    )
    read = read_incidents(path)
    assert read.rows_rejected == 0
    assert read.incidents["occurred_at"].iloc[0].hour == 12


def test_filter_category_on_a_numeric_parquet_column(tmp_path):
    frame = pd.DataFrame(
        {
            "when": ["2024-01-01", "2024-01-02"],
            "x": [-87.6, -87.6],
            "y": [41.9, 41.9],
            "code": [110, 460],
        }
    )
    frame.to_parquet(tmp_path / "x.parquet")
    read = read_incidents(
        tmp_path / "x.parquet",
        time_col="when",
        x_col="x",
        y_col="y",
        crs="EPSG:4326",
        category_col="code",
        filter_category=["110"],
    )
    assert len(read.incidents) == 1 and read.rows_filtered_out == 1


def test_a_population_file_naming_a_unit_twice_is_refused():
    with pytest.raises(DataError, match="more than once: 02, 2"):
        align_population(
            pd.Series([200.0, 300.0, 5.0], index=["2", "02", "3"]), pd.Index(["2", "3"])
        )


def test_geoparquet_incidents_with_another_geometry_column_name(tmp_path):
    import geopandas as gpd
    import shapely

    frame = gpd.GeoDataFrame(
        {"when": ["2024-01-01 10:00"]},
        geometry=gpd.GeoSeries([shapely.Point(-87.63, 41.88)], crs=4326),
    )
    frame = frame.rename_geometry("location")
    frame.to_parquet(tmp_path / "g.parquet")
    read = read_incidents(tmp_path / "g.parquet", time_col="when")
    assert len(read.incidents) == 1 and read.rows_rejected == 0
