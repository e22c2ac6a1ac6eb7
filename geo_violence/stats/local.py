"""Local statistics of one value per unit: Getis-Ord Gi* and local Moran's I.

Plain functions ``f(values, neighbours) -> DataFrame`` whose index is the units' ids. The
formulas are written out here (vectorised over all units, permutations included); the tests check
them against esda to 1e-10.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..errors import DataError
from ..weights import Neighbours

#: Units whose permutations are drawn at once (bounds memory to about 64 MB).
PERMUTATION_CHUNK_VALUES = 8_000_000


def _aligned(values: pd.Series, neighbours: Neighbours) -> np.ndarray:
    missing = neighbours.unit_ids.difference(values.index)
    if len(missing):
        raise DataError(f"no value for units {', '.join(map(str, missing[:10]))}")
    array = values.reindex(neighbours.unit_ids).to_numpy(dtype=float)
    undefined = ~np.isfinite(array)
    if undefined.any():
        names = ", ".join(map(str, neighbours.unit_ids[undefined][:10]))
        raise DataError(
            f"the value is undefined (NaN) for units {names}: a rate needs a population above "
            "zero for every unit (fix the population file, or leave --population out)"
        )
    if len(array) < 3:
        raise DataError(f"local statistics need at least 3 units; there are {len(array)}")
    if np.ptp(array) == 0:
        raise DataError(
            f"every unit has the same value ({array[0]:g}): with zero variance there are no hot "
            "or cold spots; choose a longer period or other units"
        )
    return array


def local_gi_star(
    values: pd.Series,
    neighbours: Neighbours,
    *,
    permutations: int = 0,
    seed: int | None = None,
) -> pd.DataFrame:
    """Getis-Ord Gi* with binary weights, the unit itself included.

    With ``n`` units, ``xbar`` and ``S`` the mean and population standard deviation of the values,
    and ``W_i`` the number of units in the neighbourhood of ``i`` (itself included)::

        z_i = (sum_{j in N(i)} x_j - xbar W_i) / (S sqrt((n W_i - W_i^2) / (n - 1)))

    Parameters
    ----------
    values : pandas.Series
        One value per unit (counts or rates), indexed by unit id.
    neighbours : Neighbours
        From :func:`geo_violence.weights.build_weights`.
    permutations : int
        0 (the default) for analytic two-sided normal p-values; otherwise that many conditional
        permutations (the unit's own value fixed, its neighbours drawn from the others), and a
        two-sided pseudo p-value ``2 (min(larger, smaller) + 1) / (permutations + 1)``, at most 1.
    seed : int, optional
        Seed of the permutations.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``neighbours.unit_ids``: ``gi_z`` and ``gi_p``.

    Examples
    --------
    >>> from geo_violence.weights import Neighbours
    >>> chain = sparse.csr_array(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    >>> result = local_gi_star(pd.Series([1.0, 2.0, 6.0], index=["a", "b", "c"]),
    ...                        Neighbours(chain, pd.Index(["a", "b", "c"]), "rook"))
    >>> result["gi_z"].round(4).tolist()
    [-1.3887, nan, 0.9258]
    """
    x = _aligned(values, neighbours)
    n = len(x)
    adjacency = neighbours.matrix
    star = adjacency + sparse.eye_array(n, format="csr")
    weight_sum = np.asarray(star.sum(axis=1)).ravel()
    lag = star @ x
    mean = x.mean()
    spread = x.std()
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (lag - mean * weight_sum) / (
            spread * np.sqrt((n * weight_sum - weight_sum**2) / (n - 1))
        )
    if permutations:
        simulated = x[:, None] + conditional_neighbour_sums(
            x, adjacency, permutations, seed, mean_of_draws=False
        )
        p = _two_sided_pseudo_p(lag, simulated, permutations)
    else:
        p = 2 * stats.norm.sf(np.abs(z))
    return pd.DataFrame({"gi_z": z, "gi_p": p}, index=neighbours.unit_ids)


def local_moran(
    values: pd.Series,
    neighbours: Neighbours,
    *,
    permutations: int = 999,
    seed: int | None = None,
) -> pd.DataFrame:
    """Local Moran's I with row-standardised weights and conditional permutation p-values.

    With ``z`` the values standardised by their mean and population standard deviation, and
    ``lag_i`` the mean of ``z`` over the neighbours of ``i``: ``I_i = (n - 1) / n z_i lag_i``
    (esda's convention). The p-value is two-sided, ``2 (min(larger, smaller) + 1) /
    (permutations + 1)`` (at most 1): twice esda 2.9's folded ``p_sim``, which tests whichever tail
    the observed value lies in and so flags about 10% of units at the 5% level on data with no
    pattern (esda announces the same change). ``lisa_z`` is ``I`` standardised by the
    permutations' mean and standard deviation.

    Parameters
    ----------
    values : pandas.Series
        One value per unit, indexed by unit id.
    neighbours : Neighbours
        From :func:`geo_violence.weights.build_weights`.
    permutations : int
        Number of conditional permutations (999 by default; at least 1).
    seed : int, optional
        Seed of the permutations: the same seed gives the same p-values.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``neighbours.unit_ids``: ``lisa_i``, ``lisa_z``, ``lisa_p`` and
        ``lisa_quadrant`` (1 HH, 2 LH, 3 LL, 4 HL, as esda numbers them).

    Examples
    --------
    >>> from geo_violence.weights import Neighbours
    >>> chain = sparse.csr_array(np.diag(np.ones(4), 1) + np.diag(np.ones(4), -1))
    >>> values = pd.Series([5.0, 4.0, 1.0, 0.0, 0.5], index=list("abcde"))
    >>> result = local_moran(values, Neighbours(chain, pd.Index(list("abcde")), "rook"), seed=1)
    >>> result["lisa_quadrant"].tolist()
    [1, 1, 3, 3, 3]
    """
    if permutations < 1:
        raise DataError("local Moran's I needs at least 1 permutation for its p-values")
    x = _aligned(values, neighbours)
    n = len(x)
    z = (x - x.mean()) / x.std()
    cardinality = np.asarray(neighbours.matrix.sum(axis=1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        lag = (neighbours.matrix @ z) / cardinality
    lag = np.nan_to_num(lag)
    scale = (n - 1) / n
    local_i = scale * z * lag
    simulated_lag = conditional_neighbour_sums(
        z, neighbours.matrix, permutations, seed, mean_of_draws=True
    )
    simulated = scale * z[:, None] * simulated_lag
    p = _two_sided_pseudo_p(local_i, simulated, permutations)
    with np.errstate(invalid="ignore", divide="ignore"):
        lisa_z = (local_i - simulated.mean(axis=1)) / simulated.std(axis=1)
    quadrant = np.select(
        [(z > 0) & (lag > 0), (z < 0) & (lag > 0), (z < 0) & (lag < 0), (z > 0) & (lag < 0)],
        [1, 2, 3, 4],
        default=0,
    )
    return pd.DataFrame(
        {"lisa_i": local_i, "lisa_z": lisa_z, "lisa_p": p, "lisa_quadrant": quadrant},
        index=neighbours.unit_ids,
    )


def conditional_neighbour_sums(
    values: np.ndarray,
    adjacency: sparse.csr_array,
    permutations: int,
    seed: int | None,
    *,
    mean_of_draws: bool,
) -> np.ndarray:
    """For each unit, ``permutations`` random neighbourhoods drawn from the other units.

    Unit ``i`` with ``k_i`` neighbours gets, in each permutation, ``k_i`` values drawn without
    replacement from the values of the other ``n - 1`` units (its own value stays fixed: a
    conditional permutation). As in esda, one random ordering of ``n - 1`` positions serves each
    permutation for every unit, the positions skipping the unit itself.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, permutations)``: the sum (or the mean, with ``mean_of_draws``) of the draws.

    Examples
    --------
    >>> adjacency = sparse.csr_array(np.ones((3, 3)) - np.eye(3))
    >>> sums = conditional_neighbour_sums(np.array([1.0, 2.0, 4.0]), adjacency, 5, 0,
    ...                                   mean_of_draws=False)
    >>> sums[0].tolist()  # unit 0 always draws both others: 2 + 4
    [6.0, 6.0, 6.0, 6.0, 6.0]
    """
    n = len(values)
    cardinality = np.asarray(adjacency.sum(axis=1)).ravel().astype(np.int64)
    k_max = int(cardinality.max()) if n else 0
    result = np.zeros((n, permutations))
    if k_max == 0:
        return result
    rng = np.random.default_rng(seed)
    orderings = rng.permuted(np.tile(np.arange(n - 1), (permutations, 1)), axis=1)[:, :k_max]
    # position r among the n - 1 others of unit i is unit r when r < i, else unit r + 1
    before_unit = values[orderings]
    after_unit = values[orderings + 1]
    for k in np.unique(cardinality[cardinality > 0]):
        units = np.flatnonzero(cardinality == k)
        drawn_positions = orderings[None, :, :k]
        chunk = max(1, PERMUTATION_CHUNK_VALUES // (permutations * int(k)))
        for first in range(0, len(units), chunk):
            block = units[first : first + chunk]
            drawn = np.where(
                drawn_positions < block[:, None, None],
                before_unit[None, :, :k],
                after_unit[None, :, :k],
            )
            result[block] = drawn.sum(axis=2)
    if mean_of_draws:
        with np.errstate(invalid="ignore", divide="ignore"):
            result = np.nan_to_num(result / cardinality[:, None])
    return result


def _two_sided_pseudo_p(observed: np.ndarray, simulated: np.ndarray, permutations: int):
    larger = (simulated >= observed[:, None]).sum(axis=1)
    smaller = (simulated <= observed[:, None]).sum(axis=1)
    return np.minimum(1.0, 2 * (np.minimum(larger, smaller) + 1.0) / (permutations + 1.0))
