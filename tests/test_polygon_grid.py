"""The grid-accelerated assignment equals the exact one on every point: real incidents, points on
edges and vertices, in holes, outside, on the grid's own lines, and random layouts."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_violence import load_units, locate_points, read_incidents
from geo_violence.units.polygon_grid import EDGE, PolygonGrid, grid_for, locate_many


def adversarial_points(polygons: np.ndarray, grid: PolygonGrid, rng) -> tuple[np.ndarray, ...]:
    """Vertices, edge midpoints and points a hair off the edges, the grid's cell corners, points
    in holes and far outside."""
    outlines = shapely.boundary(polygons)
    vertices = shapely.get_coordinates(outlines)
    midpoints = shapely.get_coordinates(shapely.segmentize(outlines, grid.cell / 3))
    hair = midpoints + rng.normal(scale=1e-7, size=midpoints.shape)
    corners_x = grid.x0 + grid.cell * rng.integers(0, grid.nx, 20_000)
    corners_y = grid.y0 + grid.cell * rng.integers(0, grid.ny, 20_000)
    holes = shapely.get_coordinates(
        shapely.point_on_surface(
            shapely.polygons(shapely.get_interior_ring(polygons[0], 0))
            if shapely.get_num_interior_rings(polygons[0])
            else polygons[:1]
        )
    )
    x_min, y_min, x_max, y_max = shapely.total_bounds(polygons)
    far = np.array([[x_min - 1e6, y_min], [x_max + 1e6, y_max], [x_min, y_max + 1e6]])
    points = np.vstack(
        [vertices, midpoints, hair, np.column_stack([corners_x, corners_y]), holes, far]
    )
    return points[:, 0], points[:, 1]


def strtree_reference(x: np.ndarray, y: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """The assignment rule written independently with shapely's STRtree predicates: the first
    polygon (in order) with the point inside, else the first whose boundary it touches."""
    points = shapely.points(x, y)
    tree = shapely.STRtree(polygons)
    located = np.full(len(x), len(polygons), dtype=np.int64)
    point, polygon = tree.query(points, predicate="within")
    np.minimum.at(located, point, polygon)
    left = np.flatnonzero(located == len(polygons))
    point, polygon = tree.query(points[left], predicate="intersects")
    np.minimum.at(located, left[point], polygon)
    located[located == len(polygons)] = -1
    return located


def test_equal_to_the_exact_result_on_the_real_assaults_and_adversarial_points(shared_data):
    polygons = load_units("beats", units_file=shared_data / "police_beats.geojson").units
    polygons = polygons.geometry.to_numpy()
    read = read_incidents(
        shared_data / "aggravated_assaults_2010_2019.csv.gz",
        time_col="date",
        x_col="longitude",
        y_col="latitude",
        crs="EPSG:4326",
    )
    x, y = read.incidents.geometry.x.to_numpy(), read.incidents.geometry.y.to_numpy()
    np.testing.assert_array_equal(locate_points(x, y, polygons), strtree_reference(x, y, polygons))
    for cells in (512, 2048):
        grid = PolygonGrid(polygons, cells_across=cells)
        np.testing.assert_array_equal(grid.locate(x, y), locate_points(x, y, polygons))
        ax, ay = adversarial_points(polygons, grid, np.random.default_rng(cells))
        exact = locate_points(ax, ay, polygons)
        np.testing.assert_array_equal(exact, strtree_reference(ax, ay, polygons))
        np.testing.assert_array_equal(grid.locate(ax, ay), exact)
    np.testing.assert_array_equal(locate_many(x, y, polygons), locate_points(x, y, polygons))


def test_holes_overlaps_shared_edges_and_the_edge_rule():
    ring = shapely.box(0, 0, 100, 100).difference(shapely.box(40, 40, 60, 60))  # a hole
    inside_hole = shapely.box(45, 45, 55, 55)  # a unit inside the hole
    overlapping = shapely.box(90, 0, 150, 50)  # overlaps the ring: the ring (first) wins
    neighbour = shapely.box(100, 50, 150, 100)  # shares the ring's east edge
    polygons = np.array([ring, inside_hole, overlapping, neighbour])
    grid = PolygonGrid(polygons, cells_across=64)
    x = np.array([50.0, 42.0, 95.0, 120.0, 100.0, 100.0, 40.0, 45.0, 200.0, 130.0])
    y = np.array([50.0, 50.0, 20.0, 20.0, 75.0, 50.0, 40.0, 50.0, 200.0, 50.0])
    exact = locate_points(x, y, polygons)
    assert exact.tolist() == [1, -1, 0, 2, 0, 0, 0, 1, -1, 2]
    np.testing.assert_array_equal(grid.locate(x, y), exact)
    ax, ay = adversarial_points(polygons, grid, np.random.default_rng(1))
    np.testing.assert_array_equal(grid.locate(ax, ay), locate_points(ax, ay, polygons))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_polygons=st.integers(1, 12),
    cells=st.sampled_from([16, 64, 256]),
)
def test_random_layouts_give_the_exact_result(seed, n_polygons, cells):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1000, (n_polygons, 2))
    polygons = np.array(
        [
            shapely.affinity.rotate(
                shapely.Point(cx, cy).buffer(rng.uniform(20, 300), quad_segs=rng.integers(1, 6)),
                rng.uniform(0, 90),
            )
            for cx, cy in centres
        ]
    )
    grid = PolygonGrid(polygons, cells_across=cells)
    x, y = rng.uniform(-100, 1100, 5000), rng.uniform(-100, 1100, 5000)
    ax, ay = adversarial_points(polygons, grid, rng)
    x, y = np.concatenate([x, ax]), np.concatenate([y, ay])
    exact = locate_points(x, y, polygons)
    np.testing.assert_array_equal(exact, strtree_reference(x, y, polygons))
    np.testing.assert_array_equal(grid.locate(x, y), exact)


def test_points_located_in_slices_on_threads_give_the_same_result(monkeypatch):
    from geo_violence.units import polygon_grid

    rng = np.random.default_rng(7)
    polygons = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)])
    grid = PolygonGrid(polygons, cells_across=64)
    ax, ay = adversarial_points(polygons, grid, rng)
    x = np.concatenate([rng.uniform(-5, 25, 20_000), ax, [np.nan]])
    y = np.concatenate([rng.uniform(-5, 15, 20_000), ay, [1.0]])
    whole = grid.locate(x, y)
    monkeypatch.setattr(polygon_grid, "POINTS_AT_A_TIME", 997)  # uneven slices, a short last
    np.testing.assert_array_equal(grid.locate(x, y), whole)
    np.testing.assert_array_equal(whole, locate_points(x, y, polygons))


_THREADS_ON_FRESH_POLYGONS = """
import numpy as np, shapely
from geo_violence import load_units, locate_points
from geo_violence.units import polygon_grid
polygons = load_units("community_areas").units.geometry.to_numpy()
polygon_grid.POINTS_AT_A_TIME = 5000
rng = np.random.default_rng(3)
x0, y0, x1, y1 = shapely.total_bounds(polygons)
x, y = rng.uniform(x0, x1, 200_000), rng.uniform(y0, y1, 200_000)
for _ in range(3):
    grid = polygon_grid.PolygonGrid(polygons, cells_across=128)
    grid.polygons = shapely.from_wkb(shapely.to_wkb(polygons))  # not prepared yet
    located = grid.locate(x, y)
assert (located == locate_points(x, y, polygons)).all()
print("same")
"""


def test_threads_never_share_a_polygon_geos_prepares():
    # with one set of polygons shared by the threads, this aborted the interpreter ("double
    # free or corruption") in six runs out of six
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _THREADS_ON_FRESH_POLYGONS], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "same"


def test_tiny_inputs_take_the_exact_path():
    polygons = np.array([shapely.box(0, 0, 1, 1)])
    assert locate_many(np.array([0.5, 2.0]), np.array([0.5, 2.0]), polygons).tolist() == [0, -1]


def test_a_grid_is_reused_for_the_same_polygons_and_rebuilt_when_one_moves():
    polygons = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)])
    grid = grid_for(polygons, 128)
    assert grid_for(np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)]), 128) is grid
    moved = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 12)])
    assert grid_for(moved, 128) is not grid
    x, y = np.full(30_000, 15.0), np.full(30_000, 11.0)  # inside the moved box only
    assert (locate_many(x, y, polygons) == -1).all()
    assert (locate_many(x, y, moved) == 1).all()


def owners_at_centres(grid: PolygonGrid) -> tuple[np.ndarray, np.ndarray]:
    """The grid's owner of each non-edge cell, and the exact owner of its centre."""
    rows, columns = np.nonzero(grid.owner != EDGE)
    x, y = grid.x0 + (columns + 0.5) * grid.cell, grid.y0 + (rows + 0.5) * grid.cell
    return grid.owner[rows, columns], locate_points(x, y, grid.polygons)


@pytest.mark.parametrize("layer", ["community_areas", "beats"])
def test_every_cell_away_from_edges_has_its_centres_exact_owner(shared_data, layer):
    files = {"beats": {"units_file": shared_data / "police_beats.geojson"}}
    polygons = load_units(layer, **files.get(layer, {})).units.geometry.to_numpy()
    grid = PolygonGrid(polygons, cells_across=1024)
    ours, exact = owners_at_centres(grid)
    np.testing.assert_array_equal(ours, exact)
    assert (exact >= 0).mean() > 0.25 and (exact == -1).any()  # inside units, and outside all
    np.testing.assert_array_equal(grid.owner, grid._owners_by_region(grid.owner == EDGE))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n_polygons=st.integers(1, 10))
def test_scanlines_give_the_exact_owner_of_holes_parts_and_overlaps(seed, n_polygons):
    rng = np.random.default_rng(seed)
    shapes = []
    for _ in range(n_polygons):
        cx, cy, r = rng.uniform(0, 1000), rng.uniform(0, 1000), rng.uniform(30, 250)
        shape = shapely.Point(cx, cy).buffer(r, quad_segs=int(rng.integers(1, 8)))
        if rng.random() < 0.5:  # a hole
            shape = shape.difference(shapely.Point(cx, cy).buffer(r / 3))
        if rng.random() < 0.3:  # a second part, apart
            shape = shapely.MultiPolygon([shape, shapely.box(cx + r + 5, cy, cx + r + 60, cy + 40)])
        shapes.append(shapely.make_valid(shape))
    polygons = np.array(shapes, dtype=object)
    grid = PolygonGrid(polygons, cells_across=int(rng.choice([32, 128, 512])))
    ours, exact = owners_at_centres(grid)
    np.testing.assert_array_equal(ours, exact)


def test_invalid_polygons_are_settled_region_by_region():
    bow_tie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])  # crosses itself
    polygons = np.array([bow_tie, shapely.box(150, 0, 250, 100)])
    assert not shapely.is_valid(bow_tie)
    grid = PolygonGrid(polygons, cells_across=128)
    ours, exact = owners_at_centres(grid)
    np.testing.assert_array_equal(ours, exact)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-20, 270, 20_000), rng.uniform(-20, 120, 20_000)
    np.testing.assert_array_equal(grid.locate(x, y), locate_points(x, y, polygons))
