"""Conditional permutations, vectorised: random neighbourhoods drawn from a pool of values."""

from __future__ import annotations

import numpy as np

from ..progress import Progress

#: Draws computed at once (bounds the memory of a block to about 64 MB).
BLOCK_VALUES = 8_000_000


def conditional_draw_sums(
    pool: np.ndarray,
    own_position: np.ndarray,
    draws: np.ndarray,
    permutations: int,
    rng: np.random.Generator,
    *,
    progress: str | None = None,
) -> np.ndarray:
    """For each item, ``permutations`` sums of ``draws`` values drawn from the pool without it.

    Item ``m`` sits at ``pool[own_position[m]]``; each permutation draws ``draws[m]`` values
    without replacement from the other ``len(pool) - 1`` values (a conditional permutation: the
    item's own value stays out). As in esda, one random ordering of the ``len(pool) - 1`` other
    positions serves every item in a permutation; the ordering's position ``r`` is pool position
    ``r`` before the item and ``r + 1`` from it on, so the item itself is skipped.

    Parameters
    ----------
    pool : numpy.ndarray
        The values to draw from.
    own_position : numpy.ndarray of int
        Each item's position in the pool.
    draws : numpy.ndarray of int
        How many values each item draws (at most ``len(pool) - 1``).
    permutations : int
        Number of permutations.
    rng : numpy.random.Generator
        The random source (seeded by the caller).
    progress : str, optional
        Show a progress line with this name on a terminal (:mod:`geo_violence.progress`).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(own_position), permutations)``.

    Examples
    --------
    >>> sums = conditional_draw_sums(np.array([1.0, 2.0, 4.0]), np.array([0, 2]),
    ...                              np.array([2, 1]), 4, np.random.default_rng(0))
    >>> sums[0].tolist()  # item 0 always draws both others: 2 + 4
    [6.0, 6.0, 6.0, 6.0]
    >>> bool(np.isin(sums[1], [1.0, 2.0]).all())  # item 2 draws one of 1 and 2, never itself
    True
    """
    own_position = np.asarray(own_position, dtype=np.int64)
    draws = np.asarray(draws, dtype=np.int64)
    result = np.zeros((len(own_position), permutations))
    k_max = int(draws.max()) if len(draws) else 0
    if k_max == 0:
        return result
    if k_max > len(pool) - 1:
        raise ValueError(f"cannot draw {k_max} values from {len(pool) - 1} others")
    orderings = _orderings(len(pool) - 1, k_max, permutations, rng)
    before_item = pool[orderings]
    from_item = pool[orderings + 1]
    shown = Progress(progress, total=int((draws > 0).sum()), unit="items") if progress else None
    for k in np.unique(draws[draws > 0]):
        items = np.flatnonzero(draws == k)
        positions = orderings[None, :, :k]
        block = max(1, BLOCK_VALUES // (permutations * int(k)))
        for first in range(0, len(items), block):
            chunk = items[first : first + block]
            drawn = np.where(
                positions < own_position[chunk, None, None],
                before_item[None, :, :k],
                from_item[None, :, :k],
            )
            result[chunk] = drawn.sum(axis=2)
            if shown is not None:
                shown.advance(len(chunk))
    if shown is not None:
        shown.close()
    return result


def _orderings(n_others: int, k_max: int, permutations: int, rng: np.random.Generator):
    """The first ``k_max`` positions of ``permutations`` random orderings of ``n_others``."""
    if k_max * 4 < n_others:
        # a large pool (a whole space-time cube): draw k_max distinct positions, in random order,
        # without shuffling the whole pool each time
        return np.stack(
            [rng.choice(n_others, size=k_max, replace=False) for _ in range(permutations)]
        )
    return rng.permuted(np.tile(np.arange(n_others), (permutations, 1)), axis=1)[:, :k_max]


def two_sided_pseudo_p(observed: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    """Two-sided permutation p-value ``2 (min(larger, smaller) + 1) / (permutations + 1)``, at
    most 1, where ``larger`` counts simulated values at or above the observed one.

    Examples
    --------
    >>> two_sided_pseudo_p(np.array([10.0]), np.arange(99.0)[None, :]).tolist()
    [0.24]
    """
    permutations = simulated.shape[1]
    larger = (simulated >= observed[:, None]).sum(axis=1)
    smaller = (simulated <= observed[:, None]).sum(axis=1)
    return np.minimum(1.0, 2 * (np.minimum(larger, smaller) + 1.0) / (permutations + 1.0))
