"""Points kept as two coordinate arrays until a caller needs shapely geometries.

A file of millions of incidents becomes millions of shapely points in seconds, and the points'
first user, the assignment to units, only reads their x and y back. :class:`PointArray` is a
geopandas geometry array that holds x and y; the shapely points are made the first time anything
asks for them (a map, ``.geometry.iloc[0]``, a spatial join...), and from then on it is an ordinary
geometry array. Selecting rows (``.loc``, ``.iloc``, ``.copy()``) keeps it lazy, and
:func:`point_coordinates` gives the x and y of any point column without making geometries.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import shapely
from geopandas.array import GeometryArray


class PointArray(GeometryArray):
    """A geometry array of points, stored as x and y until shapely objects are needed.

    Parameters
    ----------
    x, y : numpy.ndarray
        The coordinates (finite; one point per row).
    crs : optional
        Anything :class:`pyproj.CRS` accepts.

    Examples
    --------
    >>> import geopandas as gpd
    >>> frame = gpd.GeoDataFrame({"a": [1, 2, 3]},
    ...     geometry=PointArray(np.array([0.0, 1.0, 2.0]), np.array([5.0, 6.0, 7.0])))
    >>> part = frame.loc[frame["a"] > 1].copy()
    >>> part.geometry.values.materialized, point_coordinates(part.geometry)[0].tolist()
    (False, [1.0, 2.0])
    >>> part.geometry.iloc[0].wkt, part.geometry.values.materialized
    ('POINT (1 6)', True)
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, crs=None) -> None:
        self._x = np.asarray(x, dtype=float)
        self._y = np.asarray(y, dtype=float)
        if self._x.shape != self._y.shape or self._x.ndim != 1:
            raise ValueError("x and y must be one-dimensional arrays of the same length")
        self._points: np.ndarray | None = None
        self._crs = None
        self.crs = crs
        self._sindex = None

    # the shapely points, made on first use; from then on this is a plain geometry array
    @property
    def _data(self) -> np.ndarray:
        if self._points is None:
            self._points = shapely.points(self._x, self._y)
            self._x = self._y = None
        return self._points

    @_data.setter
    def _data(self, value: np.ndarray) -> None:
        self._points = value
        self._x = self._y = None

    @property
    def materialized(self) -> bool:
        """Whether the shapely points have been made."""
        return self._points is not None

    def _like(self, x: np.ndarray, y: np.ndarray) -> PointArray:
        return PointArray(x, y, crs=self.crs)

    @property
    def size(self) -> int:
        return self._data.size if self.materialized else len(self._x)

    def __getitem__(self, idx):
        if self.materialized or isinstance(idx, numbers.Integral):
            return super().__getitem__(idx)
        if not isinstance(idx, slice):
            idx = pd.api.indexers.check_array_indexer(self, idx)
        return self._like(self._x[idx], self._y[idx])

    def take(self, indices, allow_fill: bool = False, fill_value=None):
        indices = np.asarray(indices, dtype=np.intp)
        if self.materialized or (allow_fill and (indices < 0).any()):
            return super().take(indices, allow_fill=allow_fill, fill_value=fill_value)
        return self._like(self._x.take(indices), self._y.take(indices))

    def copy(self, *args, **kwargs):
        if self.materialized:
            return super().copy(*args, **kwargs)
        return self._like(self._x.copy(), self._y.copy())

    def isna(self) -> np.ndarray:
        return super().isna() if self.materialized else np.zeros(len(self._x), dtype=bool)

    @property
    def x(self) -> np.ndarray:
        return super().x if self.materialized else self._x.copy()

    @property
    def y(self) -> np.ndarray:
        return super().y if self.materialized else self._y.copy()

    @property
    def bounds(self) -> np.ndarray:
        if self.materialized:
            return super().bounds
        return np.column_stack([self._x, self._y, self._x, self._y])

    @property
    def total_bounds(self) -> np.ndarray:
        if self.materialized or len(self._x) == 0:
            return super().total_bounds
        return np.array([self._x.min(), self._y.min(), self._x.max(), self._y.max()])

    @property
    def nbytes(self) -> int:
        return super().nbytes if self.materialized else self._x.nbytes + self._y.nbytes

    @classmethod
    def _concat_same_type(cls, to_concat):
        lazy = all(isinstance(part, PointArray) and not part.materialized for part in to_concat)
        if lazy and len({part.crs for part in to_concat}) == 1:
            return to_concat[0]._like(
                np.concatenate([part._x for part in to_concat]),
                np.concatenate([part._y for part in to_concat]),
            )
        return super()._concat_same_type(to_concat)

    def __getstate__(self):
        if self.materialized:
            return super().__getstate__()
        return {"x": self._x, "y": self._y, "crs": self._crs}

    def __setstate__(self, state):
        if isinstance(state, dict) and "x" in state:
            self._x, self._y, self._points = state["x"], state["y"], None
            self._crs, self._sindex = state["crs"], None
            return
        self._x = self._y = None
        super().__setstate__(state)


def point_coordinates(geometry) -> tuple[np.ndarray, np.ndarray]:
    """The x and y of a column of points, without making shapely points when they are not made
    (then the arrays are the points' own: read them, do not change them).

    Parameters
    ----------
    geometry : geopandas.GeoSeries or GeometryArray
        Points (missing or empty points give NaN).

    Returns
    -------
    tuple of numpy.ndarray

    Examples
    --------
    >>> point_coordinates(PointArray(np.array([1.0]), np.array([2.0])))
    (array([1.]), array([2.]))
    """
    values = getattr(geometry, "values", geometry)
    if isinstance(values, PointArray) and not values.materialized:
        return values._x, values._y  # not copied: a reader's view (PointArray never changes them)
    points = np.asarray(values, dtype=object)
    return shapely.get_x(points), shapely.get_y(points)
