"""Neighbours: contiguity, knn, distance bands, islands."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_violence import DataError, OptionError, load_units
from geo_violence.units.neighbours import build_weights


def _with_island(grid_units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The 2x2 block plus unit 5 standing apart (no shared vertex with the block)."""
    return grid_units


def test_queen_and_rook_on_a_2x2_block(grid_units):
    block = grid_units.loc[["1", "2", "3", "4"]]
    queen = build_weights(block).matrix.toarray()
    rook = build_weights(block, method="rook").matrix.toarray()
    assert queen.sum(axis=1).tolist() == [3, 3, 3, 3]
    assert rook.sum(axis=1).tolist() == [2, 2, 2, 2]
    assert rook[0, 3] == 0 and queen[0, 3] == 1  # diagonal squares share only a vertex
    assert (queen == queen.T).all()


def test_an_island_is_named_and_joined_to_its_nearest_unit(grid_units):
    neighbours = build_weights(grid_units)
    assert neighbours.islands == ["5"]
    assert any("5 (Square 5)" in note and "nearest" in note for note in neighbours.notes)
    dense = neighbours.matrix.toarray()
    assert dense[4].tolist() == [0, 1, 0, 0, 0]  # square 2 is the closest to square 5
    assert dense[1, 4] == 1  # both ways


def test_islands_can_be_refused_or_left_out(grid_units):
    with pytest.raises(DataError, match=r"5 \(Square 5\)"):
        build_weights(grid_units, islands="error")
    dropped = build_weights(grid_units, islands="drop")
    assert dropped.unit_ids.tolist() == ["1", "2", "3", "4"]
    assert dropped.matrix.shape == (4, 4)


def test_units_that_never_touch_are_a_clear_error():
    far_apart = gpd.GeoDataFrame(
        {"name": ["a", "b", "c"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(5, 0, 6, 1), shapely.box(10, 0, 11, 1)],
        index=pd.Index(["a", "b", "c"], name="unit_id"),
        crs="EPSG:3435",
    )
    with pytest.raises(DataError, match="knn"):
        build_weights(far_apart)
    knn = build_weights(far_apart, method="knn", k=1)
    assert knn.cardinalities.tolist() == [1, 1, 1]
    band = build_weights(far_apart, method="distance", distance=5.5)
    assert band.matrix.toarray().tolist() == [[0, 1, 0], [1, 0, 1], [0, 1, 0]]


def test_bad_options_name_what_they_accept(grid_units):
    with pytest.raises(OptionError, match="'neighbours' was 'hex'"):
        build_weights(grid_units, method="hex")
    with pytest.raises(OptionError, match="--distance"):
        build_weights(grid_units, method="distance")
    with pytest.raises(OptionError, match="'k' was 9"):
        build_weights(grid_units, method="knn", k=9)


def test_ids_match_the_units_and_the_libpysal_w(grid_units):
    units = load_units("community_areas").units
    neighbours = build_weights(units)
    assert neighbours.unit_ids.equals(units.index)
    w = neighbours.to_w()
    assert w.id_order == units.index.tolist()
    assert w.neighbors["32"] and set(w.neighbors["32"]) >= {"8", "28", "33"}  # the Loop
    assert np.array_equal(w.sparse.toarray(), neighbours.matrix.toarray())


@pytest.mark.parametrize(
    ("layer", "file"),
    [
        ("beats", "police_beats.geojson"),
        ("wards", "wards_2023.geojson"),
        ("districts", "police_districts.geojson"),
    ],
)
def test_chicago_layers_have_no_islands(shared_data, layer, file):
    units = load_units(layer, units_file=shared_data / file).units
    neighbours = build_weights(units, islands="error")
    assert neighbours.islands == []
    assert neighbours.cardinalities.min() >= 1
