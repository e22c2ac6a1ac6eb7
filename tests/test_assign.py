"""Assigning points to units: the exact rule, edges, holes, recorded codes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_violence import OptionError, assign_units, locate_points

X0, Y0 = 1_170_000.0, 1_900_000.0


def _points(xy: list[tuple[float, float]], **columns) -> gpd.GeoDataFrame:
    n = len(xy)
    return gpd.GeoDataFrame(
        {
            "incident_id": [f"i{k}" for k in range(n)],
            "line": np.arange(2, n + 2),
            "occurred_at": pd.DatetimeIndex(["2024-01-01 12:00"] * n).tz_localize(
                "America/Chicago"
            ),
            **columns,
        },
        geometry=shapely.points(np.array(xy)),
        crs="EPSG:3435",
    )


def test_interior_edge_vertex_hole_and_outside(grid_units):
    xy = [
        (X0 + 500, Y0 + 500),  # inside 1
        (X0 + 1000, Y0 + 500),  # on the edge of 1 and 2: first in id order, 1
        (X0 + 1500, Y0 + 1000),  # on the edge of 2 and 4: 2
        (X0 + 1000, Y0 + 1000),  # vertex of 1, 2, 3, 4: 1
        (X0 + 3500, Y0 + 500),  # in the hole of 5: none
        (X0 + 3400, Y0 + 500),  # on the hole's edge: 5
        (X0 + 9000, Y0 + 9000),  # outside everything
        (X0 + 2000, Y0 + 1500),  # on the outer edge of 4 only: 4
    ]
    result = assign_units(_points(xy), grid_units)
    assert result.incidents["unit_id"].tolist() == ["1", "1", "2", "1", "5", "4"]
    assert result.incidents["incident_id"].tolist() == ["i0", "i1", "i2", "i3", "i5", "i7"]
    assert result.unassigned["incident_id"].tolist() == ["i4", "i6"]
    assert set(result.unassigned["reason"]) == {"outside every unit"}
    assert result.unassigned[["x", "y"]].iloc[0].tolist() == [X0 + 3500, Y0 + 500]
    assert result.unassigned["longitude"].between(-88, -87).all()


def test_the_edge_rule_follows_the_layer_order_not_the_file_order(grid_units):
    reordered = grid_units.iloc[::-1]
    edge = [(X0 + 1000, Y0 + 500)]
    assert locate_points(
        np.array([X0 + 1000]), np.array([Y0 + 500]), reordered.geometry.to_numpy()
    ).tolist() == [3]  # unit "2" first there
    assert assign_units(_points(edge), grid_units).incidents["unit_id"].tolist() == ["1"]


def test_overlapping_units_give_each_point_once():
    units = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(5, 0, 15, 10)],
        index=pd.Index(["a", "b"], name="unit_id"),
        crs="EPSG:3435",
    )
    result = assign_units(_points([(7, 5), (12, 5), (2, 5)]), units)
    assert result.incidents["unit_id"].tolist() == ["a", "b", "a"]


def test_matches_geopandas_sjoin_on_random_points(grid_units):
    rng = np.random.default_rng(7)
    xy = np.column_stack(
        [rng.uniform(X0 - 500, X0 + 4500, 5000), rng.uniform(Y0 - 500, Y0 + 2500, 5000)]
    )
    points = _points([tuple(p) for p in xy])
    ours = assign_units(points, grid_units).incidents["unit_id"]
    joined = gpd.sjoin(
        points, grid_units.reset_index()[["unit_id", "geometry"]], predicate="within", how="inner"
    )
    pd.testing.assert_series_equal(
        ours.sort_index(), joined["unit_id"].sort_index(), check_names=False
    )


def test_recorded_codes_match_by_canonical_spelling(grid_units):
    points = _points(
        [(X0 + 500, Y0 + 500)] * 4,
        Beat=["01", "2", "", "99"],
    )
    result = assign_units(points, grid_units, how="recorded", code_column="Beat")
    assert result.incidents["unit_id"].tolist() == ["1", "2"]
    assert result.unassigned["reason"].tolist() == [
        "no recorded Beat",
        "recorded Beat is not a unit of the layer",
    ]
    assert result.agreement.compared == 3
    assert result.agreement.disagree == 2  # "2" and "99" are not the containing unit "1"
    assert result.agreement.missing_code == 1


def test_polygon_mode_reports_disagreement_too(grid_units):
    points = _points([(X0 + 500, Y0 + 500), (X0 + 1500, Y0 + 500)], Beat=["1", "1"])
    result = assign_units(points, grid_units, code_column="Beat")
    assert result.incidents["unit_id"].tolist() == ["1", "2"]
    assert result.agreement.disagreement_rate == pytest.approx(0.5)


def test_recorded_mode_without_a_code_column_is_a_clear_error(grid_units):
    with pytest.raises(OptionError, match="--code-col"):
        assign_units(_points([(X0, Y0)]), grid_units, how="recorded")
    with pytest.raises(OptionError, match="'assign' was 'nearest'"):
        assign_units(_points([(X0, Y0)]), grid_units, how="nearest")


def test_inputs_are_not_modified(grid_units):
    points = _points([(X0 + 500, Y0 + 500)])
    before = points.copy()
    assign_units(points, grid_units)
    pd.testing.assert_frame_equal(points, before)


@pytest.mark.parametrize("outside", [0, 3])
def test_what_the_cube_reads_equals_the_assigned_incidents(grid_units, outside):
    from geo_violence import build_cube

    rng = np.random.default_rng(4)
    xy = [(X0 + rng.uniform(1, 1999), Y0 + rng.uniform(1, 1999)) for _ in range(200)]
    xy += [(X0 - 5_000.0, Y0)] * outside
    days = rng.integers(0, 28, len(xy))
    points = _points(xy)
    points["occurred_at"] = (
        pd.DatetimeIndex(pd.Timestamp("2024-01-01 12:00") + pd.to_timedelta(days, "D"))
    ).tz_localize("America/Chicago")
    assignment = assign_units(points, grid_units)
    counted = assignment.counted()
    assert assignment.n_assigned == len(counted) == 200
    whole = assignment.incidents  # made now, from the same rows
    assert counted["unit_id"].astype(str).tolist() == whole["unit_id"].tolist()
    assert counted["line"].tolist() == whole["line"].tolist()
    pd.testing.assert_series_equal(
        counted["occurred_at"], whole["occurred_at"].reset_index(drop=True)
    )
    period = {"start": "2024-01-01", "end": "2024-01-28"}
    fast, reference = (
        build_cube(counted, grid_units, **period),
        build_cube(whole, grid_units, **period),
    )
    np.testing.assert_array_equal(fast.counts, reference.counts)
    assert fast.counts.sum() == 200
    assert assignment.counted() is whole  # once made, the table is what the cube reads
