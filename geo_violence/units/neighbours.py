"""Stage 5, neighbours: which units are neighbours of which, as a binary sparse matrix.

libpysal is called here and nowhere else. Islands (units with no neighbour) are reported by id
and name, and handled as asked: joined to their nearest unit (the default), left out, or an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..choices import ISLAND_POLICIES, NEIGHBOUR_METHODS
from ..columns import NAME
from ..errors import DataError, OptionError

if TYPE_CHECKING:  # scipy loads (0.15 s) only for a job that builds neighbours
    from scipy import sparse

logger = logging.getLogger(__name__)


@dataclass
class Neighbours:
    """Binary neighbours of units (a unit is not its own neighbour here).

    Attributes
    ----------
    matrix : scipy.sparse.csr_array
        ``matrix[i, j] == 1`` when unit ``j`` is a neighbour of unit ``i``; rows and columns in
        the order of :attr:`unit_ids`. Symmetric for contiguity and distance bands.
    unit_ids : pandas.Index
        The units (after ``islands="drop"``, without the islands).
    method : str
        ``queen``, ``rook``, ``knn`` or ``distance``.
    islands : list of str
        Ids of the units that had no neighbour, whatever was done with them.
    notes : list of str
    """

    matrix: sparse.csr_array
    unit_ids: pd.Index
    method: str
    islands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of neighbours of each unit."""
        return np.asarray(self.matrix.sum(axis=1)).ravel().astype(np.int64)

    def to_w(self, transform: str = "B"):
        """The same neighbours as a libpysal ``W`` (for esda), with the given transform.

        Examples
        --------
        >>> from geo_violence import load_units
        >>> w = build_weights(load_units("community_areas").units).to_w()
        >>> w.n, w.id_order[:2]
        (77, ['1', '2'])
        """
        from libpysal.weights import WSP
        from scipy import sparse

        weights = WSP(sparse.csr_matrix(self.matrix), id_order=list(self.unit_ids)).to_W(
            silence_warnings=True
        )
        weights.transform = transform
        return weights


def build_weights(
    units: gpd.GeoDataFrame,
    *,
    method: str = "queen",
    k: int = 6,
    distance: float | None = None,
    islands: str = "nearest",
) -> Neighbours:
    """Find each unit's neighbours.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units indexed by ``unit_id``, with ``name``, in the working CRS.
    method : {"queen", "rook", "knn", "distance"}
        Queen contiguity (a shared vertex is enough; the default for polygons), rook (a shared
        edge), the ``k`` nearest units by centroid, or every unit whose centroid lies within
        ``distance`` (in the working CRS's feet).
    k : int
        Neighbours per unit for ``knn``.
    distance : float, optional
        The band for ``distance``, in feet.
    islands : {"nearest", "error", "drop"}
        Units with no neighbour: join each to its nearest unit (both ways, and the notes say so),
        refuse with an error that names them, or leave them out.

    Returns
    -------
    Neighbours

    Raises
    ------
    DataError
        ``islands="error"`` and there are islands, or no unit has any neighbour.

    Examples
    --------
    >>> from geo_violence import load_units
    >>> neighbours = build_weights(load_units("community_areas").units)
    >>> int(neighbours.cardinalities.min()) > 0, neighbours.method
    (True, 'queen')
    """
    if method not in NEIGHBOUR_METHODS:
        raise OptionError.expected("neighbours", method, NEIGHBOUR_METHODS)
    if islands not in ISLAND_POLICIES:
        raise OptionError.expected("islands", islands, ISLAND_POLICIES)
    if len(units) < 2:
        raise DataError(f"neighbours need at least 2 units; the layer has {len(units)}")
    from scipy import sparse

    matrix = _neighbour_matrix(units, method, k, distance)
    notes: list[str] = []
    degree = np.asarray(matrix.sum(axis=1)).ravel()
    island_positions = np.flatnonzero(degree == 0)
    island_ids = [str(units.index[i]) for i in island_positions]
    unit_ids = pd.Index(units.index, name=units.index.name)
    if len(island_positions) == len(units):
        hint = (
            "a larger --distance or --neighbours knn"
            if method == "distance"
            else "--neighbours knn or --neighbours distance"
        )
        raise DataError(f"no unit has a {method} neighbour: try {hint}")
    if len(island_positions):
        named = ", ".join(f"{units.index[i]} ({units.iloc[i][NAME]})" for i in island_positions)
        if islands == "error":
            raise DataError(
                f"{len(island_positions)} unit(s) have no {method} neighbour: {named}; use "
                "--islands nearest or --islands drop"
            )
        if islands == "nearest":
            matrix = _join_nearest(units, matrix, island_positions)
            notes.append(f"units with no {method} neighbour joined to their nearest unit: {named}")
        else:
            keep = np.setdiff1d(np.arange(len(units)), island_positions)
            matrix = matrix[keep][:, keep]
            unit_ids = unit_ids[keep]
            notes.append(f"units with no {method} neighbour left out of the statistics: {named}")
    for note in notes:
        logger.warning(note)
    return Neighbours(
        matrix=sparse.csr_array(matrix, dtype=np.float64),
        unit_ids=unit_ids,
        method=method,
        islands=island_ids,
        notes=notes,
    )


def _neighbour_matrix(
    units: gpd.GeoDataFrame, method: str, k: int, distance: float | None
) -> sparse.csr_array:
    from libpysal.graph import Graph
    from scipy import sparse

    n = len(units)
    geometry = units.geometry.reset_index(drop=True)
    if method in ("queen", "rook"):
        graph = Graph.build_contiguity(geometry, rook=method == "rook")
    else:
        centroids = gpd.GeoSeries(shapely.centroid(geometry.to_numpy()), crs=units.crs)
        if method == "knn":
            if not 1 <= k < n:
                raise OptionError(f"'k' was {k} but must be between 1 and {n - 1} for {n} units")
            graph = Graph.build_knn(centroids, k=k)
        else:
            if distance is None or not distance > 0:
                raise OptionError("--neighbours distance needs --distance FEET (a positive number)")
            graph = Graph.build_distance_band(centroids, threshold=distance, binary=True)
    matrix = sparse.csr_array(graph.sparse, dtype=np.float64)
    matrix.setdiag(0)
    matrix.eliminate_zeros()
    matrix.data[:] = 1.0
    return matrix


def _join_nearest(
    units: gpd.GeoDataFrame, matrix: sparse.csr_array, island_positions: np.ndarray
) -> sparse.csr_array:
    from scipy import sparse

    geometry = units.geometry.to_numpy()
    tree = shapely.STRtree(geometry)
    rows, cols = [], []
    for position in island_positions:
        nearest = tree.query_nearest(geometry[position], exclusive=True, all_matches=False)
        rows.extend([position, nearest[0]])
        cols.extend([nearest[0], position])
    extra = sparse.csr_array(
        (np.ones(len(rows)), (rows, cols)), shape=matrix.shape, dtype=np.float64
    )
    joined = (matrix + extra).tocsr()
    joined.data[:] = 1.0
    return joined
