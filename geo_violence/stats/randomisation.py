"""Exact p-values of Gi* under its own null: the values placed at random among the units.

Gi*'s z-score standardises a neighbourhood's sum by the mean and variance it would have if the
``n`` values were dealt to the units at random (the *randomisation* null): the sum of ``W`` values
drawn without replacement from the ``n`` observed ones. Its normal tail is a poor stand-in when a
few values are large (a period's counts per unit), and a count distribution with the same mean
and variance is a better one, but still off by a factor of two either way. For whole-number
values the sum's distribution itself can be written down: the number of ``W``-subsets with sum
``s`` is the coefficient of ``y^W t^s`` in ``prod_v (1 + y t^v)^{m_v}`` over the distinct values
``v`` (``m_v`` units each), divided by ``C(n, W)``. One pass over the distinct values builds that
table for every ``W`` up to the largest neighbourhood; each unit's p-value doubles the smaller of
its sum's two tails (both include the observed sum), so it is valid however discrete the values.

The table has (largest ``W`` + 1) x (largest possible sum + 1) cells and is updated once per
distinct value; beyond :data:`MAX_CELLS` cells or :data:`MAX_WORK` cell updates (dense counts,
where the normal tail is good anyway) the caller uses another method (:func:`fits`).
"""

from __future__ import annotations

import numpy as np
from scipy import special

#: The largest table built (cells of 8 bytes: 32 MB), and the most cell updates (cells x distinct
#: values) spent on one: about a second.
MAX_CELLS = 4_000_000
MAX_WORK = 200_000_000


def table_size(values: np.ndarray, sizes: np.ndarray) -> tuple[int, int]:
    """The cells of the table :func:`randomisation_p` would build, and the cell updates it would
    make (the cells times the distinct values): to check before building it.

    Examples
    --------
    >>> table_size(np.array([0, 1, 5, 2]), np.array([2, 3]))  # sizes 0-3 x sums 0-8; 4 values
    (36, 144)
    """
    values = np.asarray(values, dtype=np.int64)
    largest = min(int(np.max(sizes)), len(values))
    cells = (largest + 1) * (int(np.sort(values)[::-1][:largest].sum()) + 1)
    return cells, cells * len(np.unique(values))


def fits(values: np.ndarray, sizes: np.ndarray) -> bool:
    """Whether the table for ``values`` and neighbourhoods of ``sizes`` is within
    :data:`MAX_CELLS` and :data:`MAX_WORK`.

    Examples
    --------
    >>> fits(np.array([0, 1, 5, 2]), np.array([2, 3])), fits(np.array([0, 10**9]), np.array([2]))
    (True, False)
    """
    cells, work = table_size(values, sizes)
    return cells <= MAX_CELLS and work <= MAX_WORK


def randomisation_p(values: np.ndarray, sizes: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Two-sided exact p-value of each neighbourhood sum under the randomisation null.

    Parameters
    ----------
    values : numpy.ndarray
        The ``n`` values dealt at random: whole numbers of at least 0.
    sizes : numpy.ndarray of int
        Each tested neighbourhood's number of units ``W`` (from 1 to ``n``).
    sums : numpy.ndarray
        Each neighbourhood's observed sum.

    Returns
    -------
    numpy.ndarray
        ``min(1, 2 min(P(S >= k), P(S <= k)))`` with ``S`` the sum of ``W`` of the values drawn
        without replacement; NaN where ``W`` is ``n`` (the sum is fixed: nothing to test).

    Examples
    --------
    Four values, pairs drawn from them: of the 6 pairs, one sums to 9 (4 + 5) and one to 1.

    >>> randomisation_p(np.array([0, 1, 4, 5]), np.array([2, 2, 2]), np.array([9, 1, 5]))
    array([0.33333333, 0.33333333, 1.        ])
    """
    values = np.asarray(values, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.int64)
    sums = np.rint(np.asarray(sums, dtype=float)).astype(np.int64)
    n = len(values)
    ways = subset_sums(values, int(sizes.max()))
    upper = np.cumsum(ways[:, ::-1], axis=1)[:, ::-1]  # subsets of w values summing >= s
    lower = np.cumsum(ways, axis=1)
    total = special.comb(n, np.arange(ways.shape[0]))
    last = ways.shape[1] - 1
    at = np.clip(sums, 0, last)
    p_upper = np.where(sums > last, 0.0, upper[sizes, at]) / total[sizes]
    p_lower = np.where(sums < 0, 0.0, lower[sizes, at]) / total[sizes]
    p = np.minimum(1.0, 2 * np.minimum(p_upper, p_lower))
    return np.where(sizes >= n, np.nan, p)


def subset_sums(values: np.ndarray, largest: int) -> np.ndarray:
    """How many subsets of ``w`` of the values sum to ``s``, for ``w`` up to ``largest``: a
    table of shape ``(largest + 1, largest possible sum + 1)`` (floats: the counts of subsets
    outgrow integers, and only their ratios are used).

    Examples
    --------
    >>> subset_sums(np.array([1, 1, 2]), 2)  # {}, {1}x2 {2}, {1,1} {1,2}x2
    array([[1., 0., 0., 0.],
           [0., 2., 1., 0.],
           [0., 0., 1., 2.]])
    """
    values = np.asarray(values, dtype=np.int64)
    largest = min(int(largest), len(values))
    top = int(np.sort(values)[::-1][:largest].sum())
    ways = np.zeros((largest + 1, top + 1))
    ways[0, 0] = 1.0
    distinct, multiplicity = np.unique(values, return_counts=True)
    for value, count in zip(distinct.tolist(), multiplicity.tolist(), strict=True):
        before = ways.copy()
        # take i of the ``count`` units of this value: C(count, i) ways, i * value added
        for i in range(1, min(count, largest) + 1):
            shift = i * value
            if shift > top:
                break
            taken = before[: largest + 1 - i, : top + 1 - shift]
            ways[i:, shift:] += special.comb(count, i) * taken
    return ways
