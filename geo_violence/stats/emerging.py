"""Emerging hot spot analysis: space-time Gi*, FDR over every bin, Mann-Kendall, categories.

The method of ``shared/specs/emerging-hotspots.md``, vectorised over the whole cube: the
neighbourhood sums are one sparse product and a windowed cumulative sum, the moments of the three
global windows are column sums, the trend test runs on every unit at once.

Category rules (hot family; the cold family mirrors them, the trend's sign reversed). ``H`` and
``C`` are the fractions of steps that were hot and cold, "last" the final step. A unit hot at the
last step gets a hot category, one cold at the last step a cold one; a unit significant neither
way at the last step can only be historical or no pattern. Within a family the rules are checked
in this order, the first match winning: 1, 2, 3, 5, 4, 7, 6.

==== ======================= ==============================================================
code name                    rule
==== ======================= ==============================================================
1    new hot spot            hot at last; never hot before
2    consecutive hot spot    one unbroken run of >= 2 hot steps ending at last; never hot
                             before that run; ``H < persistence``
3    intensifying hot spot   ``H >= persistence``; hot at last; significant upward trend
5    diminishing hot spot    ``H >= persistence``; hot at last; significant downward trend
4    persistent hot spot     ``H >= persistence``; hot at last; no significant trend
7    oscillating hot spot    hot at last; cold at some earlier step; ``H < persistence``
6    sporadic hot spot       hot at last; hot before but not in one run; ``H < persistence``;
                             never cold
8    historical hot spot     not significant at last; ``H >= persistence``
0    no pattern              none of the above
==== ======================= ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..errors import DataError, OptionError
from .permutation import conditional_draw_sums, two_sided_pseudo_p
from .significance import adjust_p, gi_classes
from .trend import mann_kendall

#: The global windows whose mean and standard deviation standardise a bin.
WINDOWS = ("cube", "step", "neighbourhood")
#: The fewest steps the trend test is run on.
MIN_STEPS = 10

CATEGORY_NAMES = {
    1: "new hot spot",
    2: "consecutive hot spot",
    3: "intensifying hot spot",
    4: "persistent hot spot",
    5: "diminishing hot spot",
    6: "sporadic hot spot",
    7: "oscillating hot spot",
    8: "historical hot spot",
    0: "no pattern",
    -1: "new cold spot",
    -2: "consecutive cold spot",
    -3: "intensifying cold spot",
    -4: "persistent cold spot",
    -5: "diminishing cold spot",
    -6: "sporadic cold spot",
    -7: "oscillating cold spot",
    -8: "historical cold spot",
}


@dataclass(frozen=True)
class EmergingOptions:
    """Options of the emerging hot spot analysis.

    Attributes
    ----------
    time_window : int
        ``K``: the neighbours at steps ``t-K .. t`` are neighbours of ``(i, t)`` (backward only).
    window : {"cube", "step", "neighbourhood"}
        Whose mean and standard deviation standardise each bin: the whole cube (ArcGIS's
        default), the bin's own step, or the steps ``t-K .. t``.
    permutations : int
        0 for analytic two-sided normal p-values, else that many conditional permutations drawn
        from the same window.
    seed : int
        Seed of the permutations.
    fdr : {"bh", "bonferroni", "none"}
        Correction over all unit-steps.
    alpha : float
        Level at which a bin is hot or cold (after correction).
    persistence : float
        The share of steps that makes a unit persistent, intensifying, diminishing or historical.
    trend_alpha : float
        Level of the Mann-Kendall test.
    drop_empty : bool
        Leave units with no event at all out of the statistics (they stay in the output as
        "no pattern"), as ArcGIS does.
    """

    time_window: int = 1
    window: str = "cube"
    permutations: int = 0
    seed: int = 12345
    fdr: str = "bh"
    alpha: float = 0.05
    persistence: float = 0.9
    trend_alpha: float = 0.05
    drop_empty: bool = False


def space_time_gi_star(
    values: np.ndarray,
    adjacency: sparse.csr_array,
    *,
    time_window: int = 1,
    window: str = "cube",
) -> np.ndarray:
    """Gi* z-score of every bin of a ``(units, steps)`` array, binary space-time neighbours.

    The neighbourhood of ``(i, t)`` is ``i`` and its spatial neighbours at the steps
    ``max(0, t-K) .. t``; with ``n``, ``xbar``, ``S`` the size, mean and population standard
    deviation of the global window, and ``|N|`` the size of the neighbourhood::

        z = (sum_N x - xbar |N|) / (S sqrt((n |N| - |N|^2) / (n - 1)))

    Parameters
    ----------
    values : numpy.ndarray
        Counts (or rates), shape ``(n_units, n_steps)``.
    adjacency : scipy.sparse.csr_array
        Binary spatial neighbours, without the unit itself.
    time_window : int
        ``K``.
    window : {"cube", "step", "neighbourhood"}
        The global window.

    Returns
    -------
    numpy.ndarray
        z-scores, shape ``(n_units, n_steps)``; NaN where the window has no variance or the
        neighbourhood is the whole window.

    Examples
    --------
    >>> chain = sparse.csr_array(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    >>> z = space_time_gi_star(np.array([[1.0, 2.0], [2.0, 4.0], [6.0, 9.0]]), chain,
    ...                        time_window=0, window="step")
    >>> z[:, 0].round(4).tolist()  # step 0 alone is the 1-step example of local_gi_star
    [-1.3887, nan, 0.9258]
    """
    if window not in WINDOWS:
        raise OptionError.expected("window", window, WINDOWS)
    if time_window < 0:
        raise OptionError(f"'time_window' was {time_window} but must be 0 or more")
    x = np.asarray(values, dtype=float)
    n_units, n_steps = x.shape
    star = adjacency + sparse.eye_array(n_units, format="csr")
    spatial_sum = np.asarray(star @ x)
    neighbourhood_sum = _windowed_sum(spatial_sum, time_window)
    steps_in = np.minimum(np.arange(n_steps), time_window) + 1  # steps in the neighbourhood
    size = np.asarray(star.sum(axis=1)).ravel()[:, None] * steps_in[None, :]
    count, mean, spread = _window_moments(x, time_window, window)
    room = count * size - size**2  # zero or less: the neighbourhood fills the whole window
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (neighbourhood_sum - mean * size) / (spread * np.sqrt(room / (count - 1)))
    return np.where((spread > 0) & (room > 0), z, np.nan)


def _windowed_sum(values: np.ndarray, time_window: int) -> np.ndarray:
    """Sum over the steps ``t-K .. t`` of each column ``t`` (fewer at the start)."""
    running = np.cumsum(values, axis=1)
    result = running.copy()
    if time_window + 1 < values.shape[1]:
        result[:, time_window + 1 :] -= running[:, : -(time_window + 1)]
    return result


def _window_moments(
    x: np.ndarray, time_window: int, window: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Size, mean and population standard deviation of each bin's global window, broadcastable
    to ``(n_units, n_steps)``."""
    n_units, n_steps = x.shape
    if window == "cube":
        return (
            np.array([[x.size]], dtype=float),
            np.array([[x.mean()]]),
            np.array([[x.std()]]),
        )
    column_sum = x.sum(axis=0)
    column_squares = (x**2).sum(axis=0)
    lag = 0 if window == "step" else time_window
    steps_in = np.minimum(np.arange(n_steps), lag) + 1
    count = (n_units * steps_in).astype(float)
    mean = _windowed_sum(column_sum[None, :], lag)[0] / count
    second = _windowed_sum(column_squares[None, :], lag)[0] / count
    spread = np.sqrt(np.maximum(second - mean**2, 0.0))
    spread = np.where(spread > 1e-12 * np.maximum(1.0, np.abs(mean)), spread, 0.0)
    return count[None, :], mean[None, :], spread[None, :]


def space_time_permutation_p(
    values: np.ndarray,
    adjacency: sparse.csr_array,
    *,
    time_window: int,
    window: str,
    permutations: int,
    seed: int | None,
) -> np.ndarray:
    """Two-sided conditional-permutation p-value of every bin's neighbourhood sum.

    Each bin keeps its own value; the rest of its neighbourhood (``|N| - 1`` values) is drawn
    without replacement from the other bins of the same global window as its z-score uses (one
    window per run).

    Examples
    --------
    >>> chain = sparse.csr_array(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    >>> x = np.arange(36.0).reshape(3, 12)
    >>> p = space_time_permutation_p(x, chain, time_window=1, window="cube", permutations=99,
    ...                              seed=0)
    >>> p.shape, bool((p > 0).all() and (p <= 1).all())
    ((3, 12), True)
    """
    x = np.asarray(values, dtype=float)
    n_units, n_steps = x.shape
    rng = np.random.default_rng(seed)
    star = adjacency + sparse.eye_array(n_units, format="csr")
    observed = _windowed_sum(np.asarray(star @ x), time_window)
    steps_in = np.minimum(np.arange(n_steps), time_window) + 1
    size = (np.asarray(star.sum(axis=1)).ravel()[:, None] * steps_in[None, :]).astype(np.int64)
    p = np.empty((n_units, n_steps))
    if window == "cube":
        pool = x.ravel()
        own = np.arange(x.size)
        simulated = conditional_draw_sums(pool, own, size.ravel() - 1, permutations, rng)
        simulated += pool[:, None]
        return two_sided_pseudo_p(observed.ravel(), simulated).reshape(n_units, n_steps)
    lag = 0 if window == "step" else time_window
    for step in range(n_steps):
        first = max(0, step - lag)
        pool = x[:, first : step + 1].ravel(order="F")  # column by column
        own = np.arange(n_units) + (step - first) * n_units
        draws = np.minimum(size[:, step] - 1, len(pool) - 1)
        simulated = conditional_draw_sums(pool, own, draws, permutations, rng) + x[:, step, None]
        p[:, step] = two_sided_pseudo_p(observed[:, step], simulated)
    return p


@dataclass
class EmergingResult:
    """What :func:`emerging_hotspots` gives.

    Attributes
    ----------
    units : pandas.DataFrame
        One row per unit (indexed by unit id): ``category_code``, ``category``,
        ``hot_fraction``, ``cold_fraction``, ``n_hot``, ``n_cold``, ``first_hot``, ``last_hot``
        (step numbers from 0, -1 if never), ``last_z``, ``last_p``, ``mk_tau``, ``mk_p``,
        ``sen_slope``, ``total``, ``last_count``.
    z, p, q : numpy.ndarray
        Per bin, shape ``(n_units, n_steps)`` (NaN for units left out).
    bins : numpy.ndarray
        Per bin: -3..3, hot or cold at 99/95/90% confidence after correction.
    hot, cold : numpy.ndarray of bool
        Per bin: significant at ``alpha`` after correction, with z above or below zero.
    notes : list of str
    """

    units: pd.DataFrame
    z: np.ndarray
    p: np.ndarray
    q: np.ndarray
    bins: np.ndarray
    hot: np.ndarray
    cold: np.ndarray
    notes: list


def emerging_hotspots(
    counts: np.ndarray,
    adjacency: sparse.csr_array,
    unit_ids: pd.Index,
    *,
    options: EmergingOptions | None = None,
) -> EmergingResult:
    """The whole analysis: space-time Gi*, FDR over every bin, Mann-Kendall, categories.

    Parameters
    ----------
    counts : numpy.ndarray
        Shape ``(n_units, n_steps)``: every unit in every step, zeros included.
    adjacency : scipy.sparse.csr_array
        Binary spatial neighbours of the units (without the unit itself).
    unit_ids : pandas.Index
        The units, in the rows' order.
    options : EmergingOptions, optional
        The method's parameters (the defaults of :class:`EmergingOptions` when not given).

    Returns
    -------
    EmergingResult

    Raises
    ------
    DataError
        Fewer than 10 steps, or a cube with no variance.

    Examples
    --------
    >>> ring = np.roll(np.eye(8), 1, axis=1) + np.roll(np.eye(8), -1, axis=1)
    >>> counts = np.ones((8, 20)); counts[0, -3:] = 40
    >>> result = emerging_hotspots(counts, sparse.csr_array(ring), pd.Index(list("abcdefgh")))
    >>> result.units.loc["a", "category"]
    'consecutive hot spot'
    """
    options = options or EmergingOptions()
    x = np.asarray(counts, dtype=float)
    n_units, n_steps = x.shape
    if n_steps < MIN_STEPS:
        raise DataError(
            f"emerging hot spots need at least {MIN_STEPS} steps; the cube has {n_steps} "
            "(use a longer period or a shorter step)"
        )
    notes: list[str] = []
    totals = x.sum(axis=1)
    tested = np.ones(n_units, dtype=bool)
    if options.drop_empty:
        tested = totals > 0
        if (~tested).any():
            notes.append(
                f"{int((~tested).sum())} units with no event left out of the statistics "
                "(--drop-empty); they are 'no pattern'"
            )
    x_tested = x[tested]
    if x_tested.size == 0 or np.ptp(x_tested) == 0:
        raise DataError(
            "every bin of the cube has the same value: with zero variance there are no hot or "
            "cold spots (choose a longer period, other units or other incidents)"
        )
    sub_adjacency = sparse.csr_array(adjacency)[tested][:, tested]
    z_tested = space_time_gi_star(
        x_tested, sub_adjacency, time_window=options.time_window, window=options.window
    )
    if options.permutations:
        p_tested = space_time_permutation_p(
            x_tested,
            sub_adjacency,
            time_window=options.time_window,
            window=options.window,
            permutations=options.permutations,
            seed=options.seed,
        )
        p_tested = np.where(np.isnan(z_tested), np.nan, p_tested)
    else:
        p_tested = 2 * stats.norm.sf(np.abs(z_tested))
    if options.window != "cube":
        flat_steps = int(np.isnan(z_tested).all(axis=0).sum())
        if flat_steps:
            notes.append(f"{flat_steps} steps have no variance in their window: no hot spots there")

    z = np.full((n_units, n_steps), np.nan)
    p = np.full((n_units, n_steps), np.nan)
    z[tested], p[tested] = z_tested, p_tested
    q = adjust_p(p.ravel(), options.fdr).reshape(n_units, n_steps)
    significant = q <= options.alpha
    hot = significant & (z > 0)
    cold = significant & (z < 0)
    bins = gi_classes(z, q)

    trend = mann_kendall(z_tested)
    tau = np.full(n_units, np.nan)
    trend_p = np.full(n_units, np.nan)
    slope = np.full(n_units, np.nan)
    tau[tested], trend_p[tested], slope[tested] = trend.tau, trend.p, trend.sen_slope

    codes = classify(
        hot,
        cold,
        trend_p=trend_p,
        trend_tau=tau,
        persistence=options.persistence,
        trend_alpha=options.trend_alpha,
    )
    codes[~tested] = 0
    units = pd.DataFrame(
        {
            "category_code": codes,
            "category": [CATEGORY_NAMES[int(code)] for code in codes],
            "hot_fraction": hot.mean(axis=1),
            "cold_fraction": cold.mean(axis=1),
            "n_hot": hot.sum(axis=1),
            "n_cold": cold.sum(axis=1),
            "first_hot": _first_true(hot),
            "last_hot": _last_true(hot),
            "last_z": z[:, -1],
            "last_p": p[:, -1],
            "mk_tau": tau,
            "mk_p": trend_p,
            "sen_slope": slope,
            "total": totals,
            "last_count": x[:, -1],
        },
        index=unit_ids,
    )
    return EmergingResult(units, z, p, q, bins, hot, cold, notes)


def classify(
    hot: np.ndarray,
    cold: np.ndarray,
    *,
    trend_p: np.ndarray,
    trend_tau: np.ndarray,
    persistence: float = 0.9,
    trend_alpha: float = 0.05,
) -> np.ndarray:
    """The category code of every unit from its hot and cold steps and its trend.

    Parameters
    ----------
    hot, cold : numpy.ndarray of bool
        Shape ``(n_units, n_steps)``: significant bins with z above / below zero.
    trend_p, trend_tau : numpy.ndarray
        The Mann-Kendall p-value and tau of each unit's z-scores.
    persistence : float
        The share of steps for persistent, intensifying, diminishing and historical.
    trend_alpha : float
        The trend test's level.

    Returns
    -------
    numpy.ndarray of int
        Codes -8..8 (see the module docstring).

    Examples
    --------
    >>> hot = np.array([[False] * 9 + [True], [True] * 10])
    >>> classify(hot, np.zeros_like(hot), trend_p=np.array([0.5, 0.5]),
    ...          trend_tau=np.array([0.0, 0.0])).tolist()
    [1, 4]
    """
    upward = (trend_p < trend_alpha) & (trend_tau > 0)
    downward = (trend_p < trend_alpha) & (trend_tau < 0)
    hot_codes = _family_codes(hot, cold, upward, downward, persistence)
    cold_codes = _family_codes(cold, hot, downward, upward, persistence)
    codes = np.where(hot[:, -1], hot_codes, np.where(cold[:, -1], -cold_codes, 0))
    neither = ~hot[:, -1] & ~cold[:, -1]
    historical_hot = neither & (hot.mean(axis=1) >= persistence)
    historical_cold = neither & (cold.mean(axis=1) >= persistence)
    codes = np.where(historical_hot, 8, np.where(historical_cold, -8, codes))
    return codes.astype(np.int64)


def _family_codes(
    own: np.ndarray,
    other: np.ndarray,
    strengthening: np.ndarray,
    weakening: np.ndarray,
    persistence: float,
) -> np.ndarray:
    """Codes 1..7 for units significant (``own``) at the last step; 0 where none applies.

    ``strengthening`` is the significant trend that makes the family intensify (upward for hot
    spots, downward for cold ones), ``weakening`` the one that makes it diminish.
    """
    fraction = own.mean(axis=1)
    count = own.sum(axis=1)
    final_run = np.cumprod(own[:, ::-1], axis=1).sum(axis=1)
    alone_in_run = count == final_run  # no own step before the final run
    persistent = fraction >= persistence
    other_before = other[:, :-1].any(axis=1)
    rules = [
        (count == 1, 1),  # new: this step is the only one
        ((final_run >= 2) & alone_in_run & ~persistent, 2),
        (persistent & strengthening, 3),
        (persistent & weakening, 5),
        (persistent, 4),
        (other_before & ~persistent, 7),
        ((count > final_run) & ~persistent & ~other_before, 6),
    ]
    codes = np.zeros(len(own), dtype=np.int64)
    decided = np.zeros(len(own), dtype=bool)
    for condition, code in rules:
        take = condition & ~decided
        codes[take] = code
        decided |= take
    return codes


def _first_true(mask: np.ndarray) -> np.ndarray:
    return np.where(mask.any(axis=1), mask.argmax(axis=1), -1)


def _last_true(mask: np.ndarray) -> np.ndarray:
    last = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
    return np.where(mask.any(axis=1), last, -1)
