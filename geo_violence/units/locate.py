"""Exact point location: the polygon that contains each point, by one rule for edges.

The edge rule: a point inside a unit belongs to it; a point on an edge (inside no unit) belongs to
the first unit, in the layer's id order, whose boundary it touches; where units overlap, the first
in id order that contains the point wins. So every point gets exactly one unit or none.
:mod:`.polygon_grid` speeds this up for many points; :mod:`.assign` uses both.
"""

from __future__ import annotations

import numpy as np
import shapely


def locate_points(x: np.ndarray, y: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """The position of the polygon containing each point, or -1, with the module's edge rule.

    Candidates are the points inside each polygon's bounding box (edges included), found by
    binary search on the points sorted by x, without making a point geometry; each polygon then
    tests its candidates exactly with a prepared ``contains_xy``; only points left in no polygon
    are tested against the edges.

    Parameters
    ----------
    x, y : numpy.ndarray
        Point coordinates, in the polygons' CRS.
    polygons : numpy.ndarray of shapely geometries
        The units, in their order (the first wins ties).

    Returns
    -------
    numpy.ndarray of int64
        One position per point; -1 where no polygon contains or touches the point.

    Examples
    --------
    >>> left = shapely.box(0, 0, 1, 1)
    >>> right = shapely.box(1, 0, 2, 1)
    >>> locate_points(np.array([0.5, 1.0, 1.5, 5.0]), np.array([0.5, 0.5, 0.5, 5.0]),
    ...               np.array([left, right])).tolist()
    [0, 0, 1, -1]
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    located = np.full(len(x), -1, dtype=np.int64)
    if len(x) == 0 or len(polygons) == 0:
        return located
    owners, groups = _candidates_by_bounds(x, y, polygons)
    for owner, candidates in zip(owners, groups, strict=True):
        polygon = polygons[owner]
        shapely.prepare(polygon)
        open_candidates = candidates[located[candidates] == -1]
        inside = shapely.contains_xy(polygon, x[open_candidates], y[open_candidates])
        located[open_candidates[inside]] = owner
    for owner, candidates in zip(owners, groups, strict=True):
        open_candidates = candidates[located[candidates] == -1]
        if len(open_candidates) == 0:
            continue
        on_edge = shapely.intersects_xy(polygons[owner], x[open_candidates], y[open_candidates])
        located[open_candidates[on_edge]] = owner
    return located


def _candidates_by_bounds(
    x: np.ndarray, y: np.ndarray, polygons: np.ndarray
) -> tuple[list[int], list[np.ndarray]]:
    """For each polygon with any, in polygon order: the points inside its bounding box."""
    by_x = np.argsort(x, kind="stable")  # NaN last, and never inside a box
    sorted_x = x[by_x]
    bounds = shapely.bounds(polygons)
    owners: list[int] = []
    groups: list[np.ndarray] = []
    for owner, (x_min, y_min, x_max, y_max) in enumerate(bounds):
        first = np.searchsorted(sorted_x, x_min, side="left")
        last = np.searchsorted(sorted_x, x_max, side="right")
        strip = by_x[first:last]
        strip_y = y[strip]
        candidates = strip[(strip_y >= y_min) & (strip_y <= y_max)]
        if len(candidates):
            owners.append(owner)
            groups.append(candidates)
    return owners, groups
