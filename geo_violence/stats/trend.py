"""Trend of every unit's series at once: Mann-Kendall with the tie correction, and Sen's slope.

No loop over units: the statistic is accumulated lag by lag over the whole ``(units, steps)``
array, the ties are counted on the sorted rows, and Sen's slope takes the median over all pairs of
steps, a block of units at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Pair slopes computed at once for Sen's slope (bounds a block to about 64 MB).
SEN_BLOCK_VALUES = 8_000_000


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall results, one value per series.

    Attributes
    ----------
    s : numpy.ndarray
        The statistic ``S = sum_{a<b} sign(x_b - x_a)``.
    tau : numpy.ndarray
        Kendall's tau-b between time and the series (ties in the series accounted for).
    p : numpy.ndarray
        Two-sided p-value of the normal approximation with the tie-corrected variance and the
        continuity correction: ``Z = (S - sign(S)) / sqrt(var S)``.
    sen_slope : numpy.ndarray
        Median of ``(x_b - x_a) / (b - a)`` over all pairs ``a < b``.
    """

    s: np.ndarray
    tau: np.ndarray
    p: np.ndarray
    sen_slope: np.ndarray


def mann_kendall(series: np.ndarray) -> MannKendall:
    """Mann-Kendall trend test and Sen's slope of each row of ``series``.

    The variance of ``S`` is ``(n (n-1) (2n+5) - sum_g t_g (t_g-1) (2 t_g+5)) / 18`` with ``t_g``
    the sizes of the groups of tied values. NaN values are left out of the pairs (and of ``n``).

    Parameters
    ----------
    series : numpy.ndarray
        Shape ``(n_series, n_steps)``, in time order.

    Returns
    -------
    MannKendall

    Examples
    --------
    >>> result = mann_kendall(np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 1.0, 3.0, 1.0, 3.0]]))
    >>> result.s.tolist(), result.tau.round(3).tolist(), result.sen_slope.tolist()
    ([10.0, 0.0], [1.0, 0.0], [1.0, 0.0])
    >>> round(float(result.p[0]), 4)
    0.0275
    """
    values = np.asarray(series, dtype=float)
    if values.ndim != 2:
        raise ValueError("series must be 2-dimensional: (series, steps)")
    n_series, n_steps = values.shape
    s = np.zeros(n_series)
    for lag in range(1, n_steps):
        later, earlier = values[:, lag:], values[:, :-lag]
        s += np.count_nonzero(later > earlier, axis=1) - np.count_nonzero(later < earlier, axis=1)
    n = np.isfinite(values).sum(axis=1).astype(float)
    tie_variance, tie_pairs = _tie_terms(values)
    variance = (n * (n - 1) * (2 * n + 5) - tie_variance) / 18
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(variance > 0, (s - np.sign(s)) / np.sqrt(variance), 0.0)
        pairs = n * (n - 1) / 2
        tau = s / np.sqrt(pairs * (pairs - tie_pairs))
    p = 2 * stats.norm.sf(np.abs(z))
    p = np.where(n >= 2, p, np.nan)
    return MannKendall(s=s, tau=tau, p=p, sen_slope=sen_slopes(values))


def _tie_terms(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: ``sum t(t-1)(2t+5)`` and ``sum t(t-1)/2`` over groups of tied finite values."""
    ordered = np.sort(values, axis=1)  # NaN last
    n_series, n_steps = ordered.shape
    same = (ordered[:, 1:] == ordered[:, :-1]) & np.isfinite(ordered[:, 1:])
    # a group starts wherever a value differs from the one before it
    starts = np.ones((n_series, n_steps), dtype=bool)
    starts[:, 1:] = ~same
    group_id = np.cumsum(starts.ravel()) - 1
    sizes = np.bincount(group_id)
    row_of_group = np.repeat(np.arange(n_series), starts.sum(axis=1))
    finite_group = np.isfinite(ordered.ravel()[np.flatnonzero(starts.ravel())])
    t = sizes.astype(float) * finite_group
    variance_term = np.bincount(row_of_group, weights=t * (t - 1) * (2 * t + 5), minlength=n_series)
    pair_term = np.bincount(row_of_group, weights=t * (t - 1) / 2, minlength=n_series)
    return variance_term, pair_term


def sen_slopes(values: np.ndarray) -> np.ndarray:
    """Sen's slope of each row: the median slope over all pairs of steps (NaN pairs left out).

    Examples
    --------
    >>> sen_slopes(np.array([[0.0, 1.0, 2.0, 10.0]])).round(3).tolist()
    [2.167]
    """
    n_series, n_steps = values.shape
    later, earlier = np.triu_indices(n_steps, k=1)
    later, earlier = earlier, later  # triu gives (row < column): the column is the later step
    gaps = (later - earlier).astype(float)
    result = np.full(n_series, np.nan)
    if len(gaps) == 0:
        return result
    block = max(1, SEN_BLOCK_VALUES // len(gaps))
    for first in range(0, n_series, block):
        rows = values[first : first + block]
        slopes = (rows[:, later] - rows[:, earlier]) / gaps
        if np.isnan(slopes).any():
            result[first : first + block] = np.nanmedian(slopes, axis=1)
        else:
            result[first : first + block] = np.median(slopes, axis=1)
    return result
