"""Replay rankings over past origins: of what happened next, how much did the units each ranking
put first hold?

Metrics of one ranking at one origin
------------------------------------
``scores`` rank the units (highest first); ``observed`` are the events of the scored steps (the
``horizon`` steps from the origin), ``N`` their total; ``n`` the events in the ``K`` units ranked
first, ``a`` their area and ``A`` the whole area.

============= ==================================================================================
metric        definition
============= ==================================================================================
capture       ``n / N``: the share of the events that the top ``K`` held (the hit rate)
PAI           ``(n / N) / (a / A)`` (Chainey, Tompson and Uhlig 2008); with units of equal
              weight ``a / A = K / n_units``
PEI*          ``n / n*``, ``n*`` the most events any ``K`` units held: the capture over the
              largest capture possible with ``K`` units (NIJ's 2017 Real-Time Crime Forecasting
              Challenge; R's ptools ``pai()`` gives the same ``PEI`` for units of equal area)
RRI           predicted events in the top ``K`` over the observed ones (ptools ``pai()``: the
              recovery rate index; above 1, the ranking expected more than happened there)
log score     the mean over units of ``log P(observed)`` under a Poisson with the ranking's
              expected count (at least :data:`LOG_SCORE_FLOOR`): higher is better
coverage      the share of unit-steps whose count fell inside the forecast's interval
============= ==================================================================================

Ties at the cut: with ``ties="average"`` (the default) a metric is its expected value when tied
units are put in a uniformly random order, so a ranking with many ties (last week's counts) is
neither helped nor hurt by an arbitrary order; ``ties="pessimistic"`` puts the tied units with
fewer events first, as ptools' ``pai()`` does. With unequal areas, PAI and RRI are ratios of the
expected sums.

The replay
----------
At each origin step ``t``, every ranking sees the steps before ``t`` only (a read-only view of
them), and is scored on steps ``t .. t + horizon - 1``. The ceilings are the exception, by design:
they rank by the actual counts of the year of steps around the origin (with, and without, the
scored steps themselves), which no forecast can know.

Over the origins, each metric's mean has a 95% interval from a moving-block bootstrap, and each
ranking's paired difference from the reference ranking (the forecast) has a standard error that
allows for the correlation of neighbouring origins (Newey-West, Bartlett weights, lag
``horizon - 1 + floor(4 (n / 100) ^ (2 / 9))``; overlapping horizons share events), with blocks
one longer than that lag.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..errors import DataError, OptionError, PeriodError
from ..progress import tracked
from .forecast import (
    STEP_DEFAULTS,
    Forecast,
    _check_counts,
    _check_horizon,
    forecast_counts,
    history_needed,
    infer_step,
)

#: How ties at the cut are broken.
TIES = ("average", "pessimistic")
#: The least expected count the log score allows (a zero expectation would make any event
#: infinitely unlikely).
LOG_SCORE_FLOOR = 0.01
#: Metrics whose paired difference from the reference is tested (higher is better for all).
COMPARED = ("capture", "pai", "pei")


def ranking_metrics(
    scores: np.ndarray,
    observed: np.ndarray,
    top: int | Sequence[int],
    *,
    predicted: np.ndarray | None = None,
    areas: np.ndarray | None = None,
    ties: str = "average",
) -> dict[str, np.ndarray]:
    """Capture, PAI, PEI* and RRI of one ranking, at each ``K`` of ``top``.

    Parameters
    ----------
    scores : numpy.ndarray
        One score per unit; the highest first.
    observed : numpy.ndarray
        Events per unit in the scored steps.
    top : int or sequence of int
        The numbers of units ``K``.
    predicted : numpy.ndarray, optional
        Expected events per unit in the scored steps, for the RRI (NaN without).
    areas : numpy.ndarray, optional
        Area (or any weight) of each unit, for the PAI; equal by default.
    ties : {"average", "pessimistic"}
        How tied scores at the cut count (this module's docstring).

    Returns
    -------
    dict of str to numpy.ndarray
        ``captured`` (events in the top ``K``), ``capture``, ``max_capture`` (``n* / N``),
        ``pai``, ``pei``, ``rri``, ``area_share``: one value per ``K``. Capture, PAI and PEI* are
        NaN when no event happened.

    Examples
    --------
    The example of ptools' ``pai()`` help page: six units of equal area.

    >>> m = ranking_metrics(np.array([8, 4, 4, 2, 1, 0]), np.array([6, 7, 3, 2, 1, 0]),
    ...                     [1, 3, 5], predicted=np.array([8, 4, 4, 2, 1, 0]), ties="pessimistic")
    >>> m["capture"].round(4).tolist(), m["pai"].round(4).tolist(), m["pei"].round(4).tolist()
    ([0.3158, 0.8421, 1.0], [1.8947, 1.6842, 1.2], [0.8571, 1.0, 1.0])
    >>> m["rri"].round(4).tolist()
    [1.3333, 1.0, 1.0]
    """
    s = _vector("scores", scores)
    y = _vector("observed", observed, len(s))
    if np.isnan(s).any():
        raise DataError("scores has missing values: give every unit a score (-inf for last)")
    if (y < 0).any() or not np.isfinite(y).all():
        raise DataError("observed must be finite counts, zero or more")
    w = np.ones(len(s)) if areas is None else _vector("areas", areas, len(s))
    if (w <= 0).any() or not np.isfinite(w).all():
        raise DataError("areas must be positive and finite")
    p = np.full(len(s), np.nan) if predicted is None else _vector("predicted", predicted, len(s))
    ks = _check_top(top, len(s))
    if ties not in TIES:
        raise OptionError.expected("ties", ties, TIES)
    values = np.column_stack([y, w, p])
    if ties == "pessimistic":
        order = np.lexsort((y, -s))
        cumulative = np.vstack([np.zeros(3), np.cumsum(values[order], axis=0)])
        in_top = cumulative[ks]
    else:
        order = np.argsort(-s, kind="stable")
        ranked = s[order]
        cumulative = np.vstack([np.zeros(3), np.cumsum(values[order], axis=0)])
        # The tied group that holds position K: [first, last) in the sorted order.
        first = np.searchsorted(-ranked, -ranked[ks - 1], side="left")
        last = np.searchsorted(-ranked, -ranked[ks - 1], side="right")
        fraction = ((ks - first) / (last - first))[:, None]
        in_top = cumulative[first] + fraction * (cumulative[last] - cumulative[first])
    total = y.sum()
    captured, area, expected = in_top[:, 0], in_top[:, 1], in_top[:, 2]
    best = np.concatenate([[0.0], np.cumsum(np.sort(y)[::-1])])[ks]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = captured / total if total > 0 else np.full(len(ks), np.nan)
        area_share = area / w.sum()
        return {
            "captured": captured,
            "capture": share,
            "max_capture": best / total if total > 0 else np.full(len(ks), np.nan),
            "pai": share / area_share,
            "pei": captured / best if total > 0 else np.full(len(ks), np.nan),
            "rri": expected / captured,
            "area_share": area_share,
        }


def poisson_log_score(expected: np.ndarray, observed: np.ndarray) -> float:
    """Mean Poisson log-probability of ``observed`` under ``expected`` (floored at
    :data:`LOG_SCORE_FLOOR`).

    Examples
    --------
    >>> round(poisson_log_score(np.array([1.0, 2.0]), np.array([0, 3])), 4)
    -1.3562
    """
    mu = np.maximum(np.asarray(expected, dtype=float), LOG_SCORE_FLOOR)
    return float(stats.poisson.logpmf(np.asarray(observed), mu).mean())


def interval_coverage(low: np.ndarray, high: np.ndarray, observed: np.ndarray) -> float:
    """Share of ``observed`` inside ``[low, high]`` (both ends included).

    Examples
    --------
    >>> interval_coverage(np.array([0, 1, 2]), np.array([1, 3, 2]), np.array([1, 4, 2]))
    0.6666666666666666
    """
    y = np.asarray(observed)
    return float(((np.asarray(low) <= y) & (y <= np.asarray(high))).mean())


def hac_standard_error(values: np.ndarray, lag: int) -> float:
    """Standard error of the mean of a series with Newey-West (Bartlett) weights up to ``lag``.

    Examples
    --------
    >>> round(hac_standard_error(np.array([1.0, 2.0, 3.0, 4.0]), 0), 4)
    0.559
    """
    x = np.asarray(values, dtype=float)
    x = x - x.mean()
    n = len(x)
    variance = x @ x / n
    for k in range(1, min(lag, n - 1) + 1):
        variance += 2 * (1 - k / (lag + 1)) * (x[k:] @ x[:-k]) / n
    return float(math.sqrt(max(variance, 0.0) / n))


def newey_west_lag(n_origins: int, horizon: int) -> int:
    """The lag of the paired differences' standard error: ``horizon - 1`` (overlapping scored
    steps) plus Newey and West's ``floor(4 (n / 100) ^ (2 / 9))``.

    Examples
    --------
    >>> newey_west_lag(156, 1), newey_west_lag(417, 4)
    (4, 8)
    """
    return int(horizon - 1 + math.floor(4 * (n_origins / 100) ** (2 / 9)))


def block_bootstrap_interval(
    values: np.ndarray, block: int, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the mean from a moving-block bootstrap (blocks of ``block``
    neighbouring values, as many as cover the series).

    Examples
    --------
    >>> low, high = block_bootstrap_interval(np.arange(100.0), 5, seed=1)
    >>> bool(low < 49.5 < high)
    True
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return (np.nan, np.nan)
    block = max(1, min(int(block), n))
    n_blocks = math.ceil(n / block)
    cumulative = np.concatenate([[0.0], np.cumsum(x)])
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - block + 1, size=(n_boot, n_blocks))
    means = (cumulative[starts + block] - cumulative[starts]).sum(axis=1) / (n_blocks * block)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


@dataclass(frozen=True)
class History:
    """What a ranking sees at an origin: the steps before it, and no more.

    Attributes
    ----------
    counts : numpy.ndarray
        Read-only, shape ``(n_units, origin)``.
    step_starts : pandas.DatetimeIndex or None
        Starts of those steps.
    adjacency : sparse matrix or None
        The units' neighbours.
    horizon : int
        Steps to be scored.
    """

    counts: np.ndarray
    step_starts: pd.DatetimeIndex | None
    adjacency: object
    horizon: int


@dataclass(frozen=True)
class Ranking:
    """A named way to rank units from their history.

    Attributes
    ----------
    name : str
    rank : callable
        ``rank(history) -> scores`` (one per unit; highest first) or a :class:`Forecast`
        (ranked by its expected total, with intervals for the coverage).
    expected : bool
        The scores are expected events over the horizon (so the RRI and log score mean
        something); False for a score that is not a count, such as the outreach points.
    kind : str
        ``forecast`` or ``baseline`` (reported as is).
    history : callable
        ``history(horizon, step) -> int``: the steps before an origin the ranking needs.
    """

    name: str
    rank: Callable[[History], np.ndarray | Forecast]
    expected: bool = True
    kind: str = "baseline"
    history: Callable[[int, str], int] = field(default=lambda horizon, step: 1)


def forecast_ranking(name: str = "forecast", **options) -> Ranking:
    """The ranking by :func:`forecast_counts` (``options`` are passed to it).

    Examples
    --------
    >>> forecast_ranking(level=0.8).name
    'forecast'
    """

    # Each origin's fit starts from the last earlier origin's (the same maximum of the
    # likelihood, in fewer steps); never from a later origin's, which would carry
    # something of the future into the start.
    earlier: dict[str, object] = {"origin": -1, "units": -1, "forecast": None}

    def rank(history: History) -> Forecast:
        origin, units = history.counts.shape[1], history.counts.shape[0]
        warm = origin > earlier["origin"] and units == earlier["units"]
        forecast = forecast_counts(
            history.counts,
            history.adjacency,
            step_starts=history.step_starts,
            horizon=history.horizon,
            start=earlier["forecast"] if warm else None,
            **options,
        )
        earlier.update(origin=origin, units=units, forecast=forecast)
        return forecast

    windows = options.get("windows")

    def needs(horizon: int, step: str) -> int:
        return history_needed(horizon, step=step, windows=windows)

    return Ranking(name, rank, expected=True, kind="forecast", history=needs)


def last_steps(steps: int, step: str = "week") -> Ranking:
    """Rank by the mean count of the last ``steps`` steps (expected: that mean per step).

    Examples
    --------
    >>> last_steps(4).name, last_steps(1, "month").name
    ('last 4 weeks', 'last month')
    """
    name = f"last {step}" if steps == 1 else f"last {steps} {step}s"

    def rank(history: History) -> np.ndarray:
        return history.counts[:, -steps:].mean(axis=1) * history.horizon

    return Ranking(name, rank, history=lambda horizon, step_: steps)


def all_history() -> Ranking:
    """Rank by the mean count of every step before the origin.

    Examples
    --------
    >>> all_history().name
    'all history'
    """

    def rank(history: History) -> np.ndarray:
        return history.counts.mean(axis=1) * history.horizon

    return Ranking("all history", rank)


def ewma(half_life: float, step: str = "week") -> Ranking:
    """Rank by the exponentially weighted mean count: weight ``0.5 ** (age / half_life)`` (age 0
    for the last step), normalised.

    Examples
    --------
    >>> ewma(26).name
    'EWMA, half-life 26 weeks'
    """
    if not half_life > 0:
        raise OptionError(f"'half_life' was {half_life!r} but is expected to be positive")

    def rank(history: History) -> np.ndarray:
        age = np.arange(history.counts.shape[1])[::-1]
        weights = 0.5 ** (age / half_life)
        return history.counts @ (weights / weights.sum()) * history.horizon

    return Ranking(f"EWMA, half-life {half_life:g} {step}s", rank)


def default_rankings(step: str = "week", *, level: float = 0.9) -> list[Ranking]:
    """The forecast and the baselines: last step, last few steps, last year, all history and an
    EWMA with a half-life of half a year.

    Examples
    --------
    >>> [r.name for r in default_rankings()]  # doctest: +NORMALIZE_WHITESPACE
    ['forecast', 'last week', 'last 4 weeks', 'last 52 weeks', 'all history',
     'EWMA, half-life 26 weeks']
    """
    windows, _, year = STEP_DEFAULTS[step]
    return [
        forecast_ranking(level=level),
        last_steps(1, step),
        last_steps(windows[1], step),
        last_steps(year, step),
        all_history(),
        ewma(year / 2, step),
    ]


@dataclass(frozen=True)
class Backtest:
    """What :func:`backtest` gives.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per origin and ranking: ``origin`` (step number), ``origin_start``, ``ranking``,
        ``kind``, ``events`` (in the scored steps), then ``capture_K``, ``pai_K``, ``pei_K``,
        ``rri_K`` and ``max_capture_K`` for each ``K``, ``log_score``, ``coverage`` and
        ``interval_probability`` (the model's own probability of its intervals; forecasts only).
    summary : pandas.DataFrame
        One row per ranking and metric: ``n_origins``, ``mean``, ``ci_low``, ``ci_high`` (95%,
        block bootstrap); for capture, PAI, PEI* and log score the paired difference from the
        reference, ``diff`` (ranking minus reference), ``diff_se``, ``diff_z``, and
        ``reference_better`` (the share of origins where the reference did strictly better).
    origins : numpy.ndarray
        The origin steps.
    reference : str
        The ranking the differences are taken from.
    seconds : dict of str to float
        Time spent in each ranking, over all origins.
    lag : int
        The Newey-West lag (blocks are one longer).
    """

    rows: pd.DataFrame
    summary: pd.DataFrame
    origins: np.ndarray
    reference: str
    seconds: dict[str, float]
    lag: int


def origin_steps(
    step_starts: pd.DatetimeIndex, start: str | pd.Timestamp, end: str | pd.Timestamp
) -> np.ndarray:
    """The steps whose start falls between ``start`` and ``end`` (both included).

    Examples
    --------
    >>> starts = pd.date_range("2024-01-01", periods=10, freq="7D")
    >>> origin_steps(starts, "2024-01-08", "2024-01-29").tolist()
    [1, 2, 3, 4]
    """
    starts = pd.DatetimeIndex(step_starts)
    first, last = (_as_time(value, starts) for value in (start, end))
    if first > last:
        raise PeriodError(f"the origins run backwards: {first:%Y-%m-%d} is after {last:%Y-%m-%d}")
    chosen = np.flatnonzero((starts >= first) & (starts <= last))
    if len(chosen) == 0:
        raise PeriodError(
            f"no step starts between {first:%Y-%m-%d} and {last:%Y-%m-%d}: the steps run from "
            f"{starts[0]:%Y-%m-%d} to {starts[-1]:%Y-%m-%d}"
        )
    return chosen


def backtest(
    counts: np.ndarray,
    origins: Iterable[int | str | pd.Timestamp],
    *,
    rankings: Sequence[Ranking] | Mapping[str, Callable[[History], np.ndarray]] | None = None,
    top: int | Sequence[int] = (20,),
    horizon: int = 1,
    step_starts: pd.DatetimeIndex | None = None,
    adjacency: sparse.sparray | sparse.spmatrix | np.ndarray | None = None,
    areas: np.ndarray | None = None,
    level: float = 0.9,
    ceiling: bool = True,
    ties: str = "average",
    reference: str = "forecast",
    n_boot: int = 2000,
    seed: int = 0,
) -> Backtest:
    """Replay each ranking at each origin on the steps before it, and score it on the next
    ``horizon`` steps.

    Parameters
    ----------
    counts : numpy.ndarray
        Counts per unit and step, shape ``(n_units, n_steps)``.
    origins : iterable of int, str or Timestamp
        The first scored step of each replay: step numbers, or dates (with ``step_starts``; a
        date names the step that holds it).
    rankings : sequence of Ranking, or mapping of name to callable, optional
        By default :func:`default_rankings` (the forecast and five baselines). A callable of a
        mapping gets a :class:`History` and returns expected events per unit over the horizon.
    top : int or sequence of int
        The numbers of units ``K`` the metrics are taken at.
    horizon : int
        Steps scored after each origin.
    step_starts : pandas.DatetimeIndex, optional
        Start of each step (for the forecast's season, dates in the rows, date origins).
    adjacency : sparse matrix or array, optional
        The units' neighbours (for the forecast).
    areas : numpy.ndarray, optional
        Area of each unit, for the PAI (equal by default).
    level : float
        Probability of the forecast's intervals (default rankings).
    ceiling : bool
        Add the two ceilings: the actual counts of the year of steps around the origin, with and
        without the scored steps.
    ties : {"average", "pessimistic"}
        How tied scores at the cut count.
    reference : str
        The ranking that the others' paired differences are taken from.
    n_boot : int
        Bootstrap draws of each mean's interval.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    Backtest

    Raises
    ------
    PeriodError
        An origin outside the data.
    DataError
        An origin with less history before it than a ranking needs, or fewer than ``horizon``
        steps after it; bad counts.
    OptionError
        Bad ``top``, ``horizon``, ``ties``, ``reference``, ``rankings``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> counts = rng.poisson(np.linspace(0.2, 3, 30)[:, None] * np.ones((30, 150)))
    >>> result = backtest(counts, range(140, 150), top=5, n_boot=200)
    >>> sorted(result.rows["ranking"].unique())[:3]
    ['EWMA, half-life 26 weeks', 'all history', 'ceiling: actual year']
    >>> bool(result.summary.query("metric == 'capture_5'")["mean"].between(0, 1).all())
    True
    """
    y = _check_counts(counts)
    n_units, n_steps = y.shape
    horizon = _check_horizon(horizon)
    ks = _check_top(top, n_units)
    if ties not in TIES:
        raise OptionError.expected("ties", ties, TIES)
    starts = None
    step = "week"
    if step_starts is not None:
        starts = pd.DatetimeIndex(step_starts)
        if len(starts) != n_steps:
            raise OptionError(
                f"'step_starts' has {len(starts)} dates but counts has {n_steps} steps"
            )
        step = infer_step(starts)
    rankings = _rankings(rankings, step, level)
    names = [r.name for r in rankings]
    if len(set(names)) != len(names):
        raise OptionError(f"'rankings' has two rankings with the same name: {names}")
    if reference not in names:
        raise OptionError.expected("reference", reference, names)
    steps = _origin_indices(origins, starts, n_steps)
    _check_origins(steps, rankings, horizon, step, starts, n_steps)
    if areas is not None:
        areas = _vector("areas", areas, n_units)
    year = STEP_DEFAULTS[step][2]

    frozen = y.copy()
    frozen.flags.writeable = False
    rows: list[dict] = []
    seconds = {name: 0.0 for name in names}
    for origin in tracked(steps, "backtest", unit="origins"):
        observed_steps = frozen[:, origin : origin + horizon]
        observed = observed_steps.sum(axis=1)
        history = History(
            counts=frozen[:, :origin],
            step_starts=None if starts is None else starts[:origin],
            adjacency=adjacency,
            horizon=horizon,
        )
        base = {
            "origin": int(origin),
            "origin_start": None if starts is None else starts[origin],
            "events": float(observed.sum()),
        }
        for ranking in rankings:
            started = time.perf_counter()
            result = ranking.rank(history)
            seconds[ranking.name] += time.perf_counter() - started
            row = {**base, "ranking": ranking.name, "kind": ranking.kind}
            if isinstance(result, Forecast):
                expected = result.total
                row["coverage"] = interval_coverage(result.low, result.high, observed_steps)
                row["interval_probability"] = float(result.probability.mean())
            else:
                expected = np.asarray(result, dtype=float)
                if expected.shape != (n_units,):
                    raise DataError(
                        f"ranking {ranking.name!r} gave {expected.shape} scores; expected one "
                        f"per unit ({n_units})"
                    )
            rows.append(
                _score(row, expected, observed, ks, areas, ties, expected_counts=ranking.expected)
            )
        if ceiling:
            lo = max(0, origin - year // 2)
            hi = min(n_steps, lo + year)
            window = y[:, lo:hi].sum(axis=1)
            for name, total, span in (
                ("ceiling: actual year", window, hi - lo),
                (
                    "ceiling: actual year, scored steps left out",
                    window - observed,
                    hi - lo - horizon,
                ),
            ):
                row = {**base, "ranking": name, "kind": "ceiling"}
                rows.append(
                    _score(row, total / max(span, 1) * horizon, observed, ks, areas, ties, True)
                )
    table = pd.DataFrame(rows)
    leading = ["origin", "origin_start", "ranking", "kind", "events"]
    metrics = [f"{m}_{k}" for k in ks for m in ("capture", "pai", "pei", "rri", "max_capture")]
    for column in ("log_score", "coverage", "interval_probability"):
        if column not in table:
            table[column] = np.nan
    table = table[leading + metrics + ["log_score", "coverage", "interval_probability"]]
    if starts is None:
        table = table.drop(columns="origin_start")
    lag = newey_west_lag(len(steps), horizon)
    summary = _summarise(table, ks, reference, lag, n_boot, seed)
    return Backtest(table, summary, steps, reference, seconds, lag)


def _score(
    row: dict,
    expected: np.ndarray,
    observed: np.ndarray,
    ks: np.ndarray,
    areas: np.ndarray | None,
    ties: str,
    expected_counts: bool,
) -> dict:
    metrics = ranking_metrics(
        np.where(np.isnan(expected), -np.inf, expected),
        observed,
        ks,
        predicted=expected if expected_counts else None,
        areas=areas,
        ties=ties,
    )
    for i, k in enumerate(ks):
        for name in ("capture", "pai", "pei", "rri", "max_capture"):
            row[f"{name}_{k}"] = float(metrics[name][i])
    row["log_score"] = poisson_log_score(expected, observed) if expected_counts else np.nan
    return row


def _summarise(
    table: pd.DataFrame, ks: np.ndarray, reference: str, lag: int, n_boot: int, seed: int
) -> pd.DataFrame:
    metrics = [f"{m}_{k}" for k in ks for m in ("capture", "pai", "pei", "rri")]
    metrics += ["log_score", "coverage"]
    wide = {name: group.set_index("origin") for name, group in table.groupby("ranking", sort=False)}
    ref = wide[reference]
    out = []
    for name, group in wide.items():
        for metric in metrics:
            values = group[metric].to_numpy(dtype=float)
            finite = np.isfinite(values)
            if not finite.any():
                continue
            low, high = block_bootstrap_interval(values[finite], lag + 1, n_boot=n_boot, seed=seed)
            row = {
                "ranking": name,
                "kind": group["kind"].iloc[0],
                "metric": metric,
                "n_origins": int(finite.sum()),
                "mean": float(values[finite].mean()),
                "ci_low": low,
                "ci_high": high,
                "diff": np.nan,
                "diff_se": np.nan,
                "diff_z": np.nan,
                "reference_better": np.nan,
            }
            if metric.rsplit("_", 1)[0] in COMPARED or metric == "log_score":  # not RRI, coverage
                paired = group[metric] - ref[metric].reindex(group.index)
                paired = paired[np.isfinite(paired)].to_numpy()
                if len(paired) and name != reference:
                    se = hac_standard_error(paired, lag)
                    row["diff"] = float(paired.mean())
                    row["diff_se"] = se
                    row["diff_z"] = float(paired.mean() / se) if se > 0 else np.nan
                    row["reference_better"] = float((paired < 0).mean())
            out.append(row)
    return pd.DataFrame(out)


def _rankings(rankings, step: str, level: float) -> list[Ranking]:
    if rankings is None:
        return default_rankings(step, level=level)
    if isinstance(rankings, Mapping):
        return [Ranking(str(name), call) for name, call in rankings.items()]
    chosen = list(rankings)
    if not chosen or not all(isinstance(r, Ranking) for r in chosen):
        raise OptionError(
            "'rankings' must be Ranking objects (forecast_ranking(), last_steps(4), ...) or a "
            "mapping of names to callables"
        )
    return chosen


def _origin_indices(origins, starts: pd.DatetimeIndex | None, n_steps: int) -> np.ndarray:
    values = list(origins)
    if not values:
        raise OptionError("'origins' is empty: give at least one origin step")
    steps = []
    for value in values:
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            if not 0 <= value < n_steps:
                raise PeriodError(
                    f"origin step {value} is outside the data: the steps are numbered 0 to "
                    f"{n_steps - 1}"
                )
            steps.append(int(value))
            continue
        if starts is None:
            raise OptionError(
                f"origin {value!r} is a date but no 'step_starts' were given: give step numbers"
            )
        when = _as_time(value, starts)
        ends = starts[1:].append(pd.DatetimeIndex([_next_start(starts)]))
        if when < starts[0] or when >= ends[-1]:
            raise PeriodError(
                f"origin {when:%Y-%m-%d} is outside the data: the steps run from "
                f"{starts[0]:%Y-%m-%d} to {starts[-1]:%Y-%m-%d}"
            )
        steps.append(int(np.searchsorted(starts, when, side="right") - 1))
    return np.unique(steps)


def _check_origins(
    steps: np.ndarray,
    rankings: list[Ranking],
    horizon: int,
    step: str,
    starts: pd.DatetimeIndex | None,
    n_steps: int,
) -> None:
    def label(origin: int) -> str:
        return f"step {origin}" if starts is None else f"{starts[origin]:%Y-%m-%d}"

    for ranking in rankings:
        needed = ranking.history(horizon, step)
        early = steps[steps < needed]
        if len(early):
            raise DataError(
                f"origin {label(early[0])} has {early[0]} {step}s of history before it; "
                f"ranking {ranking.name!r} needs {needed} for a horizon of {horizon} (the first "
                f"possible origin is {label(needed) if needed < n_steps else 'after the data'})"
            )
    late = steps[steps + horizon > n_steps]
    if len(late):
        raise DataError(
            f"origin {label(late[0])} has {n_steps - late[0]} {step}s after it, fewer than the "
            f"horizon of {horizon} (the last possible origin is {label(n_steps - horizon)})"
        )


def _as_time(value, starts: pd.DatetimeIndex) -> pd.Timestamp:
    try:
        when = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise OptionError(f"origin {value!r} is not a date (YYYY-MM-DD) or a step number") from (
            error
        )
    if starts.tz is not None and when.tzinfo is None:
        when = when.tz_localize(starts.tz)
    elif starts.tz is None and when.tzinfo is not None:
        when = when.tz_localize(None)
    return when


def _next_start(starts: pd.DatetimeIndex) -> pd.Timestamp:
    step = infer_step(starts)
    offset = {"week": pd.DateOffset(weeks=1), "day": pd.DateOffset(days=1)}.get(
        step, pd.DateOffset(months=1)
    )
    return starts[-1] + offset


def _check_top(top: int | Sequence[int], n_units: int) -> np.ndarray:
    values = [top] if np.isscalar(top) else list(top)
    bad = [k for k in values if isinstance(k, bool) or int(k) != k or not 1 <= k <= n_units]
    if not values or bad:
        raise OptionError(
            f"'top' was {top!r} but is expected to be numbers of units between 1 and {n_units}"
        )
    return np.unique(np.asarray(values, dtype=int))


def _vector(name: str, values, length: int | None = None) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or (length is not None and len(x) != length):
        expected = "one value per unit" if length is None else f"{length} values, one per unit"
        raise DataError(f"{name} has shape {x.shape}; expected {expected}")
    return x
