"""Where to send violence-interruption teams next week: units ranked by a stated score.

The score is a ranking aid for outreach leads, not a statistic: it adds up what the analyses
already established, so that a reader can check each unit's place from its reason.

=========================== ===================================================================
part                        points
=========================== ===================================================================
emerging category           new or consecutive hot spot 4; intensifying 3; persistent, sporadic
                            or oscillating 2; diminishing 1; historical 0.5; any other 0
last step's Gi* bin         3, 2 or 1 when hot at 99%, 95% or 90% confidence (after FDR), else 0
trend of the z-scores       +1 when Mann-Kendall finds a significant rise, -1 for a fall
recent incidents            2 x (incidents in the last 4 steps / the largest such count of any
                            unit)
=========================== ===================================================================

Units with a score of zero or less are not listed. Ties go to the unit with more recent
incidents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .emerging import base_category, recent_text

#: Points per emerging category (by code; see ``stats.emerging.CATEGORY_NAMES``).
CATEGORY_POINTS = {1: 4.0, 2: 4.0, 3: 3.0, 4: 2.0, 6: 2.0, 7: 2.0, 5: 1.0, 8: 0.5}
#: Steps counted as "recent".
RECENT_STEPS = 4
CONFIDENCE = {3: "99%", 2: "95%", 1: "90%"}


def rank_for_outreach(
    emerging: pd.DataFrame, counts: np.ndarray, last_bins: np.ndarray, *, step: str = "week"
) -> pd.DataFrame:
    """Rank units for outreach next step by the score in this module's docstring.

    Parameters
    ----------
    emerging : pandas.DataFrame
        ``emerging.csv`` indexed by ``unit_id`` (``name``, ``category_code``, ``category``,
        ``last_z``, ``last_p``, ``mk_tau``, ``mk_p``).
    counts : numpy.ndarray
        Counts per unit (rows in ``emerging``'s order) and step.
    last_bins : numpy.ndarray
        Each unit's Gi* bin (-3..3) at the last step.
    step : str
        What a step is called, for the reasons.

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``unit_id``, ``name``, ``score``, ``category``, ``last_bin``, ``last_z``,
        ``last_p``, ``trend``, ``recent_incidents``, ``reason``; best first.

    Examples
    --------
    >>> emerging = pd.DataFrame({"name": ["Loop", "Austin", "Edison Park"],
    ...     "category_code": [2, 5, 0], "category": ["consecutive hot spot",
    ...     "diminishing hot spot", "no pattern"], "last_z": [4.9, 2.1, -0.3],
    ...     "last_p": [1e-6, 0.03, 0.7], "mk_tau": [0.2, -0.3, 0.0], "mk_p": [0.01, 0.001, 0.9]},
    ...     index=pd.Index(["32", "25", "9"], name="unit_id"))
    >>> counts = np.array([[0, 5, 9, 8, 7], [9, 8, 7, 6, 5], [0, 0, 1, 0, 0]])
    >>> table = rank_for_outreach(emerging, counts, np.array([3, 2, 0]))
    >>> table[["unit_id", "score"]].values.tolist()
    [['32', 10.0], ['25', 3.79], ['9', 0.07]]
    >>> table.loc[0, "reason"]
    'consecutive hot spot; last week a hot spot at 99% confidence (Gi* z 4.9); rising trend \
(tau 0.2); 29 incidents in the last 4 weeks'
    """
    counts = np.asarray(counts, dtype=float)
    recent = counts[:, -RECENT_STEPS:].sum(axis=1)
    most = recent.max() if len(recent) and recent.max() > 0 else 1.0
    codes = emerging["category_code"].astype(int).to_numpy()
    category_points = np.array([CATEGORY_POINTS.get(code, 0.0) for code in codes])
    bins = np.nan_to_num(np.asarray(last_bins, dtype=float)).astype(int)
    bin_points = np.clip(bins, 0, 3).astype(float)
    significant = emerging["mk_p"].to_numpy(dtype=float) <= 0.05
    tau = emerging["mk_tau"].to_numpy(dtype=float)
    trend_points = np.where(
        significant & (tau > 0), 1.0, np.where(significant & (tau < 0), -1.0, 0)
    )
    score = np.round(category_points + bin_points + trend_points + 2 * recent / most, 2)
    trend_words = np.where(
        trend_points > 0, "rising", np.where(trend_points < 0, "falling", "no significant trend")
    )
    table = pd.DataFrame(
        {
            "unit_id": emerging.index.astype(str),
            "name": emerging["name"].astype(str).to_numpy(),
            "score": score,
            "category": emerging["category"].to_numpy(),
            "last_bin": bins,
            "last_z": emerging["last_z"].to_numpy(dtype=float),
            "last_p": emerging["last_p"].to_numpy(dtype=float),
            "trend": trend_words,
            "recent_incidents": recent.astype(np.int64),
        }
    )
    table["reason"] = [
        _reason(row, tau_value, step)
        for row, tau_value in zip(table.itertuples(), tau, strict=True)
    ]
    table = table[table["score"] > 0].sort_values(
        ["score", "recent_incidents"], ascending=False, kind="stable"
    )
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def _reason(row, tau: float, step: str) -> str:
    parts = [str(row.category)]
    if row.last_bin > 0:
        parts.append(
            f"last {step} a hot spot at {CONFIDENCE[row.last_bin]} confidence "
            f"(Gi* z {row.last_z:.2g})"
        )
    elif row.last_bin < 0:
        parts.append(f"last {step} a cold spot (Gi* z {row.last_z:.2g})")
    else:
        parts.append(f"last {step} not significant (Gi* z {row.last_z:.2g})")
    if row.trend != "no significant trend":
        parts.append(f"{row.trend} trend (tau {tau:.2g})")
    parts.append(f"{row.recent_incidents} incidents in the last {RECENT_STEPS} {step}s")
    return "; ".join(parts)


#: Levels of the outreach list that the watch list looks below.
WATCH_CATEGORIES = ("new hot spot", "consecutive hot spot", "intensifying hot spot")


def rank_by_expected(
    emerging: pd.DataFrame,
    counts: np.ndarray,
    last_bins: np.ndarray,
    expected: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    *,
    level: float = 0.9,
    step: str = "week",
    recent_steps: int | None = None,
) -> pd.DataFrame:
    """Rank every unit for outreach by its expected incidents next step (a forecast), keeping
    what the analyses found as reasons.

    The order is the expectation's (ties to more recent incidents), so a unit's place follows
    from its stated ``expected``; ``score`` is that expectation. The backtest
    (``geo-violence backtest``) measures what such a list captured in past weeks.

    Parameters
    ----------
    emerging : pandas.DataFrame
        ``emerging.csv`` indexed by ``unit_id``, as :func:`rank_for_outreach` takes it.
    counts : numpy.ndarray
        Counts per unit and step.
    last_bins : numpy.ndarray
        Each unit's Gi* bin at the last step.
    expected, low, high : numpy.ndarray
        Expected incidents next step and the prediction interval, one per unit.
    level : float
        The interval's probability.
    step : str
        What a step is called.
    recent_steps : int, optional
        The emerging analysis's recent window: with ``emerging``'s ``recent_hot_share`` and
        ``last_hot_run``, the reason says "hot in 7 of the last 8 weeks".

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``unit_id``, ``name``, ``score`` (= ``expected``), ``expected``,
        ``expected_low``, ``expected_high``, ``category``, ``last_bin``, ``last_z``, ``last_p``,
        ``trend``, ``recent_incidents``, ``reason``; every unit, highest expectation first.

    Examples
    --------
    >>> emerging = pd.DataFrame({"name": ["Loop", "Austin"], "category_code": [2, 5],
    ...     "category": ["consecutive hot spot", "diminishing hot spot"], "last_z": [4.9, 2.1],
    ...     "last_p": [1e-6, 0.03], "mk_tau": [0.2, -0.3], "mk_p": [0.01, 0.001]},
    ...     index=pd.Index(["32", "25"], name="unit_id"))
    >>> table = rank_by_expected(emerging, np.array([[0, 9], [5, 5]]), np.array([3, 2]),
    ...     np.array([8.6, 4.1]), np.array([4, 1]), np.array([14, 8]))
    >>> table[["rank", "unit_id", "expected"]].values.tolist()
    [[1, '32', 8.6], [2, '25', 4.1]]
    >>> table.loc[0, "reason"].split("; ")[0]
    'expected 8.6 incidents next week (90% interval 4 to 14)'
    """
    table = rank_for_outreach(emerging, counts, last_bins, step=step)
    points = table.set_index("unit_id")
    ids = emerging.index.astype(str)
    recent = np.asarray(counts, dtype=float)[:, -RECENT_STEPS:].sum(axis=1)
    tau = emerging["mk_tau"].to_numpy(dtype=float)
    significant = emerging["mk_p"].to_numpy(dtype=float) <= 0.05
    bins = np.nan_to_num(np.asarray(last_bins, dtype=float)).astype(int)
    ranked = pd.DataFrame(
        {
            "unit_id": ids,
            "name": emerging["name"].astype(str).to_numpy(),
            "score": np.round(np.asarray(expected, dtype=float), 3),
            "expected": np.round(np.asarray(expected, dtype=float), 3),
            "expected_low": np.asarray(low, dtype=float),
            "expected_high": np.asarray(high, dtype=float),
            "category": emerging["category"].to_numpy(),
            "last_bin": bins,
            "last_z": emerging["last_z"].to_numpy(dtype=float),
            "last_p": emerging["last_p"].to_numpy(dtype=float),
            "trend": np.where(
                significant & (tau > 0),
                "rising",
                np.where(significant & (tau < 0), "falling", "no significant trend"),
            ),
            "recent_incidents": recent.astype(np.int64),
        }
    )
    findings = points["reason"].reindex(ids).fillna("").to_numpy()
    if recent_steps and {"recent_hot_share", "last_hot_run"} <= set(emerging.columns):
        recently = [
            recent_text(share, run, recent_steps, step)
            for share, run in zip(
                emerging["recent_hot_share"], emerging["last_hot_run"], strict=True
            )
        ]
        findings = np.array(
            [
                f"{finding}; {recent}" if finding and not recent.startswith("not") else finding
                for finding, recent in zip(findings, recently, strict=True)
            ],
            dtype=object,
        )
    ranked["reason"] = [
        f"expected {value:.2g} incidents next {step} ({level:.0%} interval {lo:.0f} to {hi:.0f})"
        + (f"; {finding}" if finding else "")
        for value, lo, hi, finding in zip(
            ranked["expected"],
            ranked["expected_low"],
            ranked["expected_high"],
            findings,
            strict=True,
        )
    ]
    ranked = ranked.sort_values(["expected", "recent_incidents"], ascending=False, kind="stable")
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked.reset_index(drop=True)


def watch_list(ranked: pd.DataFrame, rising: set[str], *, top: int) -> pd.DataFrame:
    """Places to watch: new, consecutive or intensifying hot spots, and units whose incidents
    are rising (``rising``: their ids), that the ranking does not put in its ``top``.

    Examples
    --------
    >>> ranked = pd.DataFrame({"rank": [1, 2, 3], "unit_id": ["a", "b", "c"],
    ...     "name": ["A", "B", "C"], "expected": [5.0, 3.0, 0.4],
    ...     "category": ["persistent hot spot", "no pattern", "new hot spot"],
    ...     "reason": ["r", "r", "r"]})
    >>> watch_list(ranked, {"b"}, top=1)["unit_id"].tolist()
    ['b', 'c']
    """
    below = ranked[ranked["rank"] > top]
    why = [
        "; ".join(
            part
            for part in (
                category if base_category(category) in WATCH_CATEGORIES else "",
                "incidents rising" if unit in rising else "",
            )
            if part
        )
        for unit, category in zip(below["unit_id"], below["category"], strict=True)
    ]
    watched = below.assign(watch_reason=why)
    return watched[watched["watch_reason"] != ""].reset_index(drop=True)
