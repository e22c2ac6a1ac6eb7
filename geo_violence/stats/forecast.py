"""Each unit's expected count in the next steps, with a prediction interval: a pooled
negative-binomial regression on several time scales of the unit's history, its neighbours' and
the season.

The model
---------
For a lead ``k`` (1 for the next step, up to ``horizon``), unit ``i`` and step ``s``, the count
``y[i, s]`` is negative binomial with mean ``mu`` and variance ``mu + alpha_k mu^2`` (NB2), and

.. code-block:: text

    log mu[i, s] = b0 + sum_w b_w log m_w[i] + b_all log m_all[i] + sum_w c_w log n_w[i]
                   + season(s)

where, from the steps before ``o = s - k + 1`` only:

- ``m_w`` is the unit's mean over its last ``w`` steps (``windows``; for weeks the last 1, 4, 13
  and 52), with half an event added to the window's total, ``(total + 0.5) / w``, so that a
  window with no event has a finite logarithm;
- ``m_all`` is the unit's mean over every step before ``o`` (the long run), likewise;
- ``n_w`` is the mean of its neighbours' totals over their last ``w`` steps
  (``neighbour_windows``, for weeks 4 and 52) divided by ``w``, likewise (a unit with no
  neighbour counts as its own neighbourhood);
- ``season(s)`` is two harmonics of the time of year of step ``s`` (and, for days, the day of
  the week); it needs ``step_starts``.

One model per lead (a direct forecast): the model of lead ``k`` is fitted on the pairs (features
at ``o``, count at ``o + k - 1``) of every unit and of the last ``train_steps`` steps before the
origin, so nothing after the origin is used. The coefficients are pooled over units: a unit's
level comes from its own history through the features, not from a parameter of its own. Fitting is
maximum likelihood, by turns: the likelihood equation of ``alpha`` given the means, then a Fisher
scoring step of the coefficients given ``alpha`` (their information matrix is block-diagonal), from
a Poisson fit, until the coefficients settle; :mod:`statsmodels`' ``NegativeBinomial`` (NB2) gives
the same estimates.

The interval
------------
The interval ``[low, high]`` of each unit and step comes from the negative-binomial predictive
distribution with the fitted mean and ``alpha`` (the coefficients' own uncertainty is left out:
with thousands of unit-steps per fit it is small next to the count's). Counts are discrete, so no
interval has probability ``level`` exactly: ``low`` is the count whose lower tail ``P(Y < low)``
comes nearest ``(1 - level) / 2``, and ``high`` the count that brings the interval's probability
nearest ``level`` (:func:`nb_interval`). The intervals are so neither conservative nor liberal by
construction; :attr:`Forecast.probability` gives each one's probability under the model, and over
many units and steps the share of counts inside comes near its mean (near ``level``, higher where
most expected counts are far below one, since ``[0, 0]`` is then the shortest interval).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..errors import DataError, OptionError

#: The longest horizon the model is fitted for (a quarter of weeks): beyond it the features at the
#: origin say little more than the long-run mean, and every step of lead costs a step of training.
MAX_HORIZON = 13
#: Default time scales per step length: own windows, neighbour windows, steps in a year.
STEP_DEFAULTS = {
    "week": ((1, 4, 13, 52), (4, 52), 52),
    "month": ((1, 3, 6, 12), (3, 12), 12),
    "day": ((1, 7, 28, 91, 364), (7, 91), 364),
}
#: Training target steps, in years of steps (the default ``train_steps`` is 3 years).
TRAIN_YEARS = 3
#: Half an event added to each window's total before the logarithm.
PSEUDO_COUNT = 0.5
#: ``alpha`` below this is Poisson (no overdispersion to speak of).
MIN_DISPERSION = 1e-8
_MAX_ITERATIONS = 100
#: Rows of the subsample that gives the full fit its starting point.
_SUBSAMPLE_ROWS = 8000


@dataclass(frozen=True)
class Forecast:
    """What :func:`forecast_counts` gives: expected counts and prediction intervals.

    Attributes
    ----------
    mean : numpy.ndarray
        Expected count of each unit in each of the next ``horizon`` steps, shape
        ``(n_units, horizon)``.
    low, high : numpy.ndarray
        Ends of the prediction interval at ``level`` (counts, both included), same shape.
    probability : numpy.ndarray
        The model's probability of each interval (near ``level``; counts are discrete).
    level : float
        The interval's nominal probability.
    dispersion : numpy.ndarray
        ``alpha`` of each lead (variance ``mu + alpha mu^2``), shape ``(horizon,)``.
    coefficients : pandas.DataFrame
        One row per term (``intercept``, ``own_1``, ..., ``own_all``, ``neighbours_4``, ...,
        ``season_*``), one column per lead (``1``..``horizon``).
    step_starts : pandas.DatetimeIndex or None
        Starts of the forecast steps (when ``step_starts`` was given).
    training_rows : int
        Unit-steps the last lead's model was fitted on (the fewest of any lead).
    model : str
        The model in one line.
    """

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    probability: np.ndarray
    level: float
    dispersion: np.ndarray
    coefficients: pd.DataFrame
    step_starts: pd.DatetimeIndex | None
    training_rows: int
    model: str

    @property
    def total(self) -> np.ndarray:
        """Expected count of each unit over the whole horizon (what units are ranked by)."""
        return self.mean.sum(axis=1)


def forecast_counts(
    counts: np.ndarray,
    adjacency: sparse.sparray | sparse.spmatrix | np.ndarray | None = None,
    *,
    step_starts: pd.DatetimeIndex | None = None,
    horizon: int = 1,
    level: float = 0.9,
    windows: tuple[int, ...] | None = None,
    neighbour_windows: tuple[int, ...] | None = None,
    train_steps: int | None = None,
    start: Forecast | None = None,
) -> Forecast:
    """Expected count of each unit in each of the next ``horizon`` steps, with intervals.

    The model (this module's docstring) is fitted on ``counts`` alone: the forecast is of the
    steps that follow its last column.

    Parameters
    ----------
    counts : numpy.ndarray
        Counts per unit and step, shape ``(n_units, n_steps)``, in time order, every unit in every
        step (zeros included).
    adjacency : sparse matrix or array, optional
        Binary spatial neighbours of the units (``Neighbours.matrix``, in the rows' order). Without
        it the model has no neighbour terms.
    step_starts : pandas.DatetimeIndex, optional
        Start of each step (weeks, months or days, evenly spaced). Without it the model has no
        season and uses the weekly time scales.
    horizon : int
        Steps ahead, 1 to :data:`MAX_HORIZON`.
    level : float
        Probability of the prediction intervals, in (0, 1).
    windows : tuple of int, optional
        The unit's own time scales, in steps (by default 1, 4, 13 and 52 weeks; 1, 3, 6 and 12
        months; 1, 7, 28, 91 and 364 days).
    neighbour_windows : tuple of int, optional
        The neighbours' time scales, in steps (by default 4 and 52 weeks; 3 and 12 months; 7 and
        91 days). Empty for no neighbour terms.
    train_steps : int, optional
        Steps before the origin whose counts the model is fitted on (by default three years of
        steps). At least a year of steps.
    start : Forecast, optional
        An earlier forecast of the same model (the same terms and horizon), such as the previous
        origin's in a backtest: each lead's fit starts from its coefficients and dispersion
        instead of from a Poisson fit. The fit is the same maximum of the likelihood (to the
        fit's tolerance), reached in fewer steps; a start of another model is ignored.

    Returns
    -------
    Forecast

    Raises
    ------
    DataError
        Counts that are negative, not whole or not finite; a history shorter than the model needs
        (the longest window, plus a year of steps to fit on, plus ``horizon - 1``); no event in
        the steps the model is fitted on.
    OptionError
        A horizon outside 1..:data:`MAX_HORIZON`, a level outside (0, 1), windows that are not
        positive, step starts that are not evenly spaced weeks, months or days, an adjacency of
        the wrong shape.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> rates = np.array([0.5, 1.0, 2.0, 4.0])[:, None]
    >>> counts = rng.poisson(rates * np.ones((4, 160)))
    >>> result = forecast_counts(counts, horizon=2)
    >>> result.mean.shape, np.argsort(-result.total).tolist()
    ((4, 2), [3, 2, 1, 0])
    >>> bool((result.low <= result.mean).all() and (result.mean <= result.high).all())
    True
    """
    y = _check_counts(counts)
    n_units, n_steps = y.shape
    horizon = _check_horizon(horizon)
    if not 0 < level < 1:
        raise OptionError(f"'level' was {level!r} but is expected to be between 0 and 1")
    step = "week"
    starts = None
    if step_starts is not None:
        starts = pd.DatetimeIndex(step_starts)
        if len(starts) != n_steps:
            raise OptionError(
                f"'step_starts' has {len(starts)} dates but counts has {n_steps} steps"
            )
        step = infer_step(starts)
    default_windows, default_neighbour, year = STEP_DEFAULTS[step]
    windows = _check_windows("windows", default_windows if windows is None else windows)
    if adjacency is None:
        neighbour_windows = ()
    elif neighbour_windows is None:
        neighbour_windows = default_neighbour
    neighbour_windows = _check_windows("neighbour_windows", neighbour_windows, allow_empty=True)
    if train_steps is None:
        train_steps = TRAIN_YEARS * year
    if int(train_steps) != train_steps or train_steps < year:
        raise OptionError(
            f"'train_steps' was {train_steps!r} but is expected to be a whole number of steps, at "
            f"least a year ({year} {step}s)"
        )
    needed = history_needed(horizon, step=step, windows=windows)
    if n_steps < needed:
        raise DataError(
            f"the forecast needs at least {needed} {step}s of history for a horizon of {horizon} "
            f"(its longest window, {max(windows)} {step}s, plus a year, {year} {step}s, to fit "
            f"on, plus {horizon - 1} for the horizon); counts has {n_steps}"
        )
    neighbours = _neighbour_matrix(adjacency, n_units) if neighbour_windows else None
    future = _future_starts(starts, step, horizon) if starts is not None else None

    cumulative = np.concatenate([np.zeros((n_units, 1)), np.cumsum(y, axis=1)], axis=1)
    longest = max(windows)
    names = ["intercept", *[f"own_{w}" for w in windows], "own_all"]
    names += [f"neighbours_{w}" for w in neighbour_windows]
    season_names = _season_names(step) if starts is not None else []
    names += season_names

    means = np.empty((n_units, horizon))
    dispersion = np.empty(horizon)
    coefficients = np.empty((len(names), horizon))
    training_rows = 0
    point = _design(cumulative, np.array([n_steps]), windows, neighbour_windows, neighbours)
    point = point.reshape(n_units, -1)
    for lead in range(1, horizon + 1):
        # Target steps s with a complete longest window at o = s - lead + 1.
        first = max(longest + lead - 1, n_steps - int(train_steps))
        targets = np.arange(first, n_steps)
        origins = targets - lead + 1
        design = _design(cumulative, origins, windows, neighbour_windows, neighbours)
        response = y[:, targets].reshape(-1)
        if response.sum() == 0:
            raise DataError(
                f"counts has no event in the {len(targets)} {step}s the forecast is fitted on: "
                "there is nothing to forecast from"
            )
        design = design.reshape(-1, design.shape[-1])
        if season_names:
            season = _season(starts[targets], step)
            design = np.concatenate([design, np.tile(season, (n_units, 1))], axis=1)
        design = np.concatenate([np.ones((len(design), 1)), design], axis=1)
        warm = start is not None and list(start.coefficients.index) == names
        warm = warm and start.coefficients.shape[1] == horizon
        beta, alpha = fit_negative_binomial(
            design,
            response,
            start=start.coefficients.iloc[:, lead - 1].to_numpy() if warm else None,
            alpha_start=float(start.dispersion[lead - 1]) if warm else None,
        )
        at = point
        if season_names:
            at = np.concatenate(
                [at, np.repeat(_season(future[lead - 1 : lead], step), n_units, 0)], axis=1
            )
        at = np.concatenate([np.ones((n_units, 1)), at], axis=1)
        means[:, lead - 1] = np.exp(at @ beta)
        dispersion[lead - 1] = alpha
        coefficients[:, lead - 1] = beta
        training_rows = len(response)
    low, high, probability = nb_interval(means, dispersion[None, :], level)
    terms = f"own {', '.join(map(str, windows))} {step}s and the long run"
    if neighbour_windows:
        terms += f"; neighbours {', '.join(map(str, neighbour_windows))} {step}s"
    if season_names:
        terms += "; season"
    return Forecast(
        mean=means,
        low=low,
        high=high,
        probability=probability,
        level=float(level),
        dispersion=dispersion,
        coefficients=pd.DataFrame(
            coefficients, index=pd.Index(names, name="term"), columns=range(1, horizon + 1)
        ),
        step_starts=future,
        training_rows=training_rows,
        model=(
            f"negative binomial (NB2) regression pooled over {n_units} units, one per lead, on "
            f"the log of the mean counts of {terms}; fitted on {training_rows} unit-{step}s"
        ),
    )


def history_needed(
    horizon: int = 1, *, step: str = "week", windows: tuple[int, ...] | None = None
) -> int:
    """Steps of history :func:`forecast_counts` needs for ``horizon``.

    The longest window must be complete at the origin of every step the model is fitted on, and
    it is fitted on at least a year of steps.

    Examples
    --------
    >>> history_needed(1), history_needed(4), history_needed(1, step="month")
    (104, 107, 24)
    """
    default_windows, _, year = STEP_DEFAULTS[step]
    longest = max(default_windows if windows is None else windows)
    return int(longest + year + horizon - 1)


def infer_step(step_starts: pd.DatetimeIndex) -> str:
    """``week``, ``month`` or ``day``: the spacing of ``step_starts``.

    Examples
    --------
    >>> infer_step(pd.date_range("2024-01-01", periods=3, freq="7D"))
    'week'
    >>> infer_step(pd.date_range("2024-01-01", periods=3, freq="MS"))
    'month'
    """
    starts = pd.DatetimeIndex(step_starts)
    if starts.tz is not None:
        starts = starts.tz_localize(None)
    if len(starts) < 2:
        raise OptionError("'step_starts' needs at least two dates to tell the step length")
    days = np.round(np.diff(starts.to_numpy()) / np.timedelta64(1, "D")).astype(int)
    if (days == 7).all():
        return "week"
    if (days == 1).all():
        return "day"
    if ((days >= 28) & (days <= 31)).all() and (starts.day == starts[0].day).all():
        return "month"
    raise OptionError(
        "'step_starts' are not evenly spaced weeks, months or days "
        f"(gaps between {days.min()} and {days.max()} days)"
    )


def fit_negative_binomial(
    design: np.ndarray,
    response: np.ndarray,
    *,
    start: np.ndarray | None = None,
    alpha_start: float | None = None,
) -> tuple[np.ndarray, float]:
    """Maximum-likelihood NB2 regression with a log link: coefficients and ``alpha``.

    The likelihood equation of ``alpha`` given the means, and a Fisher scoring step of the
    coefficients given ``alpha``, in turn from a Poisson fit (on a subsample of the rows first
    when there are many). ``alpha`` is at least
    :data:`MIN_DISPERSION` (the Poisson limit).

    Parameters
    ----------
    design : numpy.ndarray
        Shape ``(n, p)``, with the intercept column.
    response : numpy.ndarray
        Counts, shape ``(n,)``.
    start : numpy.ndarray, optional
        Starting coefficients.
    alpha_start : float, optional
        Starting ``alpha``; with ``start``, the fit starts there, with no Poisson fit first (a
        warm start from a nearby fit).

    Returns
    -------
    tuple of (numpy.ndarray, float)

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=4000)
    >>> mu = np.exp(0.5 + 0.3 * x)
    >>> y = rng.negative_binomial(1 / 0.5, 1 / (1 + 0.5 * mu))
    >>> beta, alpha = fit_negative_binomial(np.column_stack([np.ones_like(x), x]), y)
    >>> np.round(beta, 1).tolist(), round(alpha, 1)
    ([0.5, 0.3], 0.5)
    """
    x = np.asarray(design, dtype=float)
    y = np.asarray(response, dtype=float)
    start_given = start is not None
    if start is None:
        start = np.zeros(x.shape[1])
        start[0] = np.log(max(y.mean(), 1e-12))
    beta = np.asarray(start, dtype=float)
    if alpha_start is not None and start_given and np.all(np.isfinite(beta)):
        return _alternate(x, y, beta, max(float(alpha_start), MIN_DISPERSION), tolerance=1e-8)
    alpha = None
    if len(y) > 2 * _SUBSAMPLE_ROWS:
        # The whole fit on every k-th row first: the full-data iterations then start near the end.
        every = len(y) // _SUBSAMPLE_ROWS + 1
        beta, alpha = _alternate(x[::every], y[::every], beta, None, tolerance=1e-4)
    return _alternate(x, y, beta, alpha, tolerance=1e-8)


def _alternate(
    x: np.ndarray, y: np.ndarray, beta: np.ndarray, alpha: float | None, *, tolerance: float
) -> tuple[np.ndarray, float]:
    """Joint ML by turns: ``alpha`` given the means, then one scoring step of the coefficients
    given ``alpha`` (their information is block-diagonal, so the turns converge like Newton's
    method), until no coefficient moves more than ``tolerance`` (from a Poisson fit when
    ``alpha`` is None)."""
    if alpha is None:
        beta = _scoring(x, y, beta, 0.0, tolerance=tolerance)
        alpha = 0.1
    for _ in range(_MAX_ITERATIONS):
        mu = np.exp(np.clip(x @ beta, -50, 50))
        alpha = _dispersion(y, mu, alpha, tolerance=1e-6)
        weight = mu / (1.0 + alpha * mu)
        weighted = x.T * weight
        delta = _solve(weighted @ x, weighted @ ((y - mu) / mu))
        beta = beta + delta
        if np.max(np.abs(delta)) < tolerance:
            break
    return beta, _dispersion(y, np.exp(np.clip(x @ beta, -50, 50)), alpha)


def _solve(information: np.ndarray, score: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(information, score)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(information, score, rcond=None)[0]


def nb_interval(
    mean: np.ndarray, alpha: np.ndarray | float, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prediction interval of NB2 counts, and its probability under the model.

    ``low`` is the count whose lower tail, ``P(Y < low)``, comes nearest ``(1 - level) / 2``;
    ``high`` is then the count that brings the interval's probability nearest ``level``. With
    discrete counts no interval has probability ``level`` exactly; these come as near as the
    counts allow, on either side, so that over many units they cover about ``level``.

    Examples
    --------
    >>> low, high, p = nb_interval(np.array([0.5, 10.0]), 1e-8, 0.9)
    >>> low.tolist(), high.tolist(), np.round(p, 3).tolist()
    ([0.0, 6.0], [1.0, 16.0], [0.91, 0.906])
    """
    mu = np.asarray(mean, dtype=float)
    alpha = np.broadcast_to(np.maximum(np.asarray(alpha, dtype=float), MIN_DISPERSION), mu.shape)
    size = 1.0 / alpha
    dist = stats.nbinom(size, size / (size + mu))

    def nearest(target: np.ndarray) -> np.ndarray:
        # The count c (-1 for none) whose cdf F(c) comes nearest target.
        above = dist.ppf(target)
        below = above - 1
        f_above = dist.cdf(above)
        f_below = np.where(below >= 0, dist.cdf(below), 0.0)
        return np.where(target - f_below < f_above - target, below, above)

    tail = (1.0 - level) / 2.0
    low = nearest(np.full(mu.shape, tail)) + 1
    below_low = np.where(low > 0, dist.cdf(low - 1), 0.0)
    high = np.maximum(nearest(np.minimum(below_low + level, 1.0 - 1e-12)), low)
    probability = dist.cdf(high) - below_low
    return low.astype(float), high.astype(float), probability


def _scoring(
    x: np.ndarray, y: np.ndarray, beta: np.ndarray, alpha: float, *, tolerance: float = 1e-9
) -> np.ndarray:
    """Fisher scoring (IRLS) of the NB2 log-link coefficients for a fixed ``alpha``, until no
    coefficient moves more than ``tolerance``."""
    for _ in range(_MAX_ITERATIONS):
        eta = np.clip(x @ beta, -50, 50)
        mu = np.exp(eta)
        weight = mu / (1.0 + alpha * mu)
        weighted = x.T * weight
        # Newton step on the score: X'W X delta = X' (y - mu) / (1 + alpha mu)
        delta = _solve(weighted @ x, weighted @ ((y - mu) / mu))
        beta = beta + delta
        if np.max(np.abs(delta)) < tolerance:
            break
    return beta


def _dispersion(
    y: np.ndarray, mu: np.ndarray, start: float = 0.1, *, tolerance: float = 1e-10
) -> float:
    """ML ``alpha`` of NB2 counts with known means: the root of the score in ``u = log r``,
    ``r = 1 / alpha``, by Newton's method kept inside a bracket (bisection when a step leaves it).
    :data:`MIN_DISPERSION` when the likelihood rises all the way to the Poisson limit."""
    # sum_i sum_{j < y_i} log(r + j) = sum_j N(y > j) log(r + j): one term per count value.
    exceed = np.bincount(y.astype(np.int64))[::-1].cumsum()[::-1][1:].astype(float)
    steps = np.arange(len(exceed), dtype=float)

    def derivatives(u: float) -> tuple[float, float]:
        r = np.exp(u)
        rm = r + mu
        first = (exceed / (r + steps)).sum() + (np.log(r / rm) + (mu - y) / rm).sum()
        second = -(exceed / (r + steps) ** 2).sum() + (1.0 / r - 1.0 / rm - (mu - y) / rm**2).sum()
        return r * first, r * first + r * r * second

    low, high = np.log(1e-4), np.log(1.0 / MIN_DISPERSION)
    u = min(max(-np.log(max(start, MIN_DISPERSION)), low), high)
    for _ in range(_MAX_ITERATIONS):
        value, slope = derivatives(u)
        if value > 0:
            low = u
        else:
            high = u
        candidate = u - value / slope if slope < 0 else np.nan
        if not low < candidate < high:
            candidate = 0.5 * (low + high)
        if abs(candidate - u) < tolerance or high - low < tolerance:
            u = candidate
            break
        u = candidate
    return float(max(np.exp(-u), MIN_DISPERSION))


def _design(
    cumulative: np.ndarray,
    origins: np.ndarray,
    windows: tuple[int, ...],
    neighbour_windows: tuple[int, ...],
    neighbours: sparse.csr_array | None,
) -> np.ndarray:
    """Features at each origin ``o`` (from the steps before it), shape
    ``(n_units, len(origins), n_features)``."""
    columns = []
    at = cumulative[:, origins]
    for w in windows:
        columns.append(np.log((at - cumulative[:, origins - w] + PSEUDO_COUNT) / w))
    columns.append(np.log((at + PSEUDO_COUNT) / origins))
    for w in neighbour_windows:
        total = at - cumulative[:, np.maximum(origins - w, 0)]
        span = np.minimum(origins, w)
        columns.append(np.log((neighbours @ total + PSEUDO_COUNT) / span))
    return np.stack(columns, axis=-1)


def _neighbour_matrix(adjacency, n_units: int) -> sparse.csr_array:
    """Row-standardised neighbours; a unit with none is its own neighbourhood."""
    matrix = sparse.csr_array(adjacency, dtype=float)
    if matrix.shape != (n_units, n_units):
        raise OptionError(
            f"'adjacency' has shape {matrix.shape} but counts has {n_units} units: expected "
            f"({n_units}, {n_units}) in the rows' order"
        )
    matrix = (matrix != 0).astype(float)
    matrix = sparse.csr_array(matrix - sparse.diags_array(matrix.diagonal()))
    matrix.eliminate_zeros()
    degree = np.asarray(matrix.sum(axis=1)).ravel()
    islands = degree == 0
    matrix = sparse.csr_array(
        sparse.diags_array(1.0 / np.where(islands, 1.0, degree)) @ matrix
        + sparse.diags_array(islands.astype(float))
    )
    return matrix


def _season_names(step: str) -> list[str]:
    names = ["season_sin1", "season_cos1", "season_sin2", "season_cos2"]
    if step == "day":
        names += [f"weekday_{d}" for d in range(1, 7)]
    return names


def _season(starts: pd.DatetimeIndex, step: str) -> np.ndarray:
    """Two harmonics of the time of year (and, for days, weekday indicators), one row a step."""
    local = starts.tz_localize(None) if starts.tz is not None else starts
    angle = 2 * np.pi * (local.day_of_year.to_numpy() - 1) / 365.25
    columns = [np.sin(angle), np.cos(angle), np.sin(2 * angle), np.cos(2 * angle)]
    if step == "day":
        weekday = local.weekday.to_numpy()
        columns += [(weekday == d).astype(float) for d in range(1, 7)]
    return np.column_stack(columns)


def _future_starts(starts: pd.DatetimeIndex, step: str, horizon: int) -> pd.DatetimeIndex:
    offset = {"week": pd.DateOffset(weeks=1), "day": pd.DateOffset(days=1)}.get(
        step, pd.DateOffset(months=1)
    )
    last = starts[-1]
    return pd.DatetimeIndex([last + offset * k for k in range(1, horizon + 1)])


def _check_counts(counts: np.ndarray) -> np.ndarray:
    y = np.asarray(counts, dtype=float)
    if y.ndim != 2:
        raise DataError(
            f"counts must be 2-dimensional (units x steps); it has shape {np.shape(counts)}"
        )
    if not np.isfinite(y).all():
        raise DataError("counts has missing or infinite values: every unit needs every step")
    if (y < 0).any() or (y != np.round(y)).any():
        raise DataError("counts must be whole numbers of events, zero or more")
    return y


def _check_horizon(horizon: int) -> int:
    if isinstance(horizon, bool) or int(horizon) != horizon or not 1 <= horizon <= MAX_HORIZON:
        raise OptionError(
            f"'horizon' was {horizon!r} but the forecast supports 1 to {MAX_HORIZON} steps ahead"
        )
    return int(horizon)


def _check_windows(
    option: str, windows: tuple[int, ...], *, allow_empty: bool = False
) -> tuple[int, ...]:
    values = tuple(windows)
    bad = [w for w in values if isinstance(w, bool) or int(w) != w or w < 1]
    if bad or (not values and not allow_empty):
        raise OptionError(
            f"{option!r} was {windows!r} but is expected to be whole numbers of steps, 1 or more"
        )
    return tuple(sorted({int(w) for w in values}))
