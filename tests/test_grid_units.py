"""Grid and H3 units: cells over the city limit or the incidents' extent, and every analysis on
them unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from geo_violence import load_units
from geo_violence.cli import main
from geo_violence.errors import OptionError
from geo_violence.units.layers import city_limit


def test_square_cells_are_aligned_clipped_to_the_city_and_cover_it():
    layer = load_units("grid:3000")
    cells = layer.units
    limit = city_limit()
    assert layer.title == "Grid of 3,000-ft cells"
    assert cells.index.is_unique and cells.index.str.fullmatch(r"r\d{4}c\d{4}").all()
    assert (
        shapely.union_all(cells.geometry.to_numpy()).symmetric_difference(limit).area
        < 1e-3 * limit.area
    )
    whole = cells.geometry.area > 3000**2 - 1
    bounds = cells.geometry[whole].bounds
    assert np.allclose(bounds["minx"] % 3000, 0) and np.allclose(bounds["miny"] % 3000, 0)
    assert (cells.geometry.area <= 3000**2 + 1).all()


def test_h3_cells_cover_every_part_of_the_city():
    layer = load_units("h3:7")
    areas = load_units("community_areas").units
    inside = shapely.point_on_surface(areas.geometry.to_numpy())
    covered = shapely.union_all(layer.units.geometry.to_numpy())
    assert shapely.contains(covered, inside).all()
    assert shapely.covers(covered.buffer(1), city_limit())
    assert layer.units.index.str.fullmatch(r"87[0-9a-f]{13}").all()


def test_bad_grid_specs_are_refused():
    with pytest.raises(OptionError, match="larger than 0"):
        load_units("grid:0")
    with pytest.raises(OptionError, match="0 to 15"):
        load_units("h3:16")
    with pytest.raises(OptionError, match="choose larger cells"):
        load_units("grid:50")


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    from geo_violence.jobs.demo_data import make_demo_incidents

    path = tmp_path_factory.mktemp("demo") / "demo.csv"
    make_demo_incidents(seed=4).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("units", ["grid:4000", "h3:7", "grid:5000:extent"])
def test_emerging_and_hotspots_run_on_grid_units(demo_file, tmp_path, units):
    emerging = CliRunner().invoke(
        main, ["emerging", str(demo_file), "--units", units, "--out", str(tmp_path / "e")]
    )
    assert emerging.exit_code == 0, emerging.output
    table = pd.read_csv(tmp_path / "e" / "emerging.csv", dtype={"unit_id": str})
    hotspots = CliRunner().invoke(
        main,
        [
            "hotspots",
            str(demo_file),
            "--units",
            units,
            "--start",
            "2025-12-01",
            "--end",
            "2025-12-28",
            "--out",
            str(tmp_path / "h"),
        ],
    )
    assert hotspots.exit_code == 0, hotspots.output
    hot = pd.read_csv(tmp_path / "h" / "hotspots.csv", dtype={"unit_id": str})
    # the planted downtown surge is found on cells too: the cells with the Loop's incidents
    loop = load_units("community_areas").units.loc["32"].geometry
    cells = load_units(units, extent=None).units if not units.endswith("extent") else None
    if cells is not None:
        downtown = cells.index[shapely.intersects(cells.geometry.to_numpy(), loop)]
        assert (hot.set_index("unit_id").loc[downtown, "gi_class"] > 0).any()
        categories = table.set_index("unit_id").loc[downtown, "category"]
        assert categories.isin(["new hot spot", "consecutive hot spot"]).any()
    assert len(table) == len(hot)
    # a cell with no incident is never a plain hot spot: it says its neighbours make it one
    empty_hot = table[(table["total"] == 0) & (table["category_code"] > 0)]
    assert empty_hot["category"].str.endswith(" (neighbours only)").all()
    assert empty_hot["neighbours_only"].all()
    plain = table[~table["neighbours_only"] & (table["category_code"] > 0)]
    assert (plain["own_events_when_hot"] > 0).all()
    assert not plain["category"].str.contains("neighbours only").any()
    empty_hot_spots = hot[(hot["count"] == 0) & (hot["gi_class"] > 0)]
    assert empty_hot_spots["gi_category"].str.endswith(" (neighbours only)").all()
