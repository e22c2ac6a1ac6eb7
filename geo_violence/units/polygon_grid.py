"""Exact point-in-polygon for many points: a coarse grid settles the points far from every edge,
only the points near an edge are tested against the polygons.

The grid covers the units' bounds. Every cell that a unit's boundary passes through, or that lies
within two cells of one, is an *edge* cell. Every other cell lies wholly inside the same units (or
outside all of them), at least two cells from any boundary; its owner is found by scanlines: along
the line through each row of cell centres, a polygon's rings cross it an even number of times, and
the centres between the first and second crossing, the third and fourth, ..., are inside it (the
crossing-number rule that GEOS applies to a point, for valid polygons). Where units overlap, the
first wins, as in :func:`geo_violence.units.locate.locate_points`. A point then takes its cell's
owner, and points in edge cells (or off the grid) get the exact test. The two-cell margin keeps a
point whose cell index rounds to a neighbour inside the same units, so the result equals the exact
one for every point, edges and vertices included. (Invalid polygons, whose crossings need not
pair up, are settled instead by one exact test of one cell of each connected region of non-edge
cells.)
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely

from .locate import locate_points

#: Cells along the longer side of the units' bounds (by default, from the number of points).
CELLS_ACROSS = 2048
#: Below this many points the grid does not pay for itself: every point is tested exactly.
MIN_POINTS = 20_000
#: A cell whose owner must be found exactly (near an edge); -1 is "outside every unit".
EDGE = -2
#: Points located at a time (their temporaries stay in the processor's cache), and the threads
#: that locate the slices of a long array.
POINTS_AT_A_TIME = 1 << 18
THREADS = 4
#: Grids kept for reuse (a file read in batches, a weekly job's layers locate against the same
#: polygons again and again).
CACHED_GRIDS = 4

_grids: OrderedDict[tuple[str, int], PolygonGrid] = OrderedDict()


class PolygonGrid:
    """A grid over polygons that locates points exactly, most of them by one array lookup.

    Parameters
    ----------
    polygons : numpy.ndarray of shapely geometries
        The units in their order (the first wins ties, as in ``locate_points``).
    cells_across : int
        Cells along the longer side of the bounds.

    Examples
    --------
    >>> polygons = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)])
    >>> grid = PolygonGrid(polygons, cells_across=64)
    >>> grid.locate(np.array([1.0, 10.0, 15.0, 30.0]), np.array([1.0, 5.0, 5.0, 5.0])).tolist()
    [0, 0, 1, -1]
    """

    def __init__(self, polygons: np.ndarray, *, cells_across: int = CELLS_ACROSS) -> None:
        self.polygons = np.asarray(polygons, dtype=object)
        x_min, y_min, x_max, y_max = shapely.total_bounds(self.polygons)
        self.cell = max(x_max - x_min, y_max - y_min, 1e-9) / cells_across
        margin = 3 * self.cell
        self.x0, self.y0 = x_min - margin, y_min - margin
        self.nx = int(np.ceil((x_max + margin - self.x0) / self.cell)) + 1
        self.ny = int(np.ceil((y_max + margin - self.y0) / self.cell)) + 1
        edge = np.zeros((self.ny, self.nx), dtype=bool)
        outlines = shapely.segmentize(shapely.boundary(self.polygons), self.cell / 4)
        points = shapely.get_coordinates(outlines)
        column, row = self._cells(points[:, 0], points[:, 1])
        edge[row.astype(np.int64), column.astype(np.int64)] = True
        edge = dilated(edge, 2)
        if np.all(shapely.is_valid(self.polygons) | shapely.is_missing(self.polygons)):
            owner = scanline_owners(self.polygons, self.x0, self.y0, self.cell, (self.ny, self.nx))
        else:
            owner = self._owners_by_region(edge)
        owner[edge] = EDGE
        self.owner = owner
        self.edge_share = float(edge.mean())

    def _owners_by_region(self, edge: np.ndarray) -> np.ndarray:
        """Each non-edge cell's owner, one exact test for each connected region of them."""
        from scipy import ndimage  # (only for invalid polygons: scipy takes 0.2 s to load)

        regions, n_regions = ndimage.label(~edge)
        # one cell of each region: the first of its label inside the region's bounding box
        rows, columns = np.empty(n_regions, dtype=np.int64), np.empty(n_regions, dtype=np.int64)
        for label, box in enumerate(ndimage.find_objects(regions), start=1):
            first = int(np.argmax(regions[box] == label))
            row, column = np.divmod(first, box[1].stop - box[1].start)
            rows[label - 1], columns[label - 1] = row + box[0].start, column + box[1].start
        owners = locate_points(
            self.x0 + (columns + 0.5) * self.cell, self.y0 + (rows + 0.5) * self.cell, self.polygons
        )
        return np.concatenate([[EDGE], owners]).astype(np.int32)[regions]

    def _cells(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        column = np.floor((np.asarray(x, dtype=float) - self.x0) / self.cell)
        row = np.floor((np.asarray(y, dtype=float) - self.y0) / self.cell)
        return column, row

    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The position of the polygon containing each point, or -1 (``locate_points``'s rule).

        Many points are located in slices of :data:`POINTS_AT_A_TIME` on up to
        :data:`THREADS` threads (numpy and shapely let go of the interpreter while they work):
        5 million points in half the time on two cores. Each thread tests its points against
        its own copy of the polygons: GEOS builds a prepared polygon's index on first use, and
        two threads preparing or using the same polygon corrupt the heap."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        n = len(x)
        threads = min(THREADS, os.cpu_count() or 1, -(-n // POINTS_AT_A_TIME))
        if threads <= 1:
            return self._locate(x, y, self.polygons)
        result = np.empty(n, dtype=np.int64)
        starts = range(0, n, POINTS_AT_A_TIME)

        def locate_share(share: int) -> None:
            polygons = shapely.from_wkb(shapely.to_wkb(self.polygons, output_dimension=3))
            for begin in starts[share::threads]:
                part = slice(begin, begin + POINTS_AT_A_TIME)
                result[part] = self._locate(x[part], y[part], polygons)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(locate_share, range(threads)))
        return result

    def _locate(self, x: np.ndarray, y: np.ndarray, polygons: np.ndarray) -> np.ndarray:
        column, row = self._cells(x, y)
        on_grid = (column >= 0) & (column < self.nx) & (row >= 0) & (row < self.ny)
        result = np.full(len(x), -1, dtype=np.int64)
        inside = np.flatnonzero(on_grid)
        result[inside] = self.owner[row[inside].astype(np.int64), column[inside].astype(np.int64)]
        exact = np.flatnonzero((result == EDGE) | (on_grid & ~np.isfinite(x + y)))
        if len(exact):
            result[exact] = locate_points(x[exact], y[exact], polygons)
        return result


def dilated(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` grown by ``radius`` cells in every direction, diagonals included (a square of
    ``2 * radius + 1`` cells: rows, then columns).

    Examples
    --------
    >>> mask = np.zeros((5, 5), dtype=bool)
    >>> mask[2, 2] = True
    >>> dilated(mask, 1).astype(int).sum(), dilated(mask, 1)[1:4, 1:4].all()
    (np.int64(9), np.True_)
    """
    grown = mask.copy()
    for shift in range(1, radius + 1):
        grown[shift:] |= mask[:-shift]
        grown[:-shift] |= mask[shift:]
    rows = grown.copy()
    for shift in range(1, radius + 1):
        grown[:, shift:] |= rows[:, :-shift]
        grown[:, :-shift] |= rows[:, shift:]
    return grown


def scanline_owners(
    polygons: np.ndarray, x0: float, y0: float, cell: float, shape: tuple[int, int]
) -> np.ndarray:
    """The first polygon containing each cell's centre (-1: none), by the crossings of each row's
    line of centres with the polygons' rings; right for cells away from every boundary (a centre
    on a boundary may go either way: the grid tests those cells' points exactly).

    Examples
    --------
    >>> hole = [(1, 1), (3, 1), (3, 3), (1, 3)]
    >>> square = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [hole])
    >>> scanline_owners(np.array([square]), 0.0, 0.0, 1.0, (4, 4)).tolist()
    [[0, 0, 0, 0], [0, -1, -1, 0], [0, -1, -1, 0], [0, 0, 0, 0]]
    """
    n_rows, n_columns = shape
    owner = np.full(shape, -1, dtype=np.int32)
    rings, polygon_of_ring = shapely.get_parts(shapely.boundary(polygons), return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = np.flatnonzero(ring[1:] == ring[:-1])  # segment from vertex k to k + 1 of one ring
    xa, ya, xb, yb = xy[same, 0], xy[same, 1], xy[same + 1, 0], xy[same + 1, 1]
    polygon = polygon_of_ring[ring[same]]
    # the rows whose centre line y0 + (r + 0.5) cell each segment crosses: low <= y < high, so a
    # vertex shared by two segments is counted once, and a level segment not at all
    first = np.ceil((np.minimum(ya, yb) - y0) / cell - 0.5).astype(np.int64)
    stop = np.ceil((np.maximum(ya, yb) - y0) / cell - 0.5).astype(np.int64)
    first, stop = np.clip(first, 0, n_rows), np.clip(stop, 0, n_rows)
    crossings = np.maximum(stop - first, 0)
    segment = np.repeat(np.arange(len(first)), crossings)
    row = (
        first[segment]
        + np.arange(len(segment))
        - np.repeat(np.cumsum(crossings) - crossings, crossings)
    )
    centre_y = y0 + (row + 0.5) * cell
    t = (centre_y - ya[segment]) / (yb[segment] - ya[segment])
    x = xa[segment] + t * (xb[segment] - xa[segment])
    order = np.lexsort((x, row, polygon[segment]))
    x, row, polygon = x[order], row[order], polygon[segment][order]
    # crossings pair up along each row of each polygon: inside from the 1st to the 2nd, ...
    begin, end, row, polygon = x[0::2], x[1::2], row[0::2], polygon[0::2]
    first_column = np.clip(np.ceil((begin - x0) / cell - 0.5), 0, n_columns).astype(np.int64)
    stop_column = np.clip(np.ceil((end - x0) / cell - 0.5), 0, n_columns).astype(np.int64)
    width = np.maximum(stop_column - first_column, 0)
    span = np.repeat(np.arange(len(width)), width)
    cells = (row * n_columns + first_column)[span] + (
        np.arange(len(span)) - np.repeat(np.cumsum(width) - width, width)
    )
    owners = polygon[span].astype(np.int32)
    if len(cells) and np.bincount(cells, minlength=owner.size).max() > 1:  # overlapping units
        by_cell = np.lexsort((owners, cells))
        cells, owners = cells[by_cell], owners[by_cell]
        firsts = np.concatenate([[True], cells[1:] != cells[:-1]])
        cells, owners = cells[firsts], owners[firsts]
    owner.ravel()[cells] = owners
    return owner


def locate_many(x: np.ndarray, y: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """``locate_points``'s result, through a grid when there are enough points to pay for it.

    The grid is finer for more points (its cost grows with its cells, the exact tests it saves
    with the points): ``1.5 * sqrt(n)`` cells across, between 512 and 2048 (a finer grid costs
    more to build than its fewer exact tests save).

    Examples
    --------
    >>> polygons = np.array([shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)])
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.uniform(-5, 25, 50_000), rng.uniform(-5, 15, 50_000)
    >>> bool((locate_many(x, y, polygons) == locate_points(x, y, polygons)).all())
    True
    """
    if len(x) < MIN_POINTS:
        return locate_points(x, y, polygons)
    cells = int(np.clip(1.5 * np.sqrt(len(x)), 512, CELLS_ACROSS))
    return grid_for(polygons, cells).locate(x, y)


def grid_for(polygons: np.ndarray, cells_across: int) -> PolygonGrid:
    """The grid of ``polygons``, built once and reused while it is among the last
    ``CACHED_GRIDS`` used; the key is the polygons' exact coordinates (their WKB), so a changed
    polygon never meets a stale grid.

    Examples
    --------
    >>> polygons = np.array([shapely.box(0, 0, 10, 10)])
    >>> grid_for(polygons, 64) is grid_for(np.array([shapely.box(0, 0, 10, 10)]), 64)
    True
    """
    digest = hashlib.sha256()
    for blob in shapely.to_wkb(np.asarray(polygons, dtype=object)):
        digest.update(len(blob).to_bytes(8, "little"))
        digest.update(blob)
    key = (digest.hexdigest(), cells_across)
    if key in _grids:
        _grids.move_to_end(key)
        return _grids[key]
    grid = PolygonGrid(polygons, cells_across=cells_across)
    _grids[key] = grid
    while len(_grids) > CACHED_GRIDS:
        _grids.popitem(last=False)
    return grid
