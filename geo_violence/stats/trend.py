"""Trend of every unit's series at once: Mann-Kendall with the tie correction, and Sen's slope.

No loop over units or pairs in Python: for a block of units, the slopes of every pair of steps are
written lag by lag into one buffer (a slice subtraction per lag), ``S`` is counted on their signs
and Sen's slope is selected from the same buffer with ``numpy.partition``. Blocks run on a thread
pool (numpy releases the GIL in these loops), so the work is spread over the machine's cores while
memory stays bounded by ``PAIR_BUFFER_BYTES`` per thread. The ties are counted on the sorted rows.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Bytes of pair slopes one thread holds at once (a block of units times all pairs of steps).
PAIR_BUFFER_BYTES = 64 * 2**20


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
    s, sen_slope = pairwise_trend(values)
    n = np.isfinite(values).sum(axis=1).astype(float)
    tie_variance, tie_pairs = _tie_terms(values)
    variance = (n * (n - 1) * (2 * n + 5) - tie_variance) / 18
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(variance > 0, (s - np.sign(s)) / np.sqrt(variance), 0.0)
        pairs = n * (n - 1) / 2
        tau = s / np.sqrt(pairs * (pairs - tie_pairs))
    p = 2 * stats.norm.sf(np.abs(z))
    p = np.where(n >= 2, p, np.nan)
    return MannKendall(s=s, tau=tau, p=p, sen_slope=sen_slope)


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


def pairwise_trend(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall ``S`` and Sen's slope of each row, from the slopes of every pair of steps.

    Pairs with a NaN are left out of both.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(n_series, n_steps)``, in time order.

    Returns
    -------
    s : numpy.ndarray
        ``sum_{a<b} sign(x_b - x_a)`` per row.
    sen_slope : numpy.ndarray
        Median of ``(x_b - x_a) / (b - a)`` over the pairs ``a < b`` (NaN with no pair).

    Examples
    --------
    >>> s, slope = pairwise_trend(np.array([[0.0, 1.0, 2.0, 10.0], [3.0, 2.0, np.nan, 0.0]]))
    >>> s.tolist(), slope.round(3).tolist()
    ([6.0, -3.0], [2.167, -1.0])
    """
    values = np.asarray(values, dtype=float)
    n_series, n_steps = values.shape
    s = np.zeros(n_series)
    slope = np.full(n_series, np.nan)
    n_pairs = n_steps * (n_steps - 1) // 2
    if n_pairs == 0 or n_series == 0:
        return s, slope
    rows_per_block = max(1, PAIR_BUFFER_BYTES // (8 * n_pairs))
    starts = range(0, n_series, rows_per_block)

    def run(first: int) -> None:
        block = slice(first, first + rows_per_block)
        s[block], slope[block] = _pairwise_block(values[block], n_pairs)

    workers = min(len(starts), os.cpu_count() or 1)
    if workers <= 1:
        for first in starts:
            run(first)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, starts))
    return s, slope


def _pairwise_block(rows: np.ndarray, n_pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """``S`` and Sen's slope of a block of rows (see :func:`pairwise_trend`)."""
    n_steps = rows.shape[1]
    slopes = np.empty((rows.shape[0], n_pairs))
    position = 0
    for lag in range(1, n_steps):
        width = n_steps - lag
        pairs = slopes[:, position : position + width]
        np.subtract(rows[:, lag:], rows[:, :width], out=pairs)
        pairs /= lag
        position += width
    s = (np.count_nonzero(slopes > 0, axis=1) - np.count_nonzero(slopes < 0, axis=1)).astype(float)
    has_nan = np.isnan(slopes).any(axis=1)
    median = np.full(rows.shape[0], np.nan)
    if (~has_nan).any():
        complete = slopes[~has_nan]
        middle = [(n_pairs - 1) // 2, n_pairs // 2]
        selected = np.partition(complete, middle, axis=1)
        median[~has_nan] = (selected[:, middle[0]] + selected[:, middle[1]]) / 2
    if has_nan.any():
        partial = slopes[has_nan]
        finite = np.isfinite(partial).any(axis=1)
        median[np.flatnonzero(has_nan)[finite]] = np.nanmedian(partial[finite], axis=1)
    return s, median
