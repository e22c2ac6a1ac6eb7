"""Local statistics of one value per unit: Getis-Ord Gi* and local Moran's I.

Plain functions ``f(values, neighbours) -> DataFrame`` whose index is the units' ids. The
formulas are written out here (vectorised over all units, permutations included); the tests check
them against esda to 1e-10.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..errors import DataError, OptionError
from ..units.neighbours import Neighbours
from .permutation import conditional_draw_sums, two_sided_pseudo_p


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
    seed: int | np.random.SeedSequence | None = None,
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
        From :func:`geo_violence.units.neighbours.build_weights`.
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
    >>> from geo_violence.units.neighbours import Neighbours
    >>> chain = sparse.csr_array(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    >>> result = local_gi_star(pd.Series([1.0, 2.0, 6.0], index=["a", "b", "c"]),
    ...                        Neighbours(chain, pd.Index(["a", "b", "c"]), "rook"))
    >>> result["gi_z"].round(4).tolist()
    [-1.3887, nan, 0.9258]
    """
    if permutations < 0:
        raise OptionError(f"'permutations' was {permutations} but must be 0 or more")
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
        simulated = x[:, None] + neighbour_draws(x, adjacency, permutations, seed)
        p = two_sided_pseudo_p(lag, simulated)
    else:
        p = 2 * stats.norm.sf(np.abs(z))
    return pd.DataFrame({"gi_z": z, "gi_p": p}, index=neighbours.unit_ids)


def local_moran(
    values: pd.Series,
    neighbours: Neighbours,
    *,
    permutations: int = 999,
    seed: int | np.random.SeedSequence | None = None,
) -> pd.DataFrame:
    """Local Moran's I with row-standardised weights and conditional permutation p-values.

    With ``z`` the values standardised by their mean and population standard deviation, and
    ``lag_i`` the mean of ``z`` over the neighbours of ``i``: ``I_i = (n - 1) / n z_i lag_i``
    (esda's convention). The p-value is two-sided, ``2 (min(larger, smaller) + 1) /
    (permutations + 1)`` (at most 1): twice esda 2.9's folded ``p_sim``, which tests whichever tail
    the observed value lies in and so flags about 9% of units at the 5% level on data with no
    pattern (esda announces the same change). ``lisa_z`` is ``I`` standardised by the
    permutations' mean and standard deviation.

    Parameters
    ----------
    values : pandas.Series
        One value per unit, indexed by unit id.
    neighbours : Neighbours
        From :func:`geo_violence.units.neighbours.build_weights`.
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
    >>> from geo_violence.units.neighbours import Neighbours
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
    with np.errstate(invalid="ignore", divide="ignore"):
        simulated_lag = np.nan_to_num(
            neighbour_draws(z, neighbours.matrix, permutations, seed) / cardinality[:, None]
        )
    simulated = scale * z[:, None] * simulated_lag
    p = two_sided_pseudo_p(local_i, simulated)
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


def neighbour_draws(
    values: np.ndarray,
    adjacency: sparse.csr_array,
    permutations: int,
    seed: int | np.random.SeedSequence | None,
) -> np.ndarray:
    """For each unit, ``permutations`` sums of as many values as it has neighbours, drawn from
    the other units (a conditional permutation; see ``permutation.conditional_draw_sums``).

    Examples
    --------
    >>> adjacency = sparse.csr_array(np.ones((3, 3)) - np.eye(3))
    >>> neighbour_draws(np.array([1.0, 2.0, 4.0]), adjacency, 3, 0)[0].tolist()
    [6.0, 6.0, 6.0]
    """
    cardinality = np.asarray(adjacency.sum(axis=1)).ravel().astype(np.int64)
    return conditional_draw_sums(
        values,
        np.arange(len(values)),
        cardinality,
        permutations,
        np.random.default_rng(seed),
        progress="permutations",
    )
