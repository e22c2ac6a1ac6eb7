"""Reading incident files: formats, the portal export, every kind of bad row, DST."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import write_csv

from geo_violence import MissingColumnError, OptionError, read_incidents
from geo_violence.errors import InputFileError

PORTAL_HEADER = "ID,Date,Primary Type,Beat,Community Area,X Coordinate,Y Coordinate"


def test_portal_export_is_recognised_with_no_options(tmp_path):
    path = write_csv(
        tmp_path / "crimes.csv",
        PORTAL_HEADER,
        ["26262,09/08/2021 04:45:00 PM,HOMICIDE,0111,25,1144907,1896933"],
    )
    read = read_incidents(path)
    incidents = read.incidents
    assert len(incidents) == 1 and read.rows_rejected == 0
    assert incidents.crs.to_epsg() == 3435
    assert incidents["incident_id"].iloc[0] == "26262"
    assert incidents["Beat"].iloc[0] == "0111"  # leading zero kept
    assert incidents["category"].iloc[0] == "HOMICIDE"
    assert str(incidents["occurred_at"].dt.tz) == "America/Chicago"
    assert incidents["occurred_at"].iloc[0] == pd.Timestamp(
        "2021-09-08 16:45", tz="America/Chicago"
    )
    assert (incidents.geometry.x.iloc[0], incidents.geometry.y.iloc[0]) == (1144907, 1896933)
    assert any("portal" in note for note in read.notes)


def test_each_kind_of_bad_row_is_rejected_with_line_column_value_and_reason(tmp_path):
    rows = [
        "1,2024-01-02 10:00,-87.63,41.88",  # line 2: good
        "2,,-87.63,41.88",  # 3: missing time
        "3,yesterday,-87.63,41.88",  # 4: unparseable time
        "4,2024-01-02 10:00,,41.88",  # 5: missing x
        "5,2024-01-02 10:00,west,41.88",  # 6: non-numeric x
        "6,2024-01-02 10:00,-87.63,inf",  # 7: non-finite y
        "7,2024-01-02 10:00,0,0",  # 8: placeholder
        "8,2024-01-02 10:00,-87.63,141.88",  # 9: impossible latitude
        "9,2024-13-45 10:00,-87.63,41.88",  # 10: impossible date
    ]
    path = write_csv(tmp_path / "x.csv", "id,when,lon,lat", rows)
    read = read_incidents(path, time_col="when", x_col="lon", y_col="lat", id_col="id")
    assert read.rows_read == 9
    assert read.incidents["incident_id"].tolist() == ["1"]
    assert read.rows_rejected == 8
    by_line = read.rejects.set_index("line")
    assert by_line.loc[3, "reason"] == "missing time"
    assert by_line.loc[4, ["column", "value", "reason"]].tolist() == [
        "when",
        "yesterday",
        "unparseable time",
    ]
    assert by_line.loc[5, "reason"] == "missing coordinate"
    assert by_line.loc[6, ["column", "value", "reason"]].tolist() == [
        "lon",
        "west",
        "non-numeric coordinate",
    ]
    assert by_line.loc[7, "reason"] == "non-finite coordinate"
    assert by_line.loc[8, "reason"] == "placeholder (0, 0) coordinates"
    assert by_line.loc[9, "reason"].startswith("outside the valid range of EPSG:4326")
    assert by_line.loc[10, "reason"] == "unparseable time"
    assert read.rejects["incident_id"].tolist() == [str(i) for i in range(2, 10)]


def test_projected_coordinates_outside_the_crs_area_of_use_are_rejected(tmp_path):
    path = write_csv(
        tmp_path / "crimes.csv",
        PORTAL_HEADER,
        [
            "1,09/08/2021 04:45:00 PM,HOMICIDE,0111,25,1144907,1896933",
            "2,09/08/2021 04:45:00 PM,HOMICIDE,0111,25,-9000000,1896933",
        ],
    )
    read = read_incidents(path)
    assert len(read.incidents) == 1
    (reason,) = read.rejects["reason"].tolist()
    assert reason.startswith("outside the area of use of EPSG:3435")
    assert read.rejects["column"].iloc[0] == "X Coordinate/Y Coordinate"


def test_a_row_with_two_problems_is_listed_twice_and_counted_once(tmp_path):
    path = write_csv(tmp_path / "x.csv", "when,lon,lat", ["nope,,41.9"])
    read = read_incidents(path, time_col="when", x_col="lon", y_col="lat")
    assert len(read.rejects) == 2 and read.rows_rejected == 1


def test_missing_column_names_it_and_lists_the_columns_present(tmp_path):
    path = write_csv(tmp_path / "x.csv", "when,lon,lat", ["2024-01-01,-87.6,41.9"])
    with pytest.raises(MissingColumnError) as caught:
        read_incidents(path, time_col="time", x_col="lon", y_col="lat")
    message = str(caught.value)
    assert "'time'" in message and "'when', 'lon', 'lat'" in message
    assert "\n" not in message


def test_a_file_that_is_not_the_portal_export_asks_for_its_columns(tmp_path):
    path = write_csv(tmp_path / "x.csv", "when,lon,lat", ["2024-01-01,-87.6,41.9"])
    with pytest.raises(OptionError, match="--time-col"):
        read_incidents(path)


def test_unknown_crs_and_missing_crs_are_clear_errors(tmp_path):
    path = write_csv(tmp_path / "x.csv", "when,a,b", ["2024-01-01,1,2"])
    with pytest.raises(OptionError, match="--crs"):
        read_incidents(path, time_col="when", x_col="a", y_col="b")
    with pytest.raises(OptionError, match="not a known CRS"):
        read_incidents(path, time_col="when", x_col="a", y_col="b", crs="EPSG:99999999")


def test_missing_file_and_unsupported_kind(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_incidents(tmp_path / "nope.csv")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(InputFileError, match="not a CSV"):
        read_incidents(tmp_path / "x.xlsx")


def test_longitude_latitude_columns_imply_wgs84(tmp_path):
    path = write_csv(tmp_path / "x.csv", "when,longitude,latitude", ["2024-01-01,-87.6298,41.8781"])
    read = read_incidents(path, time_col="when", x_col="longitude", y_col="latitude")
    assert read.columns.crs == "EPSG:4326"
    point = read.incidents.geometry.iloc[0]
    assert point.x == pytest.approx(1_176_000, abs=2_000)
    assert point.y == pytest.approx(1_900_000, abs=2_000)


def test_dst_gap_moves_forward_and_overlap_takes_daylight_time(tmp_path):
    rows = [
        "2024-03-10 02:30:00,-87.6,41.9",  # no such clock time in Chicago
        "2024-11-03 01:30:00,-87.6,41.9",  # happened twice
        "2024-11-03 03:30:00,-87.6,41.9",
    ]
    path = write_csv(tmp_path / "x.csv", "when,lon,lat", rows)
    read = read_incidents(path, time_col="when", x_col="lon", y_col="lat")
    times = read.incidents["occurred_at"]
    assert times.iloc[0] == pd.Timestamp("2024-03-10 03:00", tz="America/Chicago")
    assert times.iloc[0].utcoffset() == pd.Timedelta(hours=-5)
    assert times.iloc[1].utcoffset() == pd.Timedelta(hours=-5)  # CDT, the first occurrence
    assert times.iloc[1].tz_convert("UTC") == pd.Timestamp("2024-11-03 06:30", tz="UTC")
    assert times.iloc[2].utcoffset() == pd.Timedelta(hours=-6)
    assert read.rows_rejected == 0
    assert any("spring-forward" in note for note in read.notes)
    assert any("fall-back" in note for note in read.notes)


def test_times_with_offsets_are_converted_not_relabelled(tmp_path):
    rows = [
        "2024-07-01T05:00:00Z,-87.6,41.9",
        "2024-07-01T00:00:00-05:00,-87.6,41.9",
        "2024-07-01 00:00:00,-87.6,41.9",
    ]
    path = write_csv(tmp_path / "x.csv", "when,lon,lat", rows)
    times = read_incidents(path, time_col="when", x_col="lon", y_col="lat").incidents["occurred_at"]
    assert (times == pd.Timestamp("2024-07-01 00:00", tz="America/Chicago")).all()


def test_portal_time_format_is_a_fallback_for_other_files(tmp_path):
    path = write_csv(tmp_path / "x.csv", "when,lon,lat", ["01/02/2024 01:05:00 PM,-87.6,41.9"])
    read = read_incidents(path, time_col="when", x_col="lon", y_col="lat")
    assert read.incidents["occurred_at"].iloc[0] == pd.Timestamp(
        "2024-01-02 13:05", tz="America/Chicago"
    )


def test_filter_category_counts_what_it_leaves_out(tmp_path):
    rows = [
        "2024-01-01,HOMICIDE,-87.6,41.9",
        "2024-01-01,battery,-87.6,41.9",
        "2024-01-01,Robbery,-87.6,41.9",
    ]
    path = write_csv(tmp_path / "x.csv", "when,type,lon,lat", rows)
    read = read_incidents(
        path,
        time_col="when",
        x_col="lon",
        y_col="lat",
        category_col="type",
        filter_category=["homicide", "BATTERY"],
    )
    assert read.incidents["category"].tolist() == ["HOMICIDE", "battery"]
    assert read.rows_filtered_out == 1 and read.rows_read == 3


def test_gzip_parquet_and_geoparquet_read_the_same(tmp_path):
    frame = pd.DataFrame(
        {
            "id": ["007", "008"],
            "when": ["2024-01-01 10:00", "bad"],
            "lon": [-87.6, -87.7],
            "lat": [41.9, 41.8],
        }
    )
    frame.to_csv(tmp_path / "x.csv.gz", index=False)
    frame.to_parquet(tmp_path / "x.parquet")
    geo = gpd.GeoDataFrame(
        frame[["id", "when"]], geometry=shapely.points(frame["lon"], frame["lat"]), crs=4326
    )
    geo.to_parquet(tmp_path / "g.parquet")
    options = {"time_col": "when", "id_col": "id"}
    from_gzip = read_incidents(tmp_path / "x.csv.gz", x_col="lon", y_col="lat", **options)
    from_parquet = read_incidents(tmp_path / "x.parquet", x_col="lon", y_col="lat", **options)
    from_geoparquet = read_incidents(tmp_path / "g.parquet", **options)
    for read in (from_gzip, from_parquet, from_geoparquet):
        assert read.incidents["incident_id"].tolist() == ["007"]
        assert read.rejects["reason"].tolist() == ["unparseable time"]
        np.testing.assert_allclose(
            read.incidents.geometry.x, from_gzip.incidents.geometry.x, atol=1e-6
        )
    assert from_gzip.rejects["line"].tolist() == [3]  # CSV line (header is line 1)
    assert from_parquet.rejects["line"].tolist() == [2]  # Parquet row, from 1


def test_parquet_datetime_columns_are_used_as_they_are(tmp_path):
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-01-01 10:00", None]),
            "x": [1_170_000.0, 1_170_000.0],
            "y": [1_900_000.0, 1_900_000.0],
        }
    )
    frame.to_parquet(tmp_path / "x.parquet")
    read = read_incidents(
        tmp_path / "x.parquet", time_col="when", x_col="x", y_col="y", crs="EPSG:3435"
    )
    assert read.incidents["occurred_at"].iloc[0] == pd.Timestamp(
        "2024-01-01 10:00", tz="America/Chicago"
    )
    assert read.rejects["reason"].tolist() == ["missing time"]


def test_empty_ids_fall_back_to_the_line(tmp_path):
    path = write_csv(tmp_path / "x.csv", "id,when,lon,lat", [",2024-01-01,-87.6,41.9"])
    read = read_incidents(path, time_col="when", x_col="lon", y_col="lat", id_col="id")
    assert read.incidents["incident_id"].tolist() == ["line-2"]
