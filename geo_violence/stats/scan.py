"""Early warning: the prospective space-time permutation scan statistic.

The method is Kulldorff, Heffernan, Hartman, Assunção and Mostashari (2005), "A space-time
permutation scan statistic for disease outbreak detection", PLoS Medicine 2(3): e59, computed as
SaTScan's prospective space-time analysis with the space-time permutation model computes it, for
one run on the latest step:

* **Cylinders.** A circle (a unit, the centre, and its nearest units by centroid distance, 1 to
  ``max_units`` of them) times the last 1 to ``max_steps`` steps: every cylinder ends at the last
  step (prospective). Units at the same distance from the centre enter the circle together, as in
  a circle of growing radius; a circle that would split such a tie is not scanned, nor one that
  the limit on its size would cut.
* **Expected count** of a cylinder, from the margins of the whole study period: (incidents of its
  units) x (incidents of its steps, every unit) / (all incidents). No population is needed: each
  unit's own history and the city's current level are the baseline.
* **Statistic**: the Poisson generalised log likelihood ratio
  ``c log(c/e) + (C-c) log((C-c)/(C-e))`` of a cylinder with ``c`` incidents where ``e`` are
  expected, out of ``C`` in all; only cylinders with ``c > e`` and at least ``min_observed``
  incidents count. The cylinder with the largest ratio is the most likely cluster.
* **Significance** by Monte Carlo: random tables with the same margins (every unit keeps its
  total, every step its total), drawn by permuting the steps of the incidents, are scanned the
  same way; ``p = rank / (permutations + 1)``, with ``rank`` one plus the number of random maxima
  at least as large.
* **Secondary clusters** as SaTScan reports them by default (hierarchical, no geographical
  overlap): each centre's best cylinder, by decreasing statistic (the smaller circle first among
  equal ones), is kept when it shares no unit with a cluster kept before, while its p-value is
  below 1. Their p-values come from the same distribution of the maximum, which is
  conservative for them.
* **Recurrence interval** ``1 / p`` steps: with a run every step, the expected number of steps
  between two clusters this strong arising by chance.

Only the incidents of the last ``max_steps`` steps change a cylinder, so a permutation needs only
to choose which incidents fall in those steps: a partial Fisher-Yates shuffle of the incidents'
units, in one compiled pass (numba) with the scan of the random table it gives. Along a circle,
the statistic can only grow where a unit with incidents in the window joins (with the count
unchanged, a larger expectation lowers it), so only those places are visited: from each centre's
list, or, when few units have incidents, from those units' places in the centres' lists. And a
ratio is computed only when the cylinder's expectation is below the one at which its count would
beat the table's running maximum (found once per count and maximum by Newton's method).

Checked against SaTScan 9.4.4's prospective run on its New York City fever sample (194 cases, 192
zip codes, 24 days; ``bench/bench_scan.py --nycfever``): the same three clusters, with the same
zip codes, days, observed and expected cases and test statistics.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numba
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from ..errors import DataError, OptionError
from ..progress import Progress

#: Step lengths the words of the recurrence interval know: name, adjective, steps a year.
STEP_WORDS = {
    "week": ("week", "weekly", 365.2425 / 7),
    "day": ("day", "daily", 365.2425),
    "month": ("month", "monthly", 12.0),
}
#: Largest share of the units a circle may hold when ``max_units`` is not given...
DEFAULT_UNIT_SHARE = 0.1
#: ... and at most this many units: a cluster of a hundred beats or cells is no longer the start
#: of something local, and the cost of a scan grows with the size of the circles.
DEFAULT_MAX_UNITS = 100
#: Distances closer than this (relative) are one tie: the units enter the circle together.
TIE_TOLERANCE = 1e-9
#: Random maxima within this (relative) of a cluster's statistic count as ties (at least as
#: large): the same cylinder's ratio can differ in its last bits between two summation orders.
RANK_TOLERANCE = 1e-10
#: Uniform draws held at once by the permutations (bounds their memory to about 32 MB).
UNIFORMS_PER_BLOCK = 4_000_000
#: A random table is scanned from its units with incidents alone when their places in the
#: centres' lists are fewer than this share of all places (otherwise every list is walked).
SPARSE_BELOW = 0.02


@dataclass
class ScanResult:
    """What :func:`space_time_scan` gives.

    Attributes
    ----------
    clusters : pandas.DataFrame
        One row per cluster, most likely first: ``cluster_id`` (1, 2, ...), ``unit_ids`` (the
        units, ``;``-separated, nearest the centre first), ``n_units``, ``centre`` (the centre
        unit), ``radius`` (distance from the centre to the farthest unit's centroid, in the
        coordinates' unit), ``start`` and ``end`` (step indexes, both included; ``end`` is always
        the last step), ``start_date`` and ``end_date`` (first and last day, when the steps' dates
        are known), ``observed``, ``expected``, ``observed_over_expected``, ``relative_risk``
        (risk inside over risk outside: ``(c/e) / ((C-c)/(C-e))``), ``llr``, ``p_value``,
        ``recurrence_interval`` (steps) and ``recurrence_words``.
    cluster_steps : pandas.DataFrame
        Observed and expected incidents of each cluster's units at every step of the study
        period: ``cluster_id``, ``step``, ``step_start`` (when known), ``observed``, ``expected``,
        ``in_cluster`` (the step is in the cluster's time frame).
    null_maxima : numpy.ndarray
        The largest statistic of each random table, in the order drawn.
    permutations, alpha, seed, max_steps, max_units, max_share, min_observed, step
        The settings of the run.
    n_units, n_steps, total : int
        Units, steps and incidents scanned.
    notes : list of str
    """

    clusters: pd.DataFrame
    cluster_steps: pd.DataFrame
    null_maxima: np.ndarray
    permutations: int
    alpha: float
    seed: int | None
    max_steps: int
    max_units: int
    max_share: float | None
    min_observed: int
    step: str | None
    n_units: int
    n_steps: int
    total: int
    notes: list[str] = field(default_factory=list)

    @property
    def alarms(self) -> pd.DataFrame:
        """The clusters with ``p_value <= alpha``."""
        return self.clusters[self.clusters["p_value"] <= self.alpha]

    def critical_value(self, level: float | None = None) -> float:
        """The statistic a cluster must exceed for ``p <= level`` (``alpha`` by default).

        The ``level * (permutations + 1)``-th largest random maximum: a statistic above it has a
        rank of at most ``level * (permutations + 1)``. Infinite when the permutations cannot
        reach ``level``.
        """
        level = self.alpha if level is None else float(level)
        # the index, largest first, of the level * (permutations + 1)-th largest maximum
        allowed = math.floor(level * (self.permutations + 1) + 1e-9) - 1
        if allowed < 0:
            return math.inf
        ordered = np.sort(self.null_maxima)[::-1]
        return float(ordered[allowed]) if allowed < len(ordered) else 0.0


def space_time_scan(
    counts: np.ndarray | pd.DataFrame,
    units: object,
    *,
    unit_ids: Sequence[object] | pd.Index | None = None,
    max_steps: int = 4,
    max_units: int | None = None,
    max_share: float | None = None,
    min_observed: int = 2,
    permutations: int = 999,
    alpha: float = 0.05,
    seed: int | np.random.SeedSequence | None = 12345,
    step: str | None = "week",
    step_starts: Sequence[object] | pd.DatetimeIndex | None = None,
) -> ScanResult:
    """Prospective space-time permutation scan: did a cluster start in the last steps?

    Parameters
    ----------
    counts : numpy.ndarray or pandas.DataFrame
        Incidents per unit (rows) and step (columns, in time order), whole numbers. A DataFrame
        is matched to the units by its index (units it lacks count zero); its columns, when they
        are dates, are the steps' starts.
    units : geopandas.GeoDataFrame or numpy.ndarray
        The units: a GeoDataFrame in a projected CRS (the centroids of its geometry are used;
        its index gives the unit ids), or an ``(n_units, d)`` array of coordinates.
    unit_ids : sequence, optional
        The units' ids, with an array of coordinates (``0..n-1`` by default).
    max_steps : int
        Longest cluster, in steps (at most half the steps: the rest is the baseline).
    max_units : int, optional
        Largest cluster, in units (by default a tenth of the units, at least 1 and at most
        100).
    max_share : float, optional
        Largest share of all incidents a cluster's units may hold (SaTScan's "percent of the
        population at risk" for this model; its default is 0.5). No limit by default.
    min_observed : int
        Fewest incidents a cluster must hold (SaTScan's default since version 10 is 2).
    permutations : int
        Random tables for the p-values.
    alpha : float
        Level of an alarm; the permutations must be able to reach it.
    seed : int, optional
        Seed of the permutations: the same seed gives the same p-values.
    step : {"week", "day", "month"} or None
        Length of a step, for the words of the recurrence interval and the clusters' last days.
    step_starts : sequence of dates, optional
        Start of each step (``n_steps`` values), or the ``n_steps + 1`` edges of the steps (as
        :attr:`geo_violence.Cube.edges`), for the clusters' dates.

    Returns
    -------
    ScanResult

    Raises
    ------
    OptionError
        A setting out of range: ``max_units`` larger than the layer, a ``max_steps`` longer than
        half the period, a permutation count that cannot reach ``alpha``...
    DataError
        The counts cannot support a scan: negative or fractional counts, no incidents, or all of
        them in one unit or one step.

    Examples
    --------
    Nine units along a street, twelve weeks; units 3 and 4 have four extra incidents in each of
    the last two weeks:

    >>> coordinates = np.array([0.0, 1.2, 2.1, 3.0, 3.4, 4.6, 5.5, 6.9, 8.0])
    >>> counts = np.ones((9, 12), dtype=int)
    >>> counts[3:5, 10:] += 4
    >>> result = space_time_scan(counts, coordinates, max_steps=3, max_units=3,
    ...                          permutations=99, seed=1)
    >>> top = result.clusters.iloc[0]
    >>> top["unit_ids"], int(top["start"]), int(top["end"]), int(top["observed"])
    ('3;4', 10, 11, 20)
    >>> round(float(top["expected"]), 2), float(top["p_value"]), top["recurrence_words"]
    (10.97, 0.03, 'once in 33 weeks of weekly runs')
    """
    table, ids, dates_from_columns = _counts_table(counts, units, unit_ids)
    coordinates = _coordinates(units, len(ids))
    n_units, n_steps = table.shape
    max_units = _check_settings(
        n_units, n_steps, max_steps, max_units, max_share, min_observed, permutations, alpha
    )
    if step is not None and step not in STEP_WORDS:
        raise OptionError.expected("step", step, [*STEP_WORDS, None])
    edges = _step_edges(step_starts if step_starts is not None else dates_from_columns, n_steps)
    unit_totals = table.sum(axis=1)
    step_totals = table.sum(axis=0)
    total = int(unit_totals.sum())
    _check_incidents(table, unit_totals, step_totals, total, min_observed)

    circles = _circles(coordinates, max_units, max_share, unit_totals, total)
    share = np.cumsum(step_totals[::-1][:max_steps]) / total  # of the last w+1 steps
    window = np.ascontiguousarray(np.cumsum(table[:, ::-1][:, :max_steps], axis=1))
    best_llr = np.zeros(n_units)
    best_k = np.full(n_units, -1, dtype=np.int64)
    best_l = np.full(n_units, -1, dtype=np.int64)
    _scan_centres(
        window,
        circles.neighbours,
        circles.complete,
        circles.reach,
        circles.mass,
        share,
        float(total),
        min_observed,
        best_llr,
        best_k,
        best_l,
    )
    notes: list[str] = []
    in_window = int(window[:, -1].sum())
    if in_window == 0:
        notes.append(f"no incident in the last {max_steps} steps: no cluster can be current")
        null_maxima = np.zeros(permutations)
    else:
        null_maxima = _null_maxima(
            unit_totals, step_totals, max_steps, permutations, seed, circles, share, min_observed
        )
    clusters, cluster_steps = _report(
        table, ids, edges, step, circles, best_llr, best_k, best_l, share, window, null_maxima
    )
    if clusters.empty and in_window:
        notes.append(
            f"no cylinder holds more incidents than expected and at least {min_observed}: "
            "no cluster to report"
        )
    return ScanResult(
        clusters=clusters,
        cluster_steps=cluster_steps,
        null_maxima=null_maxima,
        permutations=permutations,
        alpha=alpha,
        seed=seed if isinstance(seed, int | None) else None,
        max_steps=max_steps,
        max_units=max_units,
        max_share=max_share,
        min_observed=min_observed,
        step=step,
        n_units=n_units,
        n_steps=n_steps,
        total=total,
        notes=notes,
    )


def permuted_windows(
    counts: np.ndarray,
    max_steps: int,
    permutations: int,
    seed: int | np.random.SeedSequence | None = 12345,
) -> np.ndarray:
    """The random tables :func:`space_time_scan` draws, restricted to the last ``max_steps`` steps.

    The same ``counts``, ``max_steps``, ``permutations`` and ``seed`` give the tables whose maxima
    are :attr:`ScanResult.null_maxima` (the steps before the window do not change any cylinder).
    With ``max_steps`` equal to the number of steps, these are whole tables.

    Parameters
    ----------
    counts : numpy.ndarray
        Incidents per unit and step, shape ``(n_units, n_steps)``.
    max_steps : int
        Steps of the window (the last ones), ``1..n_steps``.
    permutations : int
        Tables to draw.
    seed : int, optional
        Seed of the permutations.

    Returns
    -------
    numpy.ndarray
        Shape ``(permutations, n_units, max_steps)``: incidents per unit and step of the window,
        in time order. Every table keeps each step's total; the whole table keeps each unit's.

    Examples
    --------
    >>> tables = permuted_windows(np.array([[2, 0, 1], [0, 3, 1]]), 3, 2, seed=0)
    >>> tables.sum(axis=2).tolist(), tables.sum(axis=1).tolist()
    ([[3, 4], [3, 4]], [[2, 3, 2], [2, 3, 2]])
    """
    table = np.asarray(counts, dtype=np.int64)
    n_units, n_steps = table.shape
    if not 1 <= max_steps <= n_steps:
        raise OptionError(
            f"'max_steps' was {max_steps!r} but is expected to be between 1 and {n_steps}"
        )
    labels, rank_offset = _permutation_setup(table.sum(axis=1), table.sum(axis=0), max_steps)
    rng = np.random.default_rng(seed)
    window = np.zeros((n_units, max_steps), dtype=np.int64)
    cumulative = np.zeros((permutations, n_units, max_steps), dtype=np.int64)
    done = 0
    with Progress("scan: random tables", total=permutations) as progress:
        for uniforms in _uniform_blocks(rng, permutations, len(rank_offset)):
            _window_block(
                labels, uniforms, rank_offset, window, cumulative[done : done + len(uniforms)]
            )
            done += len(uniforms)
            progress.advance(len(uniforms))
    per_step = np.diff(cumulative, axis=2, prepend=0)  # last step first
    return per_step[:, :, ::-1]


def recurrence_words(interval: float, step: str | None, *, at_least: bool = False) -> str:
    """A recurrence interval in words: ``"once in 4 years of weekly runs"``.

    Parameters
    ----------
    interval : float
        Steps between two clusters this strong by chance (``1 / p``).
    step : {"week", "day", "month"} or None
        Length of a step (None: counted in runs).
    at_least : bool
        The interval is a lower bound (no random table reached the cluster's statistic).

    Examples
    --------
    >>> recurrence_words(1000 / 4.8, "week")
    'once in 4 years of weekly runs'
    >>> recurrence_words(12.5, "week"), recurrence_words(1000.0, "day", at_least=True)
    ('once in 12 weeks of weekly runs', 'once in 2.7 years or more of daily runs')
    >>> recurrence_words(3.0, None)
    'once in 3 runs (one run a step)'
    """
    bound = " or more" if at_least else ""
    if step is None:
        return f"once in {_amount(interval, 'run')}{bound} (one run a step)"
    name, adjective, per_year = STEP_WORDS[step]
    if interval >= per_year:
        return f"once in {_amount(interval / per_year, 'year')}{bound} of {adjective} runs"
    return f"once in {_amount(interval, name)}{bound} of {adjective} runs"


def _amount(value: float, unit: str) -> str:
    """``3 weeks``, ``1.5 years``, ``1 year``: whole from 3 up, one decimal below."""
    text = f"{value:.0f}" if value >= 3 or float(value).is_integer() else f"{value:.1f}"
    text = text.removesuffix(".0")
    return f"{text} {unit}" if text == "1" else f"{text} {unit}s"


# --------------------------------------------------------------------------------------------
# input


def _counts_table(
    counts: np.ndarray | pd.DataFrame, units: object, unit_ids: Sequence[object] | None
) -> tuple[np.ndarray, pd.Index, pd.DatetimeIndex | None]:
    """The counts as an integer array in the units' order, the unit ids, and dates if given."""
    if hasattr(units, "geometry"):
        ids = pd.Index(units.index)  # type: ignore[attr-defined]
        if unit_ids is not None:
            raise OptionError("'unit_ids' is only for an array of coordinates: the layer has ids")
    else:
        n_rows = np.asarray(units).shape[0] if np.ndim(units) else 0
        ids = pd.Index(range(n_rows) if unit_ids is None else list(unit_ids))
        if len(ids) != n_rows:
            raise OptionError(
                f"'unit_ids' has {len(ids)} ids but there are {n_rows} rows of coordinates"
            )
    dates = None
    if isinstance(counts, pd.DataFrame):
        unknown = counts.index.difference(ids)
        if len(unknown):
            raise OptionError(
                f"'counts' has rows for units that are not in the layer: {list(unknown[:5])}"
            )
        if isinstance(counts.columns, pd.DatetimeIndex):
            dates = counts.columns
        values = counts.reindex(ids, fill_value=0).to_numpy()
    else:
        values = np.asarray(counts)
    if values.ndim != 2:
        raise OptionError(
            f"'counts' has {values.ndim} dimension(s) but is expected to be (units, steps)"
        )
    if values.shape[0] != len(ids):
        raise OptionError(f"'counts' has {values.shape[0]} rows but the layer has {len(ids)} units")
    if not np.issubdtype(values.dtype, np.number) or not np.isfinite(values).all():
        raise DataError("'counts' holds missing or non-numeric values; counts are whole numbers")
    if (values < 0).any() or (values != np.round(values)).any():
        raise DataError("'counts' holds negative or fractional values; counts are whole numbers")
    return np.ascontiguousarray(values, dtype=np.int64), ids, dates


def _coordinates(units: object, n_units: int) -> np.ndarray:
    """Centroids of a layer, or the coordinates given."""
    if hasattr(units, "geometry"):
        crs = getattr(units, "crs", None)
        if crs is not None and getattr(crs, "is_geographic", False):
            raise OptionError(
                f"the units are in a geographic CRS ({crs.to_string()}); distances need a "
                "projected one (load_units gives EPSG:3435)"
            )
        centroids = units.geometry.centroid  # type: ignore[attr-defined]
        coordinates = np.column_stack([centroids.x.to_numpy(), centroids.y.to_numpy()])
    else:
        coordinates = np.asarray(units, dtype=float)
        if coordinates.ndim == 1:
            coordinates = coordinates[:, None]
    if coordinates.ndim != 2 or coordinates.shape[0] != n_units:
        raise OptionError(f"the coordinates are expected to be ({n_units}, d)")
    if not np.isfinite(coordinates).all():
        raise DataError("some units have no coordinates (empty geometry or NaN)")
    return coordinates


def _check_settings(
    n_units: int,
    n_steps: int,
    max_steps: int,
    max_units: int | None,
    max_share: float | None,
    min_observed: int,
    permutations: int,
    alpha: float,
) -> int:
    """Check the settings against the data's shape; return ``max_units`` resolved."""
    if n_steps < 2:
        raise DataError(
            f"'counts' has {n_steps} step(s): a prospective scan needs at least 2 (the current "
            "steps and a history to compare them with)"
        )
    if not isinstance(max_steps, int | np.integer) or max_steps < 1:
        raise OptionError(
            f"'max_steps' was {max_steps!r} but is expected to be a whole number >= 1"
        )
    if max_steps > n_steps // 2:
        raise DataError(
            f"'max_steps' was {max_steps} but the counts have {n_steps} steps: a cluster may last "
            f"at most half the period ({n_steps // 2} steps), so that the rest is its baseline; "
            f"give a longer period or a smaller 'max_steps'"
        )
    if max_units is None:
        max_units = min(max(1, math.ceil(DEFAULT_UNIT_SHARE * n_units)), DEFAULT_MAX_UNITS)
    elif not isinstance(max_units, int | np.integer) or not 1 <= max_units <= n_units:
        raise OptionError(
            f"'max_units' was {max_units!r} but the layer has {n_units} units: it is expected "
            f"to be between 1 and {n_units}"
        )
    if max_share is not None and not 0 < max_share <= 1:
        raise OptionError(f"'max_share' was {max_share!r} but is expected to be in (0, 1]")
    if not isinstance(min_observed, int | np.integer) or min_observed < 1:
        raise OptionError(
            f"'min_observed' was {min_observed!r} but is expected to be a whole number >= 1"
        )
    if not 0 < alpha < 1:
        raise OptionError(f"'alpha' was {alpha!r} but is expected to be in (0, 1)")
    if not isinstance(permutations, int | np.integer) or permutations < 1:
        raise OptionError(
            f"'permutations' was {permutations!r} but is expected to be a whole number >= 1"
        )
    needed = math.ceil(1 / alpha - 1 - 1e-9)
    if permutations < needed:
        raise OptionError(
            f"'permutations' was {permutations}: the smallest p-value it can give is "
            f"1/{permutations + 1} = {1 / (permutations + 1):.3g}, above alpha {alpha}, so no "
            f"cluster could ever raise an alarm; use at least {needed} permutations (999 is usual)"
        )
    return int(max_units)


def _check_incidents(
    table: np.ndarray,
    unit_totals: np.ndarray,
    step_totals: np.ndarray,
    total: int,
    min_observed: int,
) -> None:
    """Refuse counts that no permutation can move."""
    if total < max(2, min_observed):
        raise DataError(
            f"the counts hold {total} incident(s): a scan needs at least {max(2, min_observed)} "
            f"(and a cluster at least min_observed = {min_observed})"
        )
    if (unit_totals > 0).sum() == 1:
        raise DataError(
            f"all {total} incidents are in one unit: with no other unit to compare with, there "
            "is no space-time cluster to find"
        )
    if (step_totals > 0).sum() == 1:
        raise DataError(
            f"all {total} incidents are in one step: with no other step to compare with, there "
            "is no space-time cluster to find"
        )


def _step_edges(
    starts: Sequence[object] | pd.DatetimeIndex | None, n_steps: int
) -> pd.DatetimeIndex | None:
    """The steps' starts (``n_steps``) or edges (``n_steps + 1``) as a DatetimeIndex."""
    if starts is None:
        return None
    try:
        stamps = pd.DatetimeIndex(starts)
    except (TypeError, ValueError) as error:
        raise OptionError(f"'step_starts' are not dates: {error}") from error
    if len(stamps) not in (n_steps, n_steps + 1):
        raise OptionError(
            f"'step_starts' has {len(stamps)} dates but the counts have {n_steps} steps "
            f"(expected {n_steps} starts or {n_steps + 1} edges)"
        )
    return stamps


# --------------------------------------------------------------------------------------------
# circles


@dataclass(frozen=True)
class _Circles:
    """Each centre's nearest units and which of its circles are scanned.

    ``neighbours[i, k]`` is the ``k``-th nearest unit of centre ``i`` (``k = 0``: the centre or a
    unit at the same place), ``distance[i, k]`` its distance, ``mass[i, k]`` the incidents of the
    ``k + 1`` nearest, ``complete[i, k]`` whether those ``k + 1`` units are a whole circle within
    the limits, ``reach[i]`` one past the last complete ``k`` and ``group_end[i, k]`` the first
    complete position at or after ``k``. The reverse lists (``reverse_start``, by unit:
    ``reverse_centre`` and ``reverse_rank``) say at which position of which centres' lists each
    unit stands, for the positions before ``reach``.
    """

    neighbours: np.ndarray
    distance: np.ndarray
    mass: np.ndarray
    complete: np.ndarray
    reach: np.ndarray
    group_end: np.ndarray
    reverse_start: np.ndarray
    reverse_centre: np.ndarray
    reverse_rank: np.ndarray


def _circles(
    coordinates: np.ndarray,
    max_units: int,
    max_share: float | None,
    unit_totals: np.ndarray,
    total: int,
) -> _Circles:
    n_units = coordinates.shape[0]
    n_query = min(max_units + 1, n_units)
    distance, neighbours = cKDTree(coordinates).query(coordinates, k=n_query)
    distance = np.asarray(distance, dtype=float).reshape(n_units, n_query)
    neighbours = np.asarray(neighbours, dtype=np.int64).reshape(n_units, n_query)
    order = np.lexsort((neighbours, distance))  # by distance, then unit, along each row
    distance = np.take_along_axis(distance, order, axis=1)
    neighbours = np.take_along_axis(neighbours, order, axis=1)
    tied_with_next = np.diff(distance, axis=1) <= TIE_TOLERANCE * distance[:, 1:]
    if n_query == n_units and max_units == n_units:
        complete = np.append(~tied_with_next, np.ones((n_units, 1), bool), axis=1)
    else:
        complete = ~tied_with_next  # the (max_units + 1)-th unit only tells whether it is a tie
        distance, neighbours = distance[:, :max_units], neighbours[:, :max_units]
    mass = np.cumsum(unit_totals[neighbours], axis=1).astype(float)
    if max_share is not None:
        complete &= mass <= max_share * total * (1 + 1e-12)
    positions = np.arange(max_units)
    reach = np.where(complete.any(axis=1), max_units - np.argmax(complete[:, ::-1], axis=1), 0)
    group_end = np.minimum.accumulate(np.where(complete, positions, max_units)[:, ::-1], axis=1)[
        :, ::-1
    ]
    scanned = positions[None, :] < reach[:, None]
    member = neighbours[scanned]
    by_unit = np.argsort(member, kind="stable")
    reverse_start = np.zeros(n_units + 1, dtype=np.int64)
    np.cumsum(np.bincount(member, minlength=n_units), out=reverse_start[1:])
    return _Circles(
        neighbours=np.ascontiguousarray(neighbours, dtype=np.int32),
        distance=distance,
        mass=np.ascontiguousarray(mass),
        complete=np.ascontiguousarray(complete),
        reach=reach.astype(np.int64),
        group_end=np.ascontiguousarray(group_end, dtype=np.int32),
        reverse_start=reverse_start,
        reverse_centre=np.nonzero(scanned)[0][by_unit].astype(np.int32),
        reverse_rank=np.nonzero(scanned)[1][by_unit].astype(np.int32),
    )


# --------------------------------------------------------------------------------------------
# the compiled scan and permutations


@numba.njit(cache=True, nogil=True)
def _llr(c: float, expected: float, total: float) -> float:  # pragma: no cover - compiled
    """Poisson log likelihood ratio of ``c`` incidents where ``expected`` are, out of ``total``."""
    value = c * np.log(c / expected)
    if c < total:
        value += (total - c) * np.log((total - c) / (total - expected))
    return value


@numba.njit(cache=True, nogil=True)
def _scan_centres(
    window, neighbours, complete, reach, mass, share, total, min_observed, best_llr, best_k, best_l
):  # pragma: no cover - compiled
    """Each centre's best cylinder over the window's cumulative counts.

    ``window[j, w]`` holds unit ``j``'s incidents in the last ``w + 1`` steps. Writes, per centre,
    the largest ratio (0 when no cylinder qualifies), its circle (``k``: the ``k + 1`` nearest)
    and its length (``w``: the last ``w + 1`` steps); ties keep the smaller circle, then the
    shorter window.
    """
    n_centres = neighbours.shape[0]
    n_window = window.shape[1]
    inside = np.zeros(n_window, np.int64)
    grown = np.zeros(n_window, np.bool_)
    for i in range(n_centres):
        top = 0.0
        top_k = -1
        top_w = -1
        for w in range(n_window):
            inside[w] = 0
            grown[w] = False
        for k in range(reach[i]):
            j = neighbours[i, k]
            if window[j, n_window - 1] > 0:
                for w in range(n_window):
                    if window[j, w] > 0:
                        inside[w] += window[j, w]
                        grown[w] = True
            if complete[i, k]:
                for w in range(n_window):
                    if grown[w]:
                        grown[w] = False
                        c = inside[w]
                        if c >= min_observed:
                            expected = mass[i, k] * share[w]
                            if c > expected:
                                value = _llr(float(c), expected, total)
                                if value > top:
                                    top = value
                                    top_k = k
                                    top_w = w
        best_llr[i] = top
        best_k[i] = top_k
        best_l[i] = top_w


@numba.njit(cache=True, nogil=True)
def _cut(c: int, top: float, total: float) -> float:  # pragma: no cover - compiled
    """The expectation at which ``c`` incidents reach the ratio ``top``: ``LLR(c, e) > top``
    exactly when ``e`` is below it (the ratio falls as ``e`` grows).

    Newton from the left on the convex, falling ``LLR(c, .) - top``, from a point where the lower
    bound ``c log(c/e) - (c - e)`` already exceeds ``top``: the iterates rise to the root and never
    pass it.
    """
    if top <= 0.0:
        return float(c)
    expected = c * np.exp(-(top + c) / c)
    if expected <= 0.0:  # no expectation a float can hold is small enough
        return 0.0
    for _ in range(100):
        gap = _llr(float(c), expected, total) - top
        slope = -c / expected + (total - c) / (total - expected)
        step = gap / slope
        expected -= step
        if -step <= 1e-13 * expected:
            break
    return expected


@numba.njit(cache=True, nogil=True)
def _table_maximum(
    window,
    units,
    n_units_in,
    places_in,
    sparse,
    neighbours,
    reach,
    mass,
    group_end,
    reverse_start,
    reverse_centre,
    reverse_rank,
    share,
    total,
    min_observed,
    cut,
    stamp,
    version,
    scratch,
):  # pragma: no cover - compiled
    """The largest ratio of a random table, and the version of the cuts after it.

    Each centre's places that hold a unit with incidents in the window are visited in order; the
    counts grow there only, so the ratio is evaluated there only, at the end of the tie group the
    place belongs to (a whole circle). The places come from walking the centre's list, or, when
    ``sparse``, from the reverse lists of the ``n_units_in`` units with incidents (``units``):
    their ``places_in`` places are sorted by centre, then position, by two stable counting sorts.

    A ratio is computed only when the cylinder's expectation is below the cut of its count: the
    expectation at which that count reaches the running maximum (:func:`_cut`), computed once per
    count and maximum (``stamp[c] == version``).
    """
    ranks, members, by_rank, by_centre, count_rank, count_centre = scratch  # ranks, members: K + 1
    n_window = window.shape[1]
    if sparse:
        for a in range(n_units_in):
            j = units[a]
            for e in range(reverse_start[j], reverse_start[j + 1]):
                count_rank[reverse_rank[e] + 1] += 1
        for r in range(1, count_rank.shape[0]):
            count_rank[r] += count_rank[r - 1]
        for a in range(n_units_in):
            j = units[a]
            for e in range(reverse_start[j], reverse_start[j + 1]):
                r = reverse_rank[e]
                q = count_rank[r]
                count_rank[r] += 1
                by_rank[q, 0] = reverse_centre[e]
                by_rank[q, 1] = r
                by_rank[q, 2] = j
        for q in range(places_in):
            count_centre[by_rank[q, 0] + 1] += 1
        for i in range(1, count_centre.shape[0]):
            count_centre[i] += count_centre[i - 1]
        for q in range(places_in):
            i = by_rank[q, 0]
            p = count_centre[i]
            count_centre[i] += 1
            by_centre[p, 0] = i
            by_centre[p, 1] = by_rank[q, 1]
            by_centre[p, 2] = by_rank[q, 2]
        count_rank[:] = 0
        count_centre[:] = 0
    top = 0.0
    inside = np.zeros(n_window, np.int64)
    grown = np.zeros(n_window, np.bool_)
    q = 0
    for i in range(neighbours.shape[0]):
        found = 0
        if sparse:
            while q < places_in and by_centre[q, 0] == i:
                ranks[found] = by_centre[q, 1]
                members[found] = by_centre[q, 2]
                found += 1
                q += 1
        else:
            for k in range(reach[i]):  # compact the places with incidents, without a branch
                j = neighbours[i, k]
                ranks[found] = k
                members[found] = j
                found += window[j, n_window - 1] > 0
        if found == 0:
            continue
        for w in range(n_window):
            inside[w] = 0
        for a in range(found):
            j = members[a]
            for w in range(n_window):
                if window[j, w] > 0:
                    inside[w] += window[j, w]
                    grown[w] = True
            end = group_end[i, ranks[a]]
            if a + 1 < found and ranks[a + 1] <= end:
                continue  # the next unit with incidents is in the same tie group
            for w in range(n_window):
                if not grown[w]:
                    continue
                grown[w] = False
                c = inside[w]
                if c < min_observed:
                    continue
                expected = mass[i, end] * share[w]
                if stamp[c] != version:
                    cut[c] = _cut(c, top, total)
                    stamp[c] = version
                if expected < cut[c] * (1 + 1e-9) and c > expected:
                    value = _llr(float(c), expected, total)
                    if value > top:
                        top = value
                        version += 1
    return top, version


@numba.njit(cache=True, nogil=True)
def _draw_window(labels, uniforms, rank_offset, window):  # pragma: no cover - compiled
    """One random table's window: partial Fisher-Yates over the incidents' units.

    The first ``len(rank_offset)`` incidents of the shuffled ``labels`` fall in the window, the
    first ones in the last step; ``rank_offset[r]`` is the step (counted back from the last) of
    the ``r``-th. Adds them to the (zeroed) cumulative ``window``.
    """
    n = labels.shape[0]
    n_window = window.shape[1]
    for r in range(rank_offset.shape[0]):
        j = r + int(uniforms[r] * (n - r))
        if j >= n:
            j = n - 1
        unit = labels[j]
        labels[j] = labels[r]
        labels[r] = unit
        for w in range(rank_offset[r], n_window):
            window[unit, w] += 1


@numba.njit(cache=True, nogil=True)
def _clear_window(labels, n_drawn, window):  # pragma: no cover - compiled
    for r in range(n_drawn):
        for w in range(window.shape[1]):
            window[labels[r], w] = 0


@numba.njit(cache=True, nogil=True)
def _null_block(
    labels,
    uniforms,
    rank_offset,
    window,
    neighbours,
    reach,
    mass,
    group_end,
    reverse_start,
    reverse_centre,
    reverse_rank,
    share,
    total,
    min_observed,
    sparse_below,
    out,
):  # pragma: no cover - compiled
    """The maximum ratio of each random table of a block.

    A table is scanned from the reverse lists of its units with incidents in the window when their
    places are fewer than ``sparse_below`` times all the places, and by walking every centre's
    list otherwise; both visit the same places in the same order.
    """
    n_units = neighbours.shape[0]
    n_drawn = rank_offset.shape[0]
    places = 0
    for i in range(n_units):
        places += reach[i]
    cut = np.zeros(n_drawn + 1)
    stamp = np.full(n_drawn + 1, -1)
    version = 0
    touched = np.zeros(n_units, np.bool_)
    units = np.zeros(n_units, np.int64)
    capacity = int(sparse_below * places) + 1 if sparse_below > 0 else 1
    scratch = (
        np.zeros(neighbours.shape[1] + 1, np.int64),
        np.zeros(neighbours.shape[1] + 1, np.int64),
        np.zeros((capacity, 3), np.int64),
        np.zeros((capacity, 3), np.int64),
        np.zeros(neighbours.shape[1] + 1, np.int64),
        np.zeros(n_units + 1, np.int64),
    )
    for b in range(uniforms.shape[0]):
        _draw_window(labels, uniforms[b], rank_offset, window)
        n_units_in = 0
        places_in = 0
        for r in range(n_drawn):
            j = labels[r]
            if not touched[j]:
                touched[j] = True
                units[n_units_in] = j
                n_units_in += 1
                places_in += reverse_start[j + 1] - reverse_start[j]
        version += 1  # a new table: every cut is stale
        out[b], version = _table_maximum(
            window,
            units,
            n_units_in,
            places_in,
            places_in < sparse_below * places,
            neighbours,
            reach,
            mass,
            group_end,
            reverse_start,
            reverse_centre,
            reverse_rank,
            share,
            total,
            min_observed,
            cut,
            stamp,
            version,
            scratch,
        )
        for a in range(n_units_in):
            touched[units[a]] = False
        _clear_window(labels, n_drawn, window)


@numba.njit(cache=True, nogil=True)
def _window_block(labels, uniforms, rank_offset, window, out):  # pragma: no cover - compiled
    """The cumulative windows of a block of random tables (for checks)."""
    for b in range(uniforms.shape[0]):
        _draw_window(labels, uniforms[b], rank_offset, window)
        for j in range(window.shape[0]):
            for w in range(window.shape[1]):
                out[b, j, w] = window[j, w]
        _clear_window(labels, rank_offset.shape[0], window)


def _permutation_setup(
    unit_totals: np.ndarray, step_totals: np.ndarray, max_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each incident's unit (in unit order), and the window step of each drawn rank."""
    labels = np.repeat(np.arange(len(unit_totals), dtype=np.int64), unit_totals)
    last_first = step_totals[::-1][:max_steps]
    rank_offset = np.repeat(np.arange(max_steps, dtype=np.int64), last_first)
    return labels, rank_offset


def _uniform_blocks(
    rng: np.random.Generator, permutations: int, n_drawn: int
) -> Iterator[np.ndarray]:
    """The permutations' uniform draws, ``(block, n_drawn)`` at a time, in one stream."""
    block = max(1, UNIFORMS_PER_BLOCK // max(n_drawn, 1))
    done = 0
    while done < permutations:
        size = min(block, permutations - done)
        yield rng.random((size, n_drawn))
        done += size


def _null_maxima(
    unit_totals: np.ndarray,
    step_totals: np.ndarray,
    max_steps: int,
    permutations: int,
    seed: int | np.random.SeedSequence | None,
    circles: _Circles,
    share: np.ndarray,
    min_observed: int,
) -> np.ndarray:
    labels, rank_offset = _permutation_setup(unit_totals, step_totals, max_steps)
    rng = np.random.default_rng(seed)
    window = np.zeros((len(unit_totals), max_steps), dtype=np.int64)
    maxima = np.zeros(permutations)
    done = 0
    for uniforms in _uniform_blocks(rng, permutations, len(rank_offset)):
        _null_block(
            labels,
            uniforms,
            rank_offset,
            window,
            circles.neighbours,
            circles.reach,
            circles.mass,
            circles.group_end,
            circles.reverse_start,
            circles.reverse_centre,
            circles.reverse_rank,
            share,
            float(unit_totals.sum()),
            min_observed,
            SPARSE_BELOW,
            maxima[done : done + len(uniforms)],
        )
        done += len(uniforms)
    return maxima


# --------------------------------------------------------------------------------------------
# report


def _report(
    table: np.ndarray,
    ids: pd.Index,
    edges: pd.DatetimeIndex | None,
    step: str | None,
    circles: _Circles,
    best_llr: np.ndarray,
    best_k: np.ndarray,
    best_l: np.ndarray,
    share: np.ndarray,
    window: np.ndarray,
    null_maxima: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hierarchical clusters with no unit in common, and their steps."""
    n_units, n_steps = table.shape
    total = float(table.sum())
    permutations = len(null_maxima)
    step_totals = table.sum(axis=0)
    unit_totals = table.sum(axis=1)
    taken = np.zeros(n_units, dtype=bool)
    rows: list[dict[str, object]] = []
    step_rows: list[pd.DataFrame] = []
    # by decreasing ratio; among equal ratios the smaller circle (a unit with no incident adds
    # nothing), then the centre listed first
    for centre in np.lexsort((np.arange(n_units), best_k, -best_llr)):
        llr = float(best_llr[centre])
        if llr <= 0:
            break
        k, length = int(best_k[centre]), int(best_l[centre]) + 1
        members = circles.neighbours[centre, : k + 1]
        if taken[members].any():
            continue
        beaten = int((null_maxima >= llr * (1 - RANK_TOLERANCE)).sum())
        p_value = (beaten + 1) / (permutations + 1)
        if rows and p_value >= 1:
            break
        taken[members] = True
        observed = int(window[members, length - 1].sum())
        expected = float(circles.mass[centre, k] * share[length - 1])
        outside = (total - observed) / (total - expected)
        start = n_steps - length
        cluster_id = len(rows) + 1
        row: dict[str, object] = {
            "cluster_id": cluster_id,
            "unit_ids": ";".join(str(unit) for unit in ids[members]),
            "n_units": len(members),
            "centre": ids[centre],
            "radius": float(circles.distance[centre, k]),
            "start": start,
            "end": n_steps - 1,
        }
        if edges is not None:
            row["start_date"] = edges[start].date()
            row["end_date"] = _last_day(edges, n_steps - 1, step)
        row.update(
            observed=observed,
            expected=expected,
            observed_over_expected=observed / expected,
            relative_risk=(observed / expected) / outside if outside > 0 else math.inf,
            llr=llr,
            p_value=p_value,
            recurrence_interval=1 / p_value,
            recurrence_words=recurrence_words(1 / p_value, step, at_least=beaten == 0),
        )
        rows.append(row)
        per_step = pd.DataFrame(
            {
                "cluster_id": cluster_id,
                "step": np.arange(n_steps),
                "observed": table[members].sum(axis=0),
                "expected": unit_totals[members].sum() * step_totals / total,
                "in_cluster": np.arange(n_steps) >= start,
            }
        )
        if edges is not None:
            per_step.insert(2, "step_start", edges[:n_steps])
        step_rows.append(per_step)
    columns = [
        "cluster_id",
        "unit_ids",
        "n_units",
        "centre",
        "radius",
        "start",
        "end",
        *(["start_date", "end_date"] if edges is not None else []),
        "observed",
        "expected",
        "observed_over_expected",
        "relative_risk",
        "llr",
        "p_value",
        "recurrence_interval",
        "recurrence_words",
    ]
    clusters = pd.DataFrame(rows, columns=columns)
    step_columns = ["cluster_id", "step", "step_start", "observed", "expected", "in_cluster"]
    if edges is None:
        step_columns.remove("step_start")
    cluster_steps = (
        pd.concat(step_rows, ignore_index=True) if step_rows else pd.DataFrame(columns=step_columns)
    )
    return clusters, cluster_steps


def _last_day(edges: pd.DatetimeIndex, index: int, step: str | None) -> object:
    """The last day of step ``index``: the next edge less a day, or the step's length."""
    if len(edges) > index + 1:
        return (edges[index + 1] - pd.Timedelta(days=1)).date()
    start = edges[index]
    if step == "day":
        return start.date()
    if step == "week":
        return (start + pd.Timedelta(days=6)).date()
    if step == "month":
        return (start + pd.offsets.MonthEnd(1)).date()
    return start.date()
