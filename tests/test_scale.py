"""Counting beyond memory: one Parquet file in batches, and a dataset of many files on a
LocalCluster of two workers over loopback; both give the in-memory cube, rows accounted for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from geo_violence import assign_units, build_cube, load_units, read_incidents
from geo_violence.cli import main
from geo_violence.cube.scale import dask_parquet_cube, stream_parquet_cube
from geo_violence.errors import OptionError

READ = {"time_col": "date", "x_col": "longitude", "y_col": "latitude", "crs": "EPSG:4326"}
PERIOD = {"step": "week", "start": "2010-01-04", "end": "2019-12-29"}


@pytest.fixture(scope="module")
def dataset(shared_data, tmp_path_factory):
    """The 2010-2019 assaults as one Parquet file and as 9 files, with a few bad rows added."""
    folder = tmp_path_factory.mktemp("dataset")
    raw = pd.read_csv(shared_data / "aggravated_assaults_2010_2019.csv.gz", dtype=str)
    bad = raw.head(4).copy()
    bad.loc[bad.index[0], "date"] = "not a date"
    bad.loc[bad.index[1], "longitude"] = ""
    bad.loc[bad.index[2], ["longitude", "latitude"]] = ["-80.0", "30.0"]  # far outside the city
    raw = pd.concat([raw, bad], ignore_index=True)
    raw.to_parquet(folder / "all.parquet", row_group_size=20_000)
    (folder / "parts").mkdir()
    cuts = np.linspace(0, len(raw), 10).astype(int)
    for part in range(9):
        raw.iloc[cuts[part] : cuts[part + 1]].to_parquet(folder / "parts" / f"{part:02d}.parquet")
    units = load_units("beats", units_file=shared_data / "police_beats.geojson").units
    read = read_incidents(folder / "all.parquet", **READ)
    assigned = assign_units(read.incidents, units)
    cube = build_cube(assigned.incidents, units, keep_partial=True, **PERIOD)
    return folder, units, read, assigned, cube


def test_streaming_one_file_in_batches_gives_the_in_memory_cube(dataset):
    folder, units, read, assigned, cube = dataset
    result = stream_parquet_cube(
        folder / "all.parquet", units, read_options=READ, batch_rows=25_000, **PERIOD
    )
    assert result.parts == 4  # 8 row groups of 20,000 rows, two per batch
    np.testing.assert_array_equal(result.cube.counts, cube.counts)
    assert result.cube.unit_ids.equals(cube.unit_ids)
    assert (result.rows_read, result.rejected, result.unassigned) == (
        read.rows_read,
        read.rows_rejected,
        len(assigned.unassigned),
    )
    assert result.cube.outside_period == cube.outside_period
    assert sorted(result.rejects["line"]) == sorted(read.rejects["line"])
    assert [note for note in result.notes if "rejected" in note] == [
        note for note in read.notes if "rejected" in note
    ]  # the rejects of every batch, in one note as one read says them


def test_the_dask_path_on_a_local_cluster_gives_the_in_memory_cube(dataset):
    folder, units, read, assigned, cube = dataset
    result = dask_parquet_cube(folder / "parts", units, read_options=READ, n_workers=2, **PERIOD)
    assert result.parts == 9
    np.testing.assert_array_equal(result.cube.counts, cube.counts)
    assert (result.rows_read, result.rejected, result.unassigned) == (
        read.rows_read,
        read.rows_rejected,
        len(assigned.unassigned),
    )
    assert set(result.rejects["reason"]) == set(read.rejects["reason"])
    assert "file" in result.rejects.columns
    # lines count per file: a file's row is told apart from another file's of the same line
    assert [note for note in result.notes if "rejected" in note] == [
        note for note in read.notes if "rejected" in note
    ]

    # ids come from line numbers, which count per file in a dataset: compare where they lie
    def places(table):
        return sorted(zip(table["x"].round(3), table["y"].round(3), strict=True))

    assert places(result.unassigned_rows) == places(assigned.unassigned)
    assert result.unassigned_rows["file"].str.endswith(".parquet").all()


def test_the_counts_command_with_each_engine_writes_the_same_counts(dataset, tmp_path):
    folder, *_ = dataset
    tables = {}
    for engine, source in (("memory", "all.parquet"), ("stream", "all.parquet"), ("dask", "parts")):
        out = tmp_path / engine
        result = CliRunner().invoke(
            main,
            [
                "counts",
                str(folder / source),
                "--engine",
                engine,
                "--time-col",
                "date",
                "--x-col",
                "longitude",
                "--y-col",
                "latitude",
                "--crs",
                "EPSG:4326",
                "--start",
                PERIOD["start"],
                "--end",
                PERIOD["end"],
                "--keep-partial",
                "--out",
                str(out),
            ],
        )
        assert result.exit_code == 0, result.output
        tables[engine] = pd.read_parquet(out / "counts.parquet")[["unit_id", "step_start", "count"]]
    pd.testing.assert_frame_equal(tables["memory"], tables["stream"])
    pd.testing.assert_frame_equal(tables["memory"], tables["dask"])


def test_parts_need_the_period(dataset):
    folder, units, *_ = dataset
    with pytest.raises(OptionError, match="--start and --end"):
        stream_parquet_cube(folder / "all.parquet", units, read_options=READ)
