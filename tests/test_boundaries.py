"""Loading units: the catalogue, the embedded community areas, any polygon file, repairs."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo_violence import MissingColumnError, OptionError, load_units
from geo_violence.errors import InputFileError, UnitsError
from geo_violence.units.layers import catalogue


def test_community_areas_are_embedded_and_work_offline():
    layer = load_units("community_areas")
    units = layer.units
    assert len(units) == 77
    assert units.crs.to_epsg() == 3435
    assert units.index.name == "unit_id"
    assert units.index[:3].tolist() == ["1", "2", "3"]  # natural order
    assert units.loc["32", "name"] == "Loop"
    assert units.loc["8", "name"] == "Near North Side"
    assert layer.recorded_column == "Community Area"
    assert units.geometry.is_valid.all()


def test_catalogue_has_one_entry_per_chicago_layer():
    layers = catalogue()
    assert set(layers) == {"community_areas", "beats", "districts", "wards"}
    assert layers["beats"].recorded_column == "Beat"
    assert all(spec.portal_dataset for spec in layers.values())


def test_layer_without_file_asks_for_one():
    with pytest.raises(OptionError, match="--units-file"):
        load_units("beats")


def test_unknown_layer_name_lists_the_known_ones():
    with pytest.raises(OptionError, match="community_areas"):
        load_units("precincts")


@pytest.mark.parametrize(
    ("layer", "file", "n_units", "multipart"),
    [
        ("beats", "police_beats.geojson", 275, "3100 (3 polygons)"),
        ("districts", "police_districts.geojson", 23, "31 (3 polygons)"),
        ("wards", "wards_2023.geojson", 50, None),
    ],
)
def test_shared_layers_need_no_field_options(shared_data, layer, file, n_units, multipart):
    loaded = load_units(layer, units_file=shared_data / file)
    assert len(loaded.units) == n_units
    assert loaded.units.index.is_unique
    assert loaded.units.crs.to_epsg() == 3435
    if multipart:
        assert any(multipart in note for note in loaded.notes)
        unit = multipart.split()[0]
        assert loaded.units.loc[unit].geometry.geom_type == "MultiPolygon"


def test_beat_ids_keep_their_leading_zero(shared_data):
    units = load_units("beats", units_file=shared_data / "police_beats.geojson").units
    assert "0111" in units.index and "111" not in units.index
    assert units.loc["0111", "name"] == "Beat 0111"


def _write(frame: gpd.GeoDataFrame, path):
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    return path


@pytest.mark.parametrize("suffix", [".geojson", ".shp", ".gpkg", ".parquet"])
def test_any_polygon_file_with_id_field(tmp_path, grid_units, suffix):
    frame = grid_units.reset_index().rename(columns={"unit_id": "code", "name": "label"})
    frame["code"] = ["007", "010", "008", "009", "011"]
    path = _write(frame, tmp_path / f"units{suffix}")
    layer = load_units(path, id_field="code", name_field="label")
    assert layer.units.index.tolist() == ["007", "008", "009", "010", "011"]
    assert layer.units.loc["008", "name"] == "Square 3"


def test_a_file_outside_the_catalogue_needs_its_id_field(tmp_path, grid_units):
    path = _write(grid_units.reset_index(), tmp_path / "units.geojson")
    with pytest.raises(OptionError, match=r"--id-field.*'unit_id'"):
        load_units(path)
    with pytest.raises(MissingColumnError, match=r"'code'.*'unit_id', 'name'"):
        load_units(path, id_field="code")


def test_invalid_geometry_is_repaired_and_reported(tmp_path, grid_units):
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    frame = gpd.GeoDataFrame(
        {"code": ["A", "B"]},
        geometry=[bowtie, shapely.box(20, 0, 30, 10)],
        crs="EPSG:3435",
    )
    path = _write(frame, tmp_path / "bad.gpkg")
    layer = load_units(path, id_field="code")
    assert layer.units.geometry.is_valid.all()
    assert layer.units.loc["A"].geometry.area == pytest.approx(50)
    assert any("make_valid" in note and "A" in note for note in layer.notes)


def test_units_without_geometry_are_left_out_and_named(tmp_path):
    frame = gpd.GeoDataFrame(
        {"code": ["A", "B"]}, geometry=[shapely.box(0, 0, 1, 1), None], crs="EPSG:3435"
    )
    path = _write(frame, tmp_path / "units.geojson")
    layer = load_units(path, id_field="code")
    assert layer.units.index.tolist() == ["A"]
    assert any("no geometry" in note and "B" in note for note in layer.notes)


def test_points_are_not_units(tmp_path):
    frame = gpd.GeoDataFrame({"code": ["A"]}, geometry=[shapely.Point(0, 0)], crs="EPSG:3435")
    path = _write(frame, tmp_path / "points.geojson")
    with pytest.raises(UnitsError, match="must hold polygons"):
        load_units(path, id_field="code")


def test_a_file_with_no_crs_needs_one(tmp_path):
    frame = gpd.GeoDataFrame({"code": ["A"]}, geometry=[shapely.box(0, 0, 1, 1)])
    path = _write(frame, tmp_path / "units.shp")
    with pytest.raises(OptionError, match="--crs"):
        load_units(path, id_field="code")
    assert load_units(path, id_field="code", crs="EPSG:3435").units.crs.to_epsg() == 3435


def test_missing_units_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        load_units("beats", units_file=tmp_path / "nope.geojson")


def test_numeric_ids_become_text_without_decimals(tmp_path):
    frame = gpd.GeoDataFrame(
        {"ward": pd.array([1, 2], dtype="int64")},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        crs="EPSG:3435",
    )
    path = _write(frame, tmp_path / "wards.gpkg")
    assert load_units(path, id_field="ward").units.index.tolist() == ["1", "2"]
