"""Where violence is rising and where it is fading, unit by unit, over the whole period.

The model
---------
Each unit's counts ``y_t`` (``t = 0 .. n-1`` steps) follow a quasi-Poisson log-linear trend whose
offset is the city's own yearly cycle::

    log E[y_t] = a + b x_t + log s_t,        Var(y_t) = phi E[y_t]

- ``x_t = (t - (n - 1) / 2) / steps_per_year``: years from the middle of the period, so
  ``exp(b)`` is the **rate ratio per year** (the modelled change in a year).
- ``s_t``, the **season**: the city's factor for the calendar month of step ``t`` (mean 1 over
  the steps), the maximum likelihood fit of the city's totals to a Poisson log-linear model with
  one effect per year of the period and one per calendar month (iterative proportional fitting of
  the year x month table). The yearly cycle shared by the city is in the offset, so it never reads
  as a local trend; the city's changes from year to year are not, so a unit rising with a citywide
  wave is rising. With a period shorter than two yearly cycles, the season is not adjusted (a
  note says so).
- ``b`` is the Poisson maximum likelihood estimate (Newton's method on the profile score, the
  intercept profiled out, all units at once). ``phi`` is Pearson's ``X^2 / (n - 2)`` (McCullagh
  and Nelder 1989, sec. 4.5), never taken below 1 (Farrington et al. 1996; Noufaily et al. 2013):
  a quasi-likelihood (Wedderburn 1974) that keeps the counts as counts and lets each unit have
  its own overdispersion, as crime counts need (Osgood 2000; Berk and MacDonald 2008).
- The interval is ``exp(b +- t_{n-2} sqrt(phi / I))`` with ``I`` the Poisson information (the
  normal quantile when ``phi`` is 1): the quasi-Poisson Wald interval that statsmodels' GLM gives
  with ``scale=phi``. When every event falls in the first or the last step ``b`` is infinite; the
  finite bound then comes from the exact conditional distribution below.

The test
--------
Two questions, each conditional on the unit's total ``N`` (under "no change" the events are then
spread over the steps in proportion to ``s_t``, whatever the unit's level):

- **A trend** (``trend_p_value``): ``K = sum_t t y_t`` is the sum of ``N`` independent draws
  from the season profile -- the conditional score test of ``b = 0``, the discrete-time form of
  the Cox and Lewis (1966) test for a trend in a Poisson process and of Armitage's (1955) trend
  test. For ``N <= exact_max_events`` (50) its distribution is computed exactly (repeated
  convolution), so sparse units get exact tails; above, the normal approximation (the score
  test of statsmodels' GLM). Overdispersion is taken out on the z scale, ``z / sqrt(phi)`` (the
  quasi-score test), referred to Student's t with ``n - 2`` degrees of freedom when ``phi`` is
  estimated above 1.
- **A change of level at some step** (``change_p_value``): the largest likelihood ratio of a
  two-rate model (one rate before a split, one after) against one rate, over the splits that
  leave at least half a year on each side, divided by ``phi`` (Worsley 1986). Exact (dynamic
  programming over the binomial path of the counts) for ``N <= 50``; above, the tail of the
  maximum of a standardised Brownian bridge over the splits (James, James and Siegmund 1987;
  Siegmund 1988). A log-linear trend is a weak test of a late jump (a doubling over the last
  two years of ten has only about half the weight in ``K`` that a split at the jump has); the
  scan is a weak test of a steady drift; each unit gets both.

``p_value = min(1, 2 min(trend_p_value, change_p_value))`` (Bonferroni over the two), adjusted
across units (Benjamini and Hochberg 1995 by default) into ``q_value``. ``direction`` is
``rising`` or ``falling`` where ``q_value <= alpha`` (the sign of the more significant of the
two), else ``stable`` (and always for a unit with no event, whose ratio is NaN). A unit can be
``rising`` by a recent jump while its yearly ratio's interval still holds 1: its
``rate_before_change`` and ``rate_after_change`` then tell the story.

Against the city
----------------
The same model and test with the city's count per step as the offset in place of the season:
``log E[y_t] = c + d x_t + log C_t``, the log-linear model of the unit's **share** of the city's
incidents (the Poisson limit of the logistic trend model; conditional on the city's counts, the
test is Armitage's trend test in proportions). ``share_direction`` says whether the unit's share
rose or fell (a finite-population factor ``(C - N) / (C - 1)`` corrects the normal variance of
a unit holding much of the city). A unit ``rising`` whose share is ``stable`` rose with the
city; one whose share is ``rising`` rose beyond it (``versus_city``).

Where the change began
----------------------
For each rising or falling unit, the two-rate model (rate ``l1 s_t`` before step ``tau``,
``l2 s_t`` from it on). With Jeffreys priors on the rates, each ``tau`` has a closed-form marginal
likelihood (Raftery and Akman 1986); the likelihood is tempered by ``1 / phi`` (the counts scaled
to a Poisson dispersion), the prior on ``tau`` is uniform over the steps whose split goes the
unit's way. ``change_step`` is the posterior mode, ``change_step_low`` .. ``change_step_high``
the equal-tailed credible interval (``confidence``). ``change_kind`` is ``step`` when the two-rate
model beats the log-linear trend by more than its extra parameter costs (Schwarz's criterion,
``(D_trend - D_step) / phi > log n``), else ``gradual`` (then read the date as the middle of a
drift, not the day it began).

Neighbourhoods
--------------
With an adjacency, the same trend and test on each unit's **pooled** series (the unit plus its
neighbours, summed), whose larger counts give power where single units are too sparse (the
``pooled_*`` columns, FDR across units; overlapping sums are positively dependent, under which
Benjamini-Hochberg keeps its level: Benjamini and Yekutieli 2001); and local Moran's I of the
units' trend z (Anselin 1995, conditional permutations), so a block of neighbours rising together
is an ``HH`` ``trend_cluster``.

Labels
------
The meaning of :mod:`geo_violence.stats.shift`'s labels: ``emerging`` (rising, not hot before),
``intensifying`` (rising, hot before), ``fading`` (falling, hot before), ``cooling`` (falling,
not hot before), ``stable``. **Hot before** is decided on the early period, the first third of
the steps: the unit's events then (or, with a population, their Empirical Bayes standardised
rate) make a Getis-Ord Gi* hot spot (Ord and Getis 1995; binary weights, the unit included;
``z > 0`` and FDR-adjusted ``p <= alpha``, with the p-values of the hot spot table: on counts,
the exact distribution of Gi*'s null where the normal tail is poor), as ``compare`` decides it for
its before period. Without an adjacency the unit stands alone (``z`` of its early events among
all units).

References
----------
Anselin, L. (1995). Local indicators of spatial association -- LISA. Geogr. Anal. 27, 93-115.
Armitage, P. (1955). Tests for linear trends in proportions and frequencies. Biometrics 11,
375-386.
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57, 289-300.
Benjamini, Y. and Yekutieli, D. (2001). The control of the false discovery rate in multiple
testing under dependency. Ann. Statist. 29, 1165-1188.
Berk, R. and MacDonald, J. M. (2008). Overdispersion and Poisson regression. J. Quant. Criminol.
24, 269-284.
Cox, D. R. and Lewis, P. A. W. (1966). The Statistical Analysis of Series of Events. Methuen.
Farrington, C. P., Andrews, N. J., Beale, A. D. and Catchpole, M. A. (1996). A statistical
algorithm for the early detection of outbreaks of infectious disease. JRSS A 159, 547-563.
McCullagh, P. and Nelder, J. A. (1989). Generalized Linear Models, 2nd ed. Chapman and Hall.
Noufaily, A. et al. (2013). An improved algorithm for outbreak detection in multiple surveillance
systems. Stat. Med. 32, 1206-1222.
Ord, J. K. and Getis, A. (1995). Local spatial autocorrelation statistics. Geogr. Anal. 27,
286-306.
Osgood, D. W. (2000). Poisson-based regression analysis of aggregate crime rates. J. Quant.
Criminol. 16, 21-43.
Raftery, A. E. and Akman, V. E. (1986). Bayesian analysis of a Poisson process with a
change-point. Biometrika 73, 85-89.
Schwarz, G. (1978). Estimating the dimension of a model. Ann. Statist. 6, 461-464.
Siegmund, D. (1988). Approximate tail probabilities for the maxima of some random fields. Ann.
Probab. 16, 487-501.
James, B., James, K. L. and Siegmund, D. (1987). Tests for a change-point. Biometrika 74, 71-83.
Worsley, K. J. (1986). Confidence regions and tests for a change-point in a sequence of
exponential family random variables. Biometrika 73, 91-104.
Wedderburn, R. W. M. (1974). Quasi-likelihood functions, generalized linear models, and the
Gauss-Newton method. Biometrika 61, 439-447.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse, special, stats

from ..errors import DataError, OptionError
from ..units.neighbours import Neighbours
from .hotspots import gi_of_counts
from .permutation import conditional_draw_sums, two_sided_pseudo_p
from .significance import FDR_METHODS, adjust_p, lisa_clusters

#: Directions and labels a unit can get.
DIRECTIONS = ("rising", "falling", "stable")
LABELS = ("emerging", "intensifying", "fading", "cooling", "stable")
#: The fewest steps a trend is fitted on: two parameters and four degrees of freedom left for
#: the dispersion.
MIN_STEPS = 6
#: Yearly cycles the period must cover for the season to be adjusted.
MIN_SEASON_CYCLES = 2
#: Units with at most this many events get the exact conditional test.
EXACT_MAX_EVENTS = 50
#: The change scan tries at most this many splits (evenly spread over long series).
MAX_SCAN_POINTS = 400
#: Fraction of the steps, from the start, whose rate decides "hot before".
EARLY_FRACTION = 1 / 3
#: Residents per rate (rates per 100,000 residents).
RATE_PER = 100_000
_DAYS_PER_YEAR = 365.25
_NEWTON_ITERATIONS = 100
_NEWTON_MAX_STEP = 5.0  # log rate ratio per year, per Newton step
_IPF_ITERATIONS = 200
_BRIDGE_GRID_TOP = 12.0
_BRIDGE_GRID_POINTS = 601


@dataclass(frozen=True)
class TrendFit:
    """The log-linear trend of many series at once (one value per series).

    Attributes
    ----------
    slope : numpy.ndarray
        ``b``, the log rate ratio per year (``+-inf`` when every event is in the last or first
        step, NaN with no event).
    intercept : numpy.ndarray
        ``a``, the log of the expected count per step at the middle of the period (season 1).
    se : numpy.ndarray
        Quasi-Poisson standard error of ``b``: ``sqrt(dispersion_used / information)``.
    information : numpy.ndarray
        Poisson Fisher information of ``b`` at the estimate (the intercept profiled out).
    dispersion : numpy.ndarray
        Pearson's ``X^2 / df``.
    dispersion_used : numpy.ndarray
        ``max(dispersion, 1)``.
    df : numpy.ndarray
        Residual degrees of freedom, ``n - 2`` (steps with a zero offset weight left out).
    events : numpy.ndarray
        ``N``, the series' totals.
    step_sum : numpy.ndarray
        ``K = sum_t t y_t`` (step numbers from 0).
    z : numpy.ndarray
        The conditional test's z, dispersion taken out (0 with no event).
    p_value : numpy.ndarray
        Two-sided p-value of the conditional test (NaN with no event).
    exact : numpy.ndarray of bool
        Whether the exact distribution was used.
    wald_p : numpy.ndarray
        Two-sided Wald p-value of ``b / se`` (t with ``df`` degrees of freedom when the
        dispersion is above 1, else normal), as statsmodels reports it.
    low, high : numpy.ndarray
        The interval of ``b``.
    """

    slope: np.ndarray
    intercept: np.ndarray
    se: np.ndarray
    information: np.ndarray
    dispersion: np.ndarray
    dispersion_used: np.ndarray
    df: np.ndarray
    events: np.ndarray
    step_sum: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    exact: np.ndarray
    wald_p: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class TrendResult:
    """What :func:`detect_trends` gives.

    Attributes
    ----------
    units : pandas.DataFrame
        One row per unit, indexed by ``unit_id`` (columns in :func:`detect_trends`).
    city : pandas.Series
        The city's own trend: ``events``, ``rate_ratio_per_year``, ``rate_ratio_low``,
        ``rate_ratio_high``, ``p_value``, ``dispersion``, ``direction``.
    fitted : numpy.ndarray
        Expected count per unit and step under the log-linear trend, season included.
    trend_line : numpy.ndarray
        The same without the season (the smooth line to draw through the series).
    season : numpy.ndarray
        The city's seasonal factor per step (mean 1; all 1 when not adjusted).
    step_starts : pandas.DatetimeIndex or None
        The steps' starts, when given.
    steps_per_year : float
    notes : list of str
    options : dict
        The options of the run (level, correction, interval, seed...).
    """

    units: pd.DataFrame
    city: pd.Series
    fitted: np.ndarray
    trend_line: np.ndarray
    season: np.ndarray
    step_starts: pd.DatetimeIndex | None
    steps_per_year: float
    notes: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# the time axis and the season


@dataclass(frozen=True)
class _TimeAxis:
    x: np.ndarray  # years from the middle of the period
    steps_per_year: float
    season_key: np.ndarray  # calendar month (0..11) of each step
    block_key: np.ndarray  # year of the period (0, 1, ...) of each step
    cycles: float  # yearly cycles the period covers
    step_starts: pd.DatetimeIndex | None


def _time_axis(
    n_steps: int, step_starts: object, steps_per_year: float | None, notes: list[str]
) -> _TimeAxis:
    """Years, calendar months and years of the period of each step."""
    if step_starts is None:
        if steps_per_year is None:
            steps_per_year = 12.0
            notes.append(
                "no step dates given: the steps are taken as months (12 a year), and the "
                "season as the step number modulo 12"
            )
        steps_per_year = float(steps_per_year)
        if not np.isfinite(steps_per_year) or steps_per_year <= 0:
            raise OptionError(
                f"'steps_per_year' was {steps_per_year!r} but must be a positive number"
            )
        index = np.arange(n_steps)
        cycle = max(1, round(steps_per_year))
        season_key = index % cycle
        block_key = index // cycle
        starts = None
        cycles = n_steps / steps_per_year
    else:
        starts = pd.DatetimeIndex(step_starts)
        if len(starts) != n_steps:
            raise OptionError(
                f"'step_starts' has {len(starts)} dates but the counts have {n_steps} steps"
            )
        if starts.hasnans or not starts.is_monotonic_increasing or not starts.is_unique:
            raise OptionError("'step_starts' must be increasing dates, one per step, no gaps")
        naive = starts.tz_localize(None) if starts.tz is not None else starts
        days = (naive - naive[0]) / pd.Timedelta(days=1)
        days = np.asarray(days, dtype=float)
        mean_step = (days[-1] - days[0]) / (n_steps - 1) if n_steps > 1 else 1.0
        month_number = np.asarray(naive.year * 12 + naive.month)
        calendar_months = bool(np.all(naive.day == 1) and np.all(np.diff(month_number) == 1))
        if steps_per_year is None:
            steps_per_year = 12.0 if calendar_months else _DAYS_PER_YEAR / mean_step
        steps_per_year = float(steps_per_year)
        middles = naive + pd.to_timedelta(mean_step / 2, unit="D")
        season_key = np.asarray(middles.month, dtype=np.int64) - 1
        block_key = np.floor((days + mean_step / 2) / _DAYS_PER_YEAR).astype(np.int64)
        cycles = n_steps * mean_step / _DAYS_PER_YEAR
    x = (np.arange(n_steps) - (n_steps - 1) / 2) / steps_per_year
    return _TimeAxis(x, steps_per_year, season_key, block_key, cycles, starts)


def city_season(
    city_counts: np.ndarray, season_key: np.ndarray, block_key: np.ndarray
) -> np.ndarray:
    """The city's seasonal factor per step, mean 1: ``C_t ~ Poisson(B_year F_month)`` by IPF.

    The maximum likelihood fit of a Poisson log-linear model with one effect per block (year of
    the period) and one per season (calendar month), on the steps present: iterative
    proportional fitting of the block x season table (Bishop, Fienberg and Holland 1975).

    Parameters
    ----------
    city_counts : numpy.ndarray
        The city's count per step.
    season_key, block_key : numpy.ndarray of int
        Season and block of each step.

    Returns
    -------
    numpy.ndarray
        ``F_{season(t)}`` rescaled to mean 1 over the steps.

    Examples
    --------
    >>> months = np.tile(np.arange(12), 3)
    >>> years = np.repeat(np.arange(3), 12)
    >>> counts = 100 * (1 + 0.5 * (months == 6)) * np.array([1.0, 2.0, 4.0])[years]
    >>> season = city_season(counts, months, years)
    >>> round(float(season[6] / season[0]), 6), round(float(season.mean()), 6)
    (1.5, 1.0)
    """
    counts = np.asarray(city_counts, dtype=float)
    n_seasons = int(season_key.max()) + 1
    n_blocks = int(block_key.max()) + 1
    season_total = np.bincount(season_key, counts, minlength=n_seasons)
    block_total = np.bincount(block_key, counts, minlength=n_blocks)
    factor = np.ones(n_seasons)
    level = np.ones(n_blocks)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(_IPF_ITERATIONS):
            level = np.nan_to_num(
                block_total / np.bincount(block_key, factor[season_key], minlength=n_blocks)
            )
            updated = np.nan_to_num(
                season_total / np.bincount(season_key, level[block_key], minlength=n_seasons)
            )
            converged = np.allclose(updated, factor, rtol=1e-12, atol=0)
            factor = updated
            if converged:
                break
    season = factor[season_key]
    return season / season.mean()


# ----------------------------------------------------------------------------------------------
# the log-linear trend of many series


def fit_trend(
    counts: np.ndarray,
    weights: np.ndarray,
    x: np.ndarray,
    *,
    confidence: float = 0.95,
    exact_max_events: int = EXACT_MAX_EVENTS,
    finite_population: np.ndarray | None = None,
) -> TrendFit:
    """Quasi-Poisson log-linear trend of every row of ``counts``, and its conditional test.

    ``log E[y_t] = a + b x_t + log w_t`` with ``Var(y_t) = phi E[y_t]``; steps with
    ``w_t = 0`` carry no expected count (and must have none).

    Parameters
    ----------
    counts : numpy.ndarray
        Shape ``(n_series, n_steps)``, non-negative.
    weights : numpy.ndarray
        Offset weights ``w_t`` (the season, or the city's counts), shape ``(n_steps,)``.
    x : numpy.ndarray
        The time of each step in years, equally spaced (``(t - c) / steps_per_year``).
    confidence : float
        Level of the interval of ``b``.
    exact_max_events : int
        Series with at most this many events get the exact conditional distribution.
    finite_population : numpy.ndarray, optional
        A factor per series on the normal variance of ``K`` (the share test's ``(C - N) /
        (C - 1)``).

    Returns
    -------
    TrendFit

    Examples
    --------
    Counts growing by half every step (steps of a year) give ``b = log 1.5`` and no dispersion:

    >>> fit = fit_trend(np.array([[4.0, 6.0, 9.0, 13.5, 20.25, 30.375]]), np.ones(6),
    ...                 np.arange(6) - 2.5)
    >>> round(float(np.exp(fit.slope[0])), 6), round(float(fit.dispersion[0]), 6)
    (1.5, 0.0)

    Two events, both in the last of six steps: the exact two-sided p-value is ``2 / 6**2``.

    >>> fit = fit_trend(np.array([[0, 0, 0, 0, 0, 2]]), np.ones(6), np.arange(6) - 2.5)
    >>> float(fit.slope[0]), round(float(fit.p_value[0]), 6), round(2 / 36, 6)
    (inf, 0.055556, 0.055556)
    """
    y = np.asarray(counts, dtype=float)
    w = np.asarray(weights, dtype=float)
    x = np.asarray(x, dtype=float)
    n_series, n_steps = y.shape
    present = w > 0
    if (y[:, ~present] > 0).any():
        raise DataError("a series has events in a step whose offset weight is zero")
    events = y.sum(axis=1)
    xw = x[present]
    x_sum = y @ x
    step_sum = y @ np.arange(n_steps, dtype=float)
    has_events = events > 0
    # every event in the first or the last step (of those with weight): the MLE is infinite
    at_top = has_events & np.isclose(x_sum, events * xw.max(), rtol=0, atol=1e-9)
    at_bottom = has_events & np.isclose(x_sum, events * xw.min(), rtol=0, atol=1e-9)
    finite = has_events & ~at_top & ~at_bottom

    slope = np.full(n_series, np.nan)
    slope[at_top], slope[at_bottom] = np.inf, -np.inf
    slope[finite] = _newton_slopes(x_sum[finite], events[finite], w[present], xw)

    # the intercept, expected counts, information and Pearson's X^2 (infinite slopes: clipped)
    usable = np.clip(np.nan_to_num(slope, nan=0.0), -50.0, 50.0)
    expected, log_total = _expected(usable, events, w, x)
    information = _information(usable, events, w, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        intercept = np.log(events) - log_total
        pearson = np.where(present, (y - expected) ** 2 / np.where(present, expected, 1.0), 0.0)
    df = np.full(n_series, float(present.sum() - 2))
    x2 = pearson.sum(axis=1)
    dispersion = np.where(has_events & np.isfinite(slope), x2 / df, np.nan)
    dispersion[has_events & ~np.isfinite(slope)] = 1.0  # one step holds every event: no spread
    dispersion_used = np.fmax(dispersion, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(dispersion_used / information)
    se[~finite] = np.nan
    t_df = np.where(dispersion > 1, df, np.inf)

    z, exact = _conditional_z(
        step_sum.round().astype(np.int64),
        events.round().astype(np.int64),
        w / w.sum(),
        exact_max_events,
        finite_population,
    )
    with np.errstate(invalid="ignore"):
        z = z / np.sqrt(np.where(has_events, dispersion_used, 1.0))
    p_value = np.where(has_events, 2 * _t_sf(np.abs(z), t_df), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        wald_p = 2 * _t_sf(np.abs(slope / se), t_df)
    quantile = _t_isf((1 - confidence) / 2, t_df)
    low = slope - quantile * se
    high = slope + quantile * se
    low[at_top], high[at_top] = _exact_bound(events[at_top], w, x, +1, confidence), np.inf
    low[at_bottom], high[at_bottom] = -np.inf, _exact_bound(events[at_bottom], w, x, -1, confidence)
    return TrendFit(
        slope=slope,
        intercept=intercept,
        se=se,
        information=information,
        dispersion=dispersion,
        dispersion_used=dispersion_used,
        df=df,
        events=events,
        step_sum=step_sum,
        z=np.where(has_events, z, 0.0),
        p_value=p_value,
        exact=exact & has_events,
        wald_p=np.where(finite, wald_p, np.nan),
        low=low,
        high=high,
    )


def _tilted_moments(slope: np.ndarray, w: np.ndarray, x: np.ndarray):
    """``log sum_t w_t e^{b x_t}`` and the mean and variance of ``x`` under those weights."""
    exponent = slope[:, None] * x[None, :]
    shift = exponent.max(axis=1, keepdims=True)
    tilted = w[None, :] * np.exp(exponent - shift)
    total = tilted.sum(axis=1)
    mean = (tilted @ x) / total
    second = (tilted @ (x * x)) / total
    return np.log(total) + shift[:, 0], mean, np.maximum(second - mean * mean, 0.0)


def _newton_slopes(x_sum: np.ndarray, events: np.ndarray, w: np.ndarray, x: np.ndarray):
    """Solve ``sum_t y_t x_t = N E_b[x]`` for ``b``, every series at once (bracketed Newton)."""
    slope = np.zeros(len(events))
    low = np.full(len(events), -np.inf)
    high = np.full(len(events), np.inf)
    active = np.ones(len(events), dtype=bool)
    for _ in range(_NEWTON_ITERATIONS):
        if not active.any():
            break
        b = slope[active]
        _, mean, variance = _tilted_moments(b, w, x)
        score = x_sum[active] - events[active] * mean
        # the score falls as b grows: a positive score means the root is above b
        low[active] = np.where(score > 0, b, low[active])
        high[active] = np.where(score <= 0, b, high[active])
        step = np.clip(score / (events[active] * variance), -_NEWTON_MAX_STEP, _NEWTON_MAX_STEP)
        proposal = b + step
        lo, hi = low[active], high[active]
        outside = (proposal <= lo) | (proposal >= hi)
        bisect = np.where(np.isfinite(lo) & np.isfinite(hi), (lo + hi) / 2, proposal)
        proposal = np.where(outside, bisect, proposal)
        slope[active] = proposal
        done = np.abs(proposal - b) < 1e-12 * np.maximum(1.0, np.abs(b))
        active[np.flatnonzero(active)[done]] = False
    return slope


def _expected(slope: np.ndarray, events: np.ndarray, w: np.ndarray, x: np.ndarray):
    log_total, _, _ = _tilted_moments(slope, w, x)
    with np.errstate(divide="ignore"):
        log_w = np.log(w)
    expected = events[:, None] * np.exp(slope[:, None] * x[None, :] + log_w - log_total[:, None])
    return expected, log_total


def _information(slope: np.ndarray, events: np.ndarray, w: np.ndarray, x: np.ndarray):
    _, _, variance = _tilted_moments(slope, w, x)
    return events * variance


def _t_sf(value: np.ndarray, df: np.ndarray) -> np.ndarray:
    value = np.asarray(value, dtype=float)
    df = np.broadcast_to(df, value.shape)
    return np.where(
        np.isfinite(df), stats.t.sf(value, np.where(np.isfinite(df), df, 1)), stats.norm.sf(value)
    )


def _t_isf(probability: float, df: np.ndarray) -> np.ndarray:
    return np.where(
        np.isfinite(df),
        stats.t.isf(probability, np.where(np.isfinite(df), df, 1)),
        stats.norm.isf(probability),
    )


def _conditional_z(
    step_sum: np.ndarray,
    events: np.ndarray,
    probabilities: np.ndarray,
    exact_max_events: int,
    finite_population: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Signed z of ``K`` given ``N``: exact tails for small ``N``, else the normal score."""
    steps = np.arange(len(probabilities), dtype=float)
    mean = probabilities @ steps
    variance = probabilities @ (steps * steps) - mean * mean
    factor = np.ones(len(events)) if finite_population is None else finite_population
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (step_sum - events * mean) / np.sqrt(events * variance * factor)
    z = np.where(events > 0, np.nan_to_num(z, nan=0.0), 0.0)
    exact = (events > 0) & (events <= exact_max_events)
    if exact.any():
        lower, upper = exact_tails(step_sum[exact], events[exact], probabilities)
        tail = np.minimum(np.minimum(lower, upper), 0.5)
        sign = np.where(upper < lower, 1.0, -1.0)
        z[exact] = sign * stats.norm.isf(tail)
    return z, exact


def exact_tails(
    step_sum: np.ndarray, events: np.ndarray, probabilities: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``P(K <= k)`` and ``P(K >= k)`` for ``K`` the sum of ``N`` draws from ``probabilities``.

    The null distribution of the conditional trend test: ``N`` events, each in step ``t`` with
    probability ``probabilities[t]``, independently; ``K`` the sum of their step numbers. Computed
    by repeated convolution (by FFT for long series), once per distinct ``N``.

    Parameters
    ----------
    step_sum : numpy.ndarray of int
        Observed ``k`` per series.
    events : numpy.ndarray of int
        ``N`` per series (at least 1).
    probabilities : numpy.ndarray
        The null probability of each step (sums to 1).

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper tail probabilities, each including the observed value.

    Examples
    --------
    >>> lower, upper = exact_tails(np.array([5, 2]), np.array([1, 2]), np.full(6, 1 / 6))
    >>> [round(float(v), 6) for v in upper], [round(float(v), 6) for v in lower]
    ([0.166667, 0.916667], [1.0, 0.166667])
    """
    step_sum = np.asarray(step_sum, dtype=np.int64)
    events = np.asarray(events, dtype=np.int64)
    p = np.asarray(probabilities, dtype=float)
    lower = np.ones(len(events))
    upper = np.ones(len(events))
    if len(events) == 0:
        return lower, upper
    needed = np.unique(events)
    by_fft = len(p) > 1000
    pmf = np.array([1.0])
    count = 0
    for n_events in needed:
        if by_fft:
            length = int(n_events) * (len(p) - 1) + 1
            size = _fast_length(length)
            pmf = np.fft.irfft(np.fft.rfft(p, size) ** int(n_events), size)[:length]
            pmf = np.clip(pmf, 0.0, None)
        else:
            while count < n_events:
                pmf = np.convolve(pmf, p)
                count += 1
        cumulative = np.minimum(np.cumsum(pmf), 1.0)
        reverse = np.minimum(np.cumsum(pmf[::-1])[::-1], 1.0)
        rows = events == n_events
        k = np.clip(step_sum[rows], 0, len(pmf) - 1)
        lower[rows] = cumulative[k]
        upper[rows] = reverse[k]
    return lower, upper


def _fast_length(length: int) -> int:
    size = 1
    while size < length:
        size *= 2
    return size


def _exact_bound(
    events: np.ndarray, w: np.ndarray, x: np.ndarray, side: int, confidence: float
) -> np.ndarray:
    """The finite bound of ``b`` when every event is in the last (``side=+1``) or first step.

    The exact conditional bound: ``P_b(every event in that step) = (1 - confidence) / 2``, i.e.
    ``p_end(b) = ((1 - confidence) / 2) ** (1 / N)``, solved by bisection.
    """
    if len(events) == 0:
        return np.zeros(0)
    present = w > 0
    wp, xp = w[present], x[present]
    end = np.argmax(xp) if side > 0 else np.argmin(xp)
    target = ((1 - confidence) / 2) ** (1 / events)
    low = np.full(len(events), -60.0)
    high = np.full(len(events), 60.0)
    for _ in range(200):
        middle = (low + high) / 2
        log_total, _, _ = _tilted_moments(middle, wp, xp)
        share = np.exp(np.log(wp[end]) + middle * xp[end] - log_total)
        # the end step's share grows with side * b
        grows = share < target if side > 0 else share > target
        low = np.where(grows, middle, low)
        high = np.where(grows, high, middle)
    return (low + high) / 2


# ----------------------------------------------------------------------------------------------
# change points


def change_points(
    counts: np.ndarray,
    weights: np.ndarray,
    dispersion: np.ndarray,
    sign: np.ndarray,
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Where a two-rate model puts the change: posterior mode and credible interval per series.

    Rates ``l1 w_t`` before step ``tau`` and ``l2 w_t`` from it on (``tau = 1 .. n-1``). With the
    Jeffreys prior ``l^(-1/2)`` on each rate the marginal likelihood of ``tau`` is
    ``Gamma(n1 + 1/2) Gamma(n2 + 1/2) / (S1^(n1 + 1/2) S2^(n2 + 1/2))`` (Raftery and Akman
    1986), with ``n1, n2`` the counts before and after divided by the dispersion (a tempered
    likelihood) and ``S1, S2`` the offset weights summed. The prior on ``tau`` is uniform over
    the splits whose rate moves the way of ``sign`` (all splits where ``sign`` is 0).

    Parameters
    ----------
    counts : numpy.ndarray
        Shape ``(n_series, n_steps)``.
    weights : numpy.ndarray
        Offset weights per step (the season).
    dispersion : numpy.ndarray
        Per series, at least 1.
    sign : numpy.ndarray
        +1 (a rise), -1 (a fall) or 0 per series.
    confidence : float
        Mass of the equal-tailed credible interval.

    Returns
    -------
    pandas.DataFrame
        ``change_step`` (the first step of the new rate), ``change_step_low``,
        ``change_step_high``, ``rate_before_change``, ``rate_after_change`` (per step, at season
        1) and ``log_likelihood_gain`` (the two-rate model's Poisson log-likelihood at its best
        split over the log-linear trend's, filled in by the caller; here the two-rate part).

    Examples
    --------
    >>> counts = np.array([[2, 1, 2, 2, 1, 2, 9, 8, 10, 9]])
    >>> table = change_points(counts, np.ones(10), np.ones(1), np.ones(1))
    >>> table[["change_step", "change_step_low", "change_step_high"]].iloc[0].tolist()
    [6, 5, 6]
    """
    y = np.asarray(counts, dtype=float)
    w = np.asarray(weights, dtype=float)
    n_series, n_steps = y.shape
    events = y.sum(axis=1)
    before = np.cumsum(y, axis=1)[:, :-1]  # tau = 1 .. n-1: events in steps < tau
    after = events[:, None] - before
    exposure_before = np.cumsum(w)[:-1][None, :]
    exposure_after = w.sum() - exposure_before
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_before = before / exposure_before
        rate_after = after / exposure_after
    allowed = np.ones_like(before, dtype=bool)
    allowed = np.where(sign[:, None] > 0, rate_after > rate_before, allowed)
    allowed = np.where(sign[:, None] < 0, rate_after < rate_before, allowed)
    allowed &= (exposure_before > 0) & (exposure_after > 0)
    none_allowed = ~allowed.any(axis=1)
    allowed[none_allowed] = True
    scaled_before = before / dispersion[:, None]
    scaled_after = after / dispersion[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_post = (
            special.gammaln(scaled_before + 0.5)
            + special.gammaln(scaled_after + 0.5)
            - (scaled_before + 0.5) * np.log(exposure_before)
            - (scaled_after + 0.5) * np.log(exposure_after)
        )
    log_post = np.where(allowed, log_post, -np.inf)
    log_post -= log_post.max(axis=1, keepdims=True)
    posterior = np.exp(log_post)
    posterior /= posterior.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(posterior, axis=1)
    tail = (1 - confidence) / 2
    mode = posterior.argmax(axis=1)
    low = (cumulative < tail).sum(axis=1)
    high = np.minimum((cumulative < 1 - tail).sum(axis=1), n_steps - 2)
    rows = np.arange(n_series)
    # the two-rate Poisson log-likelihood at its best allowed split (constants left out)
    with np.errstate(divide="ignore", invalid="ignore"):
        profile = np.nan_to_num(before * np.log(rate_before)) + np.nan_to_num(
            after * np.log(rate_after)
        )
    profile = np.where(allowed, profile, -np.inf)
    return pd.DataFrame(
        {
            "change_step": mode + 1,
            "change_step_low": low + 1,
            "change_step_high": high + 1,
            "rate_before_change": rate_before[rows, mode] * w.mean(),
            "rate_after_change": rate_after[rows, mode] * w.mean(),
            "two_rate_log_likelihood": profile.max(axis=1),
        }
    )


@dataclass(frozen=True)
class ChangeScan:
    """The scan for one change of rate, one value per series.

    Attributes
    ----------
    statistic : numpy.ndarray
        ``max_tau |r_tau| / sqrt(dispersion)`` over the scanned splits.
    step : numpy.ndarray
        The split where the maximum is reached (the first step of the new rate; -1 with no
        event).
    sign : numpy.ndarray
        +1 when the rate after that split is the higher, -1 when lower, 0 with no event.
    p_value : numpy.ndarray
        Two-sided p-value of the maximum (NaN with no event).
    exact : numpy.ndarray of bool
        Whether the exact distribution was used.
    dispersion : numpy.ndarray
        The dispersion the statistic was divided by.
    """

    statistic: np.ndarray
    step: np.ndarray
    sign: np.ndarray
    p_value: np.ndarray
    exact: np.ndarray
    dispersion: np.ndarray


def scan_splits(n_steps: int, min_segment: int, max_points: int = MAX_SCAN_POINTS) -> np.ndarray:
    """The splits the change scan tries: ``tau`` with at least ``min_segment`` steps each side.

    At most ``max_points`` of them, evenly spread (long daily series are scanned on a coarser
    grid).

    Examples
    --------
    >>> scan_splits(12, 3).tolist()
    [3, 4, 5, 6, 7, 8, 9]
    >>> len(scan_splits(3650, 182))
    400
    """
    splits = np.arange(min_segment, n_steps - min_segment + 1)
    if len(splits) > max_points:
        splits = np.unique(np.round(np.linspace(splits[0], splits[-1], max_points)).astype(int))
    return splits


def signed_root_lr(before: np.ndarray, events: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Signed root of the likelihood ratio of "one rate" against "a rate before and one after".

    Conditional on the total ``N``, the count before the split is binomial with probability
    ``u`` (the share of the offset weight before it) under one rate. The statistic is
    ``sign(after - N (1 - u)) sqrt(2 [S log(S / (N u)) + A log(A / (N (1 - u)))])`` with ``S``
    the count before and ``A = N - S`` after: positive for a rise.

    Examples
    --------
    >>> round(float(signed_root_lr(np.array(2), np.array(12), np.array(0.5))), 4)
    2.4129
    """
    before = np.asarray(before, dtype=float)
    after = events - before
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_before = events * fraction
        expected_after = events * (1 - fraction)
        ratio = special.xlogy(before, before / expected_before) + special.xlogy(
            after, after / expected_after
        )
    ratio = np.nan_to_num(np.maximum(ratio, 0.0))
    return np.sign(after - expected_after) * np.sqrt(2 * ratio)


def scan_changes(
    counts: np.ndarray,
    weights: np.ndarray,
    dispersion: np.ndarray,
    splits: np.ndarray,
    *,
    exact_max_events: int = EXACT_MAX_EVENTS,
) -> ChangeScan:
    """Did the rate change at some step? The maximum likelihood ratio over the splits, tested.

    For each split ``tau`` of ``splits``, :func:`signed_root_lr` of the two-rate model (rates
    ``l1 w_t`` before ``tau``, ``l2 w_t`` from it on) against one rate, conditional on the
    series' total ``N``; the statistic is its largest absolute value, divided by
    ``sqrt(dispersion)`` (a quasi-likelihood ratio). Under one rate, the conditional counts
    make a binomial path, and:

    - for ``N <= exact_max_events`` the p-value is exact: the probability that the path's
      ``|r|`` reaches the observed maximum at some split, by dynamic programming over the
      count before each split (the recursion of Worsley 1986);
    - above, the Gaussian limit (a standardised Brownian bridge, an Ornstein-Uhlenbeck process
      in ``theta = log(u / (1 - u)) / 2``), with the tail of its maximum over the discrete
      splits approximated as in James, James and Siegmund (1987) and Siegmund (1988)::

          P(max |Z| >= b) ~ 2 [1 - Phi(b) + b phi(b) sum_k d_k nu(b sqrt(2 d_k))]

      ``d_k`` the spacing of the splits in ``theta`` and ``nu`` Siegmund's correction for
      discrete sampling.

    Parameters
    ----------
    counts : numpy.ndarray
        Shape ``(n_series, n_steps)``.
    weights : numpy.ndarray
        Offset weights per step (the season).
    dispersion : numpy.ndarray
        Per series, at least 1.
    splits : numpy.ndarray of int
        The splits to try (:func:`scan_splits`).
    exact_max_events : int
        Series with at most this many events get the exact p-value.

    Returns
    -------
    ChangeScan

    Examples
    --------
    >>> counts = np.array([[3, 2, 3, 4, 2, 3, 3, 2, 9, 8, 10, 9], [3] * 12])
    >>> scan = scan_changes(counts, np.ones(12), np.ones(2), scan_splits(12, 3))
    >>> int(scan.step[0]), scan.sign.tolist(), (scan.p_value < 0.001).tolist()
    (8, [1.0, 0.0], [True, False])
    """
    y = np.asarray(counts, dtype=float)
    w = np.asarray(weights, dtype=float)
    n_series = y.shape[0]
    events = y.sum(axis=1)
    fraction = np.cumsum(w)[splits - 1] / w.sum()
    keep = (fraction > 0) & (fraction < 1)
    splits, fraction = splits[keep], fraction[keep]
    before = np.cumsum(y, axis=1)[:, splits - 1]
    roots = signed_root_lr(before, events[:, None], fraction[None, :])
    best = np.abs(roots).argmax(axis=1)
    rows = np.arange(n_series)
    largest = np.abs(roots[rows, best])
    has_events = events > 0
    statistic = np.where(has_events, largest / np.sqrt(np.where(has_events, dispersion, 1.0)), 0.0)
    sign = np.where(has_events & (largest > 1e-6), np.sign(roots[rows, best]), 0.0)
    p_value = np.full(n_series, np.nan)
    exact = has_events & (events <= exact_max_events)
    large = has_events & ~exact
    p_value[large] = _bridge_maximum_tail(statistic[large], fraction)
    if exact.any():
        p_value[exact] = _scan_exact_tail(
            events[exact].round().astype(np.int64), statistic[exact], fraction
        )
    return ChangeScan(
        statistic=statistic,
        step=np.where(has_events, splits[best], -1),
        sign=sign,
        p_value=p_value,
        exact=exact,
        dispersion=np.asarray(dispersion, dtype=float),
    )


def _siegmund_nu(x: np.ndarray) -> np.ndarray:
    """Siegmund's correction for a maximum over discrete times (Siegmund and Yakir 2007)."""
    half = np.asarray(x, dtype=float) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (
            (2 / (2 * half))
            * (stats.norm.cdf(half) - 0.5)
            / (half * stats.norm.cdf(half) + stats.norm.pdf(half))
        )
    return np.where(half < 1e-8, 1.0, value)


def _bridge_maximum_tail(level: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """``P(max_k |Z(u_k)| >= level)`` for a standardised Brownian bridge at ``u_k``.

    Evaluated on a grid of levels and interpolated in the log of the tail (smooth in the
    level); the grid is computed once per set of splits.
    """
    grid, log_tail = _bridge_table(np.asarray(fraction, dtype=float).tobytes())
    level = np.asarray(level, dtype=float)
    inside = np.interp(np.minimum(level, _BRIDGE_GRID_TOP), grid, log_tail)
    beyond = level > _BRIDGE_GRID_TOP
    if beyond.any():  # far beyond any real data: evaluate directly
        inside[beyond] = np.log(
            _bridge_tail_direct(
                level[beyond], np.frombuffer(np.asarray(fraction, dtype=float).tobytes())
            )
        )
    return np.exp(inside)


def _bridge_tail_direct(level: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    theta = 0.5 * np.log(fraction / (1 - fraction))
    spacing = np.diff(theta)
    corrected = spacing[None, :] * _siegmund_nu(level[:, None] * np.sqrt(2 * spacing[None, :]))
    tail = 2 * (stats.norm.sf(level) + level * stats.norm.pdf(level) * corrected.sum(axis=1))
    return np.minimum(tail, 1.0)


@functools.lru_cache(maxsize=16)
def _bridge_table(fraction_bytes: bytes) -> tuple[np.ndarray, np.ndarray]:
    grid = np.linspace(0.0, _BRIDGE_GRID_TOP, _BRIDGE_GRID_POINTS)
    return grid, np.log(_bridge_tail_direct(grid, np.frombuffer(fraction_bytes)))


def _scan_exact_tail(events: np.ndarray, level: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """``P(max_k |r_k| >= level)`` under one rate, exactly, for small totals.

    The count before split ``k`` is ``S_k``; given ``S_k = s``, the events between splits
    ``k`` and ``k + 1`` are ``Binomial(N - s, (u_{k+1} - u_k) / (1 - u_k))``. The probability
    mass of the paths that have not yet reached the level is carried from split to split; the
    mass that reaches it is summed.
    """
    tail = np.zeros(len(events))
    threshold = level - 1e-9
    steps = np.diff(fraction) / (1 - fraction[:-1])
    for n_events in np.unique(events):
        rows = np.flatnonzero(events == n_events)
        n = int(n_events)
        states = np.arange(n + 1)
        log_factorial = special.gammaln(states + 1.0)
        roots = np.abs(signed_root_lr(states[None, :], float(n), fraction[:, None]))
        remaining = n - states[:, None]
        moved = states[None, :] - states[:, None]
        possible = (moved >= 0) & (moved <= remaining)
        moved = np.where(possible, moved, 0)
        staying = np.where(possible, remaining - moved, 0)
        log_choose = log_factorial[remaining] - log_factorial[moved] - log_factorial[staying]
        # transitions[k][s, s']: from s events before split k to s' before split k + 1
        transitions = np.exp(
            log_choose[None]
            + special.xlogy(moved[None], steps[:, None, None])
            + special.xlogy(staying[None], 1 - steps[:, None, None])
        )
        transitions *= possible[None]
        mass = np.exp(
            log_factorial[n]
            - log_factorial[states]
            - log_factorial[n - states]
            + special.xlogy(states, fraction[0])
            + special.xlogy(n - states, 1 - fraction[0])
        )
        mass = np.tile(mass, (len(rows), 1))
        reached = np.zeros(len(rows))
        for k in range(len(fraction)):
            if k:
                mass = mass @ transitions[k - 1]
            crossing = roots[k][None, :] >= threshold[rows, None]
            reached += (mass * crossing).sum(axis=1)
            mass[crossing] = 0.0
        tail[rows] = np.minimum(reached, 1.0)
    return tail


# ----------------------------------------------------------------------------------------------
# spatial pieces


def _hot_before(
    counts: np.ndarray, residents: np.ndarray | None, adjacency: sparse.csr_array | None, fdr: str
) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z and q of the early period's counts (:func:`geo_violence.stats.hotspots.
    gi_of_counts`); NaN with fewer than 3 units."""
    n = len(counts)
    if n < 3:
        return np.full(n, np.nan), np.full(n, np.nan)
    ids = pd.RangeIndex(n).astype(str)
    population = None if residents is None else pd.Series(residents, index=ids)
    matrix = sparse.csr_array((n, n)) if adjacency is None else sparse.csr_array(adjacency)
    neighbours = Neighbours(matrix, ids, "given")
    table = gi_of_counts(pd.Series(counts, index=ids), neighbours, population=population, fdr=fdr)
    return table["gi_z"].to_numpy(), table["gi_q"].to_numpy()


def _trend_lisa(
    values: np.ndarray,
    adjacency: sparse.csr_array,
    permutations: int,
    seed: int,
    alpha: float,
    fdr: str,
) -> pd.DataFrame:
    """Local Moran's I (row-standardised, conditional permutations) of the units' trend z."""
    n = len(values)
    spread = values.std()
    if n < 3 or spread == 0:
        return pd.DataFrame(
            {
                "trend_lisa_i": np.full(n, np.nan),
                "trend_lisa_p": np.full(n, np.nan),
                "trend_lisa_q": np.full(n, np.nan),
                "trend_cluster": np.full(n, "not significant", dtype=object),
            }
        )
    z = (values - values.mean()) / spread
    cardinality = np.asarray(adjacency.sum(axis=1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        lag = np.nan_to_num((adjacency @ z) / cardinality)
    scale = (n - 1) / n
    local_i = scale * z * lag
    rng = np.random.default_rng(seed)
    drawn = conditional_draw_sums(z, np.arange(n), cardinality.astype(np.int64), permutations, rng)
    with np.errstate(invalid="ignore", divide="ignore"):
        simulated = scale * z[:, None] * np.nan_to_num(drawn / cardinality[:, None])
    p = two_sided_pseudo_p(local_i, simulated)
    p[cardinality == 0] = np.nan
    q = adjust_p(p, fdr)
    quadrant = np.select(
        [(z > 0) & (lag > 0), (z < 0) & (lag > 0), (z < 0) & (lag < 0), (z > 0) & (lag < 0)],
        [1, 2, 3, 4],
        default=0,
    )
    return pd.DataFrame(
        {
            "trend_lisa_i": local_i,
            "trend_lisa_p": p,
            "trend_lisa_q": q,
            "trend_cluster": lisa_clusters(quadrant, np.nan_to_num(q, nan=1.0), alpha),
        }
    )


# ----------------------------------------------------------------------------------------------
# the whole analysis


def detect_trends(
    counts: np.ndarray | pd.DataFrame,
    adjacency: sparse.sparray | sparse.spmatrix | np.ndarray | None = None,
    *,
    step_starts: pd.DatetimeIndex | np.ndarray | list | None = None,
    unit_ids: pd.Index | list | np.ndarray | None = None,
    population: pd.Series | np.ndarray | None = None,
    steps_per_year: float | None = None,
    alpha: float = 0.05,
    fdr: str = "bh",
    confidence: float = 0.95,
    exact_max_events: int = EXACT_MAX_EVENTS,
    lisa_permutations: int = 999,
    seed: int = 12345,
) -> TrendResult:
    """Rising, falling or stable, unit by unit, over the whole period (see the module's text).

    Parameters
    ----------
    counts : numpy.ndarray or pandas.DataFrame
        Events per unit (rows) and step (columns), zeros included. A DataFrame's index gives the
        unit ids and, when its columns are dates, the step starts.
    adjacency : scipy sparse matrix or numpy.ndarray, optional
        Binary neighbours of the units, in the rows' order (``Neighbours.matrix``). Gives the
        pooled neighbourhood trends, the trend clusters and a Gi* "hot before".
    step_starts : sequence of dates, optional
        The start of each step (``Cube.step_starts``): the step length (rates per year) and the
        calendar month of each step (the season). Without them, ``steps_per_year`` steps (12 by
        default) make a year.
    unit_ids : sequence, optional
        The units' ids, in the rows' order (``Cube.unit_ids``); 0, 1, ... by default.
    population : pandas.Series or numpy.ndarray, optional
        Residents per unit (a Series is aligned on the unit ids): rates are then per 100,000
        residents per year. One population per unit scales a unit's rate by a constant, so its
        rate ratio and test are those of its counts.
    steps_per_year : float, optional
        Overrides the step length found from ``step_starts``.
    alpha : float
        Level of the FDR-adjusted q-values (0.05).
    fdr : {"bh", "bonferroni", "none"}
        Correction across units.
    confidence : float
        Level of the intervals (rate ratios, change points).
    exact_max_events : int
        Units with at most this many events get the exact conditional test (50).
    lisa_permutations : int
        Permutations of the trend clusters' local Moran's I (with an adjacency).
    seed : int
        Seed of those permutations (nothing else is random).

    Returns
    -------
    TrendResult
        ``units`` has one row per unit (index ``unit_id``) with: ``events``, ``rate_per_year``,
        ``rate_first_year``, ``rate_last_year`` (events, or per 100,000 residents, per year:
        the whole period, its first and its last year), ``rate_ratio_per_year``,
        ``rate_ratio_low``, ``rate_ratio_high``, ``log_rate_ratio``, ``log_rate_ratio_se``,
        ``dispersion`` (Pearson's, before the floor at 1), ``trend_z``, ``test`` (``exact``,
        ``normal`` or ``none``), ``p_value``, ``q_value``, ``direction``; ``change_step``,
        ``change_step_low``, ``change_step_high`` (step numbers from 0, for rising and falling
        units), ``change_start``, ``change_start_low``, ``change_start_high`` (their dates),
        ``change_kind`` (``step`` or ``gradual``), ``rate_before_change``,
        ``rate_after_change`` (per year, season removed); ``share_ratio_per_year``,
        ``share_ratio_low``, ``share_ratio_high``, ``share_p_value``, ``share_q_value``,
        ``share_direction``, ``versus_city``; ``early_rate`` (the first third's rate per year),
        ``hot_before_z``, ``hot_before``, ``label``; with an adjacency also ``pooled_units``,
        ``pooled_events``, ``pooled_rate_ratio_per_year``, ``pooled_rate_ratio_low``,
        ``pooled_rate_ratio_high``, ``pooled_p_value``, ``pooled_q_value``,
        ``pooled_direction``, ``trend_lisa_i``, ``trend_lisa_p``, ``trend_lisa_q``,
        ``trend_cluster``.

    Raises
    ------
    DataError
        Fewer than :data:`MIN_STEPS` steps, counts that are not whole non-negative numbers, or
        no event at all.
    OptionError
        An option out of range, or an adjacency, dates or ids that do not match the counts.

    Examples
    --------
    Twelve units over four years of months; unit ``a`` doubles in the last year.

    >>> rng = np.random.default_rng(0)
    >>> steps = pd.date_range("2020-01-01", periods=48, freq="MS")
    >>> rate = np.full((12, 48), 6.0); rate[0, 36:] = 12.0
    >>> counts = rng.poisson(rate)
    >>> result = detect_trends(counts, step_starts=steps, unit_ids=list("abcdefghijkl"))
    >>> result.units.loc["a", ["direction", "label"]].tolist()
    ['rising', 'emerging']
    >>> int((result.units["direction"] != "stable").sum())
    1
    >>> str(result.units.loc["a", "change_start"].date())
    '2023-01-01'
    """
    notes: list[str] = []
    if fdr not in FDR_METHODS:
        raise OptionError.expected("fdr", fdr, FDR_METHODS)
    for name, value in (("alpha", alpha), ("confidence", confidence)):
        if not 0 < value < 1:
            raise OptionError(f"{name!r} was {value!r} but must be between 0 and 1")
    if exact_max_events < 0:
        raise OptionError(f"'exact_max_events' was {exact_max_events!r} but must be 0 or more")
    if lisa_permutations < 1:
        raise OptionError(f"'lisa_permutations' was {lisa_permutations!r} but must be 1 or more")

    y, ids, step_starts = _read_counts(counts, unit_ids, step_starts)
    n_units, n_steps = y.shape
    if n_steps < MIN_STEPS:
        raise DataError(
            f"a trend needs at least {MIN_STEPS} steps (two parameters and four degrees of "
            f"freedom for the dispersion); the counts have {n_steps} (use a longer period or "
            "a shorter step)"
        )
    if y.sum() == 0:
        raise DataError(
            f"no unit has any event in the {n_steps} steps: there is no trend to find (check "
            "the period, the category filter and the units)"
        )
    axis = _time_axis(n_steps, step_starts, steps_per_year, notes)
    spy = axis.steps_per_year
    matrix = _adjacency(adjacency, n_units)
    scale, rate_note = _rate_scale(population, ids)
    city = y.sum(axis=0)
    adjusted = axis.cycles + 1e-9 >= MIN_SEASON_CYCLES
    if adjusted:
        season = city_season(city, axis.season_key, axis.block_key)
    else:
        season = np.ones(n_steps)
        notes.append(
            f"the period covers {axis.cycles:.1f} years, less than the {MIN_SEASON_CYCLES} "
            "yearly cycles needed to tell the season from a trend: the city's yearly cycle is "
            "not adjusted, so part of a trend may be the season"
        )

    min_segment = max(1, min(round(spy / 2), n_steps // 4))
    splits = scan_splits(n_steps, min_segment)
    fit, scan, p_value, z = _changed(y, season, axis.x, splits, confidence, exact_max_events)
    events = fit.events
    empty = events == 0
    if empty.any():
        notes.append(
            f"{int(empty.sum())} units have no event at all: they are stable, with no ratio"
        )
    q_value = adjust_p(p_value, fdr)
    direction = _directions(q_value, z, alpha)

    if rate_note:
        notes.append(rate_note)
    year_steps = max(1, min(n_steps, round(spy)))
    table = pd.DataFrame(index=pd.Index(ids, name="unit_id"))
    table["events"] = events.astype(np.int64)
    table["rate_per_year"] = events / (n_steps / spy) * scale
    table["rate_first_year"] = y[:, :year_steps].sum(axis=1) / (year_steps / spy) * scale
    table["rate_last_year"] = y[:, -year_steps:].sum(axis=1) / (year_steps / spy) * scale
    if population is not None:
        table["population"] = RATE_PER / scale
    table["rate_ratio_per_year"] = np.exp(fit.slope)
    table["rate_ratio_low"] = np.exp(fit.low)
    table["rate_ratio_high"] = np.exp(fit.high)
    table["log_rate_ratio"] = fit.slope
    table["log_rate_ratio_se"] = fit.se
    table["dispersion"] = fit.dispersion
    table["trend_z"] = fit.z
    table["trend_p_value"] = fit.p_value
    table["change_statistic"] = np.where(empty, np.nan, scan.statistic * scan.sign)
    table["change_p_value"] = scan.p_value
    table["test"] = np.where(empty, "none", np.where(fit.exact, "exact", "asymptotic"))
    table["p_value"] = p_value
    table["q_value"] = q_value
    table["direction"] = direction

    table = table.join(
        _change_table(y, season, fit, scan.dispersion, direction, axis, confidence).set_index(
            table.index
        )
    )
    table = table.join(
        _share_table(
            y, city, axis.x, confidence, exact_max_events, fdr, alpha, direction
        ).set_index(table.index)
    )

    early_steps = max(1, int(np.ceil(n_steps * EARLY_FRACTION)))
    early_counts = y[:, :early_steps].sum(axis=1)
    early_rate = early_counts / (early_steps / spy)
    with_rates = population is not None and np.isfinite(scale).all()
    if with_rates:
        early_rate = early_rate * scale
    hot_z, hot_q = _hot_before(early_counts, RATE_PER / scale if with_rates else None, matrix, fdr)
    hot_before = (hot_z > 0) & (hot_q <= alpha)
    table["early_rate"] = early_rate
    table["hot_before_z"] = hot_z
    table["hot_before"] = hot_before
    table["label"] = _labels(direction, hot_before)

    if matrix is not None:
        table = table.join(
            _pooled_table(
                y, matrix, season, axis.x, splits, confidence, exact_max_events, fdr, alpha
            ).set_index(table.index)
        )
        table = table.join(
            _trend_lisa(fit.z, matrix, lisa_permutations, seed, alpha, fdr).set_index(table.index)
        )

    usable = np.clip(np.nan_to_num(fit.slope, nan=0.0), -50.0, 50.0)
    fitted, _ = _expected(usable, events, season, axis.x)
    trend_line = fitted / season[None, :]
    trend_line[:, season == 0] = np.nan
    city_fit = fit_trend(city[None, :], season, axis.x, confidence=confidence)
    city_row = pd.Series(
        {
            "events": int(city.sum()),
            "rate_ratio_per_year": float(np.exp(city_fit.slope[0])),
            "rate_ratio_low": float(np.exp(city_fit.low[0])),
            "rate_ratio_high": float(np.exp(city_fit.high[0])),
            "p_value": float(city_fit.p_value[0]),
            "dispersion": float(city_fit.dispersion[0]),
            "direction": _directions(city_fit.p_value, city_fit.z, alpha)[0],
        }
    )
    options = {
        "alpha": alpha,
        "fdr": fdr,
        "confidence": confidence,
        "exact_max_events": exact_max_events,
        "lisa_permutations": lisa_permutations,
        "seed": seed,
        "steps_per_year": spy,
        "season_adjusted": adjusted,
        "early_steps": early_steps,
        "min_segment": min_segment,
    }
    return TrendResult(
        units=table,
        city=city_row,
        fitted=fitted,
        trend_line=trend_line,
        season=season,
        step_starts=axis.step_starts,
        steps_per_year=spy,
        notes=notes,
        options=options,
    )


def _read_counts(counts, unit_ids, step_starts):
    if isinstance(counts, pd.DataFrame):
        values = counts.to_numpy()
        if unit_ids is None:
            unit_ids = counts.index
        if step_starts is None and isinstance(counts.columns, pd.DatetimeIndex):
            step_starts = counts.columns
    else:
        values = np.asarray(counts)
    if values.ndim != 2:
        raise OptionError(
            f"'counts' must be 2-dimensional (units x steps); it has shape {values.shape}"
        )
    try:
        y = values.astype(float)
    except (TypeError, ValueError) as error:
        raise DataError(f"the counts must be numbers of events: {error}") from None
    bad = ~np.isfinite(y) | (y < 0) | (y != np.round(y))
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise DataError(
            f"the counts must be whole numbers of events, at least 0; {int(bad.sum())} cells "
            f"are not (first: unit row {row}, step {column}: {values[row, column]!r})"
        )
    ids = pd.Index(range(y.shape[0]) if unit_ids is None else unit_ids, name="unit_id")
    if len(ids) != y.shape[0]:
        raise OptionError(f"'unit_ids' has {len(ids)} ids but the counts have {y.shape[0]} rows")
    return y, ids, step_starts


def _adjacency(adjacency, n_units: int) -> sparse.csr_array | None:
    if adjacency is None:
        return None
    matrix = sparse.csr_array(adjacency, dtype=float)
    if matrix.shape != (n_units, n_units):
        raise OptionError(
            f"'adjacency' has shape {matrix.shape} but the counts have {n_units} units: it must "
            "be square, in the units' order"
        )
    matrix = sparse.csr_array((matrix != 0).astype(float))
    matrix.setdiag(0)
    matrix.eliminate_zeros()
    return matrix


def _rate_scale(population, ids: pd.Index) -> tuple[np.ndarray, str | None]:
    if population is None:
        return np.ones(len(ids)), None
    if isinstance(population, pd.Series):
        residents = population.reindex(ids).to_numpy(dtype=float)
    else:
        residents = np.asarray(population, dtype=float)
        if residents.shape != (len(ids),):
            raise OptionError(
                f"'population' has {residents.size} values but there are {len(ids)} units"
            )
    unknown = ~(residents > 0)
    note = (
        "rates are per 100,000 residents per year; with one population per unit a unit's rate "
        "ratio and its test are those of its counts"
    )
    if unknown.any():
        named = ", ".join(map(str, ids[unknown][:10]))
        note += f"; {int(unknown.sum())} units have no population ({named}): no rate for them"
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(unknown, np.nan, RATE_PER / residents)
    return scale, note


def _directions(q_value: np.ndarray, z: np.ndarray, alpha: float) -> np.ndarray:
    significant = np.nan_to_num(q_value, nan=1.0) <= alpha
    return np.select(
        [significant & (z > 0), significant & (z < 0)], ["rising", "falling"], default="stable"
    ).astype(object)


def _labels(direction: np.ndarray, hot_before: np.ndarray) -> np.ndarray:
    rising = direction == "rising"
    falling = direction == "falling"
    return np.select(
        [rising & ~hot_before, rising & hot_before, falling & hot_before, falling & ~hot_before],
        ["emerging", "intensifying", "fading", "cooling"],
        default="stable",
    ).astype(object)


def _change_table(y, season, fit: TrendFit, dispersion, direction, axis: _TimeAxis, confidence):
    n_units, n_steps = y.shape
    changed = direction != "stable"
    sign = np.where(direction == "rising", 1.0, np.where(direction == "falling", -1.0, 0.0))
    columns = {
        "change_step": pd.array([pd.NA] * n_units, dtype="Int64"),
        "change_step_low": pd.array([pd.NA] * n_units, dtype="Int64"),
        "change_step_high": pd.array([pd.NA] * n_units, dtype="Int64"),
    }
    table = pd.DataFrame(columns)
    table["change_kind"] = pd.Series([None] * n_units, dtype=object)
    table["rate_before_change"] = np.nan
    table["rate_after_change"] = np.nan
    rows = np.flatnonzero(changed)
    if len(rows):
        found = change_points(y[rows], season, dispersion[rows], sign[rows], confidence=confidence)
        for column in ("change_step", "change_step_low", "change_step_high"):
            table.loc[rows, column] = found[column].to_numpy()
        table.loc[rows, "rate_before_change"] = (
            found["rate_before_change"].to_numpy() * axis.steps_per_year
        )
        table.loc[rows, "rate_after_change"] = (
            found["rate_after_change"].to_numpy() * axis.steps_per_year
        )
        # Poisson log-likelihoods, constants shared by both models left out
        with np.errstate(invalid="ignore"):
            loglinear = np.where(
                np.isfinite(fit.slope[rows]),
                fit.events[rows] * fit.intercept[rows] + fit.slope[rows] * (y[rows] @ axis.x),
                np.inf,
            )
        # the two-rate profile counts each segment's rate per unit weight: the same scale as
        # the log-linear model's a + b x (both add sum_t y_t log w_t - N to the log-likelihood)
        gain = 2 * (found["two_rate_log_likelihood"].to_numpy() - loglinear)
        step_like = gain / dispersion[rows] > np.log(n_steps)
        table.loc[rows, "change_kind"] = np.where(step_like, "step", "gradual")
    starts = axis.step_starts
    for column, source in (
        ("change_start", "change_step"),
        ("change_start_low", "change_step_low"),
        ("change_start_high", "change_step_high"),
    ):
        if starts is None:
            table[column] = pd.NaT
        else:
            step = table[source]
            values = [starts[int(s)] if pd.notna(s) else pd.NaT for s in step]
            table[column] = pd.Series(values, dtype=starts.dtype)
    return table


def _share_table(y, city, x, confidence, exact_max_events, fdr, alpha, direction):
    n_units = y.shape[0]
    total = city.sum()
    events = y.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.clip((total - events) / (total - 1), 0.0, 1.0)
    share = fit_trend(
        y,
        city,
        x,
        confidence=confidence,
        exact_max_events=exact_max_events,
        finite_population=factor,
    )
    p = np.where(factor > 0, share.p_value, np.nan)
    q = adjust_p(p, fdr)
    share_direction = _directions(q, share.z, alpha)
    versus = np.select(
        [share_direction == "rising", share_direction == "falling"],
        ["above the city", "below the city"],
        default="with the city",
    ).astype(object)
    return pd.DataFrame(
        {
            "share_ratio_per_year": np.exp(share.slope),
            "share_ratio_low": np.exp(share.low),
            "share_ratio_high": np.exp(share.high),
            "share_p_value": p,
            "share_q_value": q,
            "share_direction": share_direction,
            "versus_city": np.where(events > 0, versus, None) if n_units else versus,
        }
    )


def _pooled_table(y, matrix, season, x, splits, confidence, exact_max_events, fdr, alpha):
    pooled = y + matrix @ y
    pooled_fit, _, p_value, z = _changed(pooled, season, x, splits, confidence, exact_max_events)
    q = adjust_p(p_value, fdr)
    return pd.DataFrame(
        {
            "pooled_units": np.asarray(matrix.sum(axis=1)).ravel().astype(np.int64) + 1,
            "pooled_events": pooled_fit.events.astype(np.int64),
            "pooled_rate_ratio_per_year": np.exp(pooled_fit.slope),
            "pooled_rate_ratio_low": np.exp(pooled_fit.low),
            "pooled_rate_ratio_high": np.exp(pooled_fit.high),
            "pooled_p_value": p_value,
            "pooled_q_value": q,
            "pooled_direction": _directions(q, z, alpha),
        }
    )


def step_dispersion(counts: np.ndarray, weights: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Pearson's dispersion of the two-rate model split at ``step`` (floored at 1).

    The rate is ``y_before / w_before`` before the split and ``y_after / w_after`` from it on;
    ``X^2 / (n - 4)``: two rates and, roughly, two degrees of freedom for the split chosen as the
    best. A sudden change inflates the dispersion of a straight log-linear fit (its residuals
    hold the jump), so the change scan takes its dispersion from the model it tests: a jump from
    one a month to fifty is not mistaken for noise.

    Examples
    --------
    >>> y = np.array([[1, 0, 1, 2, 1, 1, 0, 1, 30, 28, 31, 29]])
    >>> float(step_dispersion(y, np.ones(12), np.array([8]))[0])
    1.0
    """
    y = np.asarray(counts, dtype=float)
    w = np.asarray(weights, dtype=float)[None, :]
    n_steps = y.shape[1]
    after = np.arange(n_steps)[None, :] >= np.asarray(step)[:, None]
    w_after = (w * after).sum(axis=1)
    w_before = w.sum() - w_after
    y_after = (y * after).sum(axis=1)
    y_before = y.sum(axis=1) - y_after
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(
            after,
            np.nan_to_num(y_after / w_after)[:, None],
            np.nan_to_num(y_before / w_before)[:, None],
        )
        mu = rate * w
        x2 = np.where(mu > 0, (y - mu) ** 2 / mu, 0.0).sum(axis=1)
    return np.fmax(x2 / max(n_steps - 4, 1), 1.0)


def _changed(y, season, x, splits, confidence, exact_max_events):
    """The trend, the change scan, and their combination: ``min(1, 2 min(p_trend, p_change))``.

    The sign of the combined test is that of whichever of the two is the more significant. The
    scan's dispersion is that of the two-rate model at the best split (:func:`step_dispersion`),
    not the straight line's.
    """
    fit = fit_trend(y, season, x, confidence=confidence, exact_max_events=exact_max_events)
    located = scan_changes(y, season, np.ones(len(y)), splits, exact_max_events=0)
    dispersion = np.where(
        located.step >= 0, step_dispersion(y, season, np.maximum(located.step, 0)), 1.0
    )
    scan = scan_changes(y, season, dispersion, splits, exact_max_events=exact_max_events)
    p_value = np.minimum(1.0, 2 * np.fmin(fit.p_value, scan.p_value))
    p_value[fit.events == 0] = np.nan
    trend_first = ~(scan.p_value < fit.p_value)
    z = np.where(trend_first, np.sign(fit.z), scan.sign)
    return fit, scan, p_value, z


@dataclass(frozen=True)
class TrendOptions:
    """The options of :func:`detect_trends` that a run sets (the ``trends`` command's flags).

    Examples
    --------
    >>> TrendOptions().alpha, TrendOptions(alpha=0.1).fdr
    (0.05, 'bh')
    """

    alpha: float = 0.05
    fdr: str = "bh"
    confidence: float = 0.95
    exact_max_events: int = EXACT_MAX_EVENTS
    lisa_permutations: int = 999
    seed: int = 12345
