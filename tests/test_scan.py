"""Prospective space-time permutation scan: a plain brute force (every cylinder, every random
table) against the compiled scan, the random tables against their exact distribution, the alarm
rate on pattern-free incidents on the community areas, the issue's planted downtown cluster, and
the messages of bad input."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from geo_violence import DataError, OptionError, load_units
from geo_violence.stats import scan
from geo_violence.stats.scan import (
    TIE_TOLERANCE,
    permuted_windows,
    recurrence_words,
    space_time_scan,
)

DOWNTOWN = ["32", "8", "33"]  # Loop, Near North Side, Near South Side


# --------------------------------------------------------------------------------------------
# the brute force, straight from the definition


def brute_force_cylinders(table, coordinates, max_steps, max_units, max_share, min_observed):
    """Every cylinder that counts, as (llr, centre, members, length), computed from scratch.

    Circles are all units within a radius of the centre (the radii are the distances to the
    units), at most ``max_units`` of them and, with ``max_share``, at most that share of the
    incidents; the cylinders end at the last step.
    """
    n_units, n_steps = len(table), len(table[0])
    unit_totals = [sum(row) for row in table]
    step_totals = [sum(table[j][t] for j in range(n_units)) for t in range(n_steps)]
    total = sum(unit_totals)
    cylinders = []
    for centre in range(n_units):
        distance = [math.dist(coordinates[centre], coordinates[j]) for j in range(n_units)]
        for radius in sorted(set(distance)):
            members = [j for j in range(n_units) if distance[j] <= radius * (1 + TIE_TOLERANCE)]
            if len(members) > max_units:
                break
            if max_share is not None and sum(unit_totals[j] for j in members) > max_share * total:
                continue
            for length in range(1, max_steps + 1):
                steps = range(n_steps - length, n_steps)
                observed = sum(table[j][t] for j in members for t in steps)
                expected = sum(
                    unit_totals[j] * step_totals[t] / total for j in members for t in steps
                )
                if observed >= min_observed and observed > expected:
                    llr = observed * math.log(observed / expected)
                    if observed < total:
                        llr += (total - observed) * math.log(
                            (total - observed) / (total - expected)
                        )
                    cylinders.append((llr, centre, members, length, observed, expected))
    return cylinders


def brute_force_clusters(cylinders, n_units):
    """Each centre's best cylinder (ties: the smaller circle, then the shorter window), kept by
    decreasing ratio (ties: the smaller circle, then the centre listed first) when it shares no
    unit with one kept before."""
    best = {}
    for cylinder in cylinders:
        llr, centre, members, length = cylinder[:4]
        key = (-llr, len(members), length)
        if centre not in best or key < best[centre][0]:
            best[centre] = (key, cylinder)
    ranked = sorted(best.values(), key=lambda item: (item[0][0], len(item[1][2]), item[1][1]))
    kept, taken = [], set()
    for _, cylinder in ranked:
        if taken.isdisjoint(cylinder[2]):
            kept.append(cylinder)
            taken.update(cylinder[2])
    return kept


def north_west_fill(window, unit_totals, step_totals):
    """A whole table whose last steps are ``window``: the earlier steps filled by the north-west
    corner rule (any filling with the right margins gives the same cylinders)."""
    n_units, n_window = window.shape
    earlier_steps = list(step_totals[: len(step_totals) - n_window])
    left = [int(unit_totals[j] - window[j].sum()) for j in range(n_units)]
    filled = [[0] * len(earlier_steps) for _ in range(n_units)]
    j = 0
    for t, need in enumerate(earlier_steps):
        while need > 0:
            while left[j] == 0:
                j += 1
            moved = min(need, left[j])
            filled[j][t] += moved
            left[j] -= moved
            need -= moved
    return [filled[j] + [int(v) for v in window[j]] for j in range(n_units)]


def small_cube(seed, n_units=7, n_steps=10, rate=1.2, grid=False):
    rng = np.random.default_rng(seed)
    if grid:  # a 3-wide lattice: many units at the same distance
        coordinates = np.array([[i % 3, i // 3] for i in range(n_units)], dtype=float)
    else:
        coordinates = rng.uniform(0, 10, (n_units, 2))
    table = rng.poisson(rate, (n_units, n_steps))
    table[rng.integers(n_units), -2:] += rng.integers(0, 4, 2)
    return table, coordinates


SETTINGS = [
    dict(max_steps=3, max_units=4, max_share=None, min_observed=2),
    dict(max_steps=5, max_units=7, max_share=None, min_observed=1),
    dict(max_steps=2, max_units=7, max_share=0.5, min_observed=2),
]


@pytest.mark.parametrize("walk", ["dense", "sparse"])
@pytest.mark.parametrize(
    ("seed", "grid", "settings"), list(itertools.product([0, 1, 2], [False, True], SETTINGS))
)
def test_clusters_and_p_values_equal_the_brute_force(seed, grid, settings, walk, monkeypatch):
    # the random tables are scanned by walking every list, or from the units with incidents
    monkeypatch.setattr(scan, "SPARSE_BELOW", 0.0 if walk == "dense" else 2.0)
    table, coordinates = small_cube(seed, grid=grid)
    permutations = 39
    result = space_time_scan(
        table, coordinates, permutations=permutations, seed=seed, alpha=0.1, **settings
    )
    cylinders = brute_force_cylinders(table.tolist(), coordinates.tolist(), **settings)
    expected = brute_force_clusters(cylinders, len(table))
    # every random table, completed to a whole one and scanned from scratch
    windows = permuted_windows(table, settings["max_steps"], permutations, seed=seed)
    maxima = []
    for window in windows:
        whole = north_west_fill(window, table.sum(axis=1), table.sum(axis=0))
        assert np.array_equal(np.sum(whole, axis=1), table.sum(axis=1))
        assert np.array_equal(np.sum(whole, axis=0), table.sum(axis=0))
        found = brute_force_cylinders(whole, coordinates.tolist(), **settings)
        maxima.append(max((c[0] for c in found), default=0.0))
    np.testing.assert_allclose(result.null_maxima, maxima, rtol=1e-10, atol=1e-12)

    p_values = [
        (1 + sum(m >= c[0] * (1 - 1e-10) for m in maxima)) / (permutations + 1) for c in expected
    ]
    reported = [c for c, p in zip(expected, p_values, strict=True) if c is expected[0] or p < 1]
    clusters = result.clusters
    assert len(clusters) == len(reported)
    for row, cylinder, p_value in zip(clusters.itertuples(), reported, p_values, strict=False):
        llr, centre, members, length, observed, expected_count = cylinder
        assert row.llr == pytest.approx(llr, rel=1e-10)
        assert set(row.unit_ids.split(";")) == {str(j) for j in members}
        assert row.centre == centre
        assert (row.start, row.end) == (table.shape[1] - length, table.shape[1] - 1)
        assert row.observed == observed
        assert row.expected == pytest.approx(expected_count, rel=1e-10)
        assert row.p_value == p_value
        assert row.recurrence_interval == pytest.approx(1 / p_value)


def test_cluster_steps_hold_the_clusters_observed_and_expected():
    table, coordinates = small_cube(5)
    result = space_time_scan(table, coordinates, max_steps=3, max_units=4, permutations=19)
    for row in result.clusters.itertuples():
        steps = result.cluster_steps[result.cluster_steps["cluster_id"] == row.cluster_id]
        assert len(steps) == table.shape[1]
        inside = steps[steps["in_cluster"]]
        assert inside["step"].min() == row.start
        assert inside["observed"].sum() == row.observed
        assert inside["expected"].sum() == pytest.approx(row.expected)
        assert steps["expected"].sum() == pytest.approx(steps["observed"].sum())


# --------------------------------------------------------------------------------------------
# the random tables


def test_random_tables_keep_the_margins():
    table = np.random.default_rng(3).poisson(2, (6, 9))
    tables = permuted_windows(table, 9, 200, seed=4)
    assert (tables.sum(axis=2) == table.sum(axis=1)).all()
    assert (tables.sum(axis=1) == table.sum(axis=0)).all()
    window = permuted_windows(table, 3, 200, seed=4)
    assert (window.sum(axis=1) == table.sum(axis=0)[-3:]).all()
    assert (window.sum(axis=2) <= table.sum(axis=1)).all()


def test_same_seed_same_tables_and_other_seed_other_tables():
    table = np.random.default_rng(3).poisson(2, (6, 9))
    first = permuted_windows(table, 3, 50, seed=8)
    assert np.array_equal(first, permuted_windows(table, 3, 50, seed=8))
    assert not np.array_equal(first, permuted_windows(table, 3, 50, seed=9))
    one = space_time_scan(table, np.arange(6.0), max_steps=3, permutations=50, seed=8)
    assert np.array_equal(
        one.null_maxima,
        space_time_scan(table, np.arange(6.0), max_steps=3, permutations=50, seed=8).null_maxima,
    )


def test_random_tables_follow_the_exact_distribution_of_random_labels():
    """Every table with the margins, its probability under random labels
    (prod n_j! prod m_t! / (N! prod x_jt!)), against the frequencies of 20,000 draws."""
    unit_totals, step_totals = (2, 2, 1), (2, 1, 2)
    table = np.array([[2, 0, 0], [0, 1, 1], [0, 0, 1]])
    assert tuple(table.sum(axis=1)) == unit_totals and tuple(table.sum(axis=0)) == step_totals
    draws = permuted_windows(table, 3, 20_000, seed=0)
    seen = pd.Series([tuple(d.ravel()) for d in draws]).value_counts()
    numerator = math.prod(map(math.factorial, unit_totals + step_totals))
    exact = {}
    for cells in itertools.product(range(3), repeat=9):
        candidate = np.array(cells).reshape(3, 3)
        if (
            tuple(candidate.sum(axis=1)) == unit_totals
            and tuple(candidate.sum(axis=0)) == step_totals
        ):
            exact[cells] = numerator / (
                math.factorial(5) * math.prod(math.factorial(v) for v in cells)
            )
    assert sum(exact.values()) == pytest.approx(1.0)
    assert set(seen.index) <= set(exact)
    observed = np.array([seen.get(cells, 0) for cells in exact])
    expected = np.array(list(exact.values())) * len(draws)
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_null_maxima_match_a_plain_shuffle_of_the_incidents_steps():
    """The distribution of the maximum from the compiled permutations against a plain shuffle of
    each incident's step label (Python's random module), two-sample Kolmogorov-Smirnov."""
    table, coordinates = small_cube(11, n_units=5, n_steps=8, rate=1.5)
    settings = dict(max_steps=3, max_units=5, max_share=None, min_observed=2)
    result = space_time_scan(table, coordinates, permutations=999, seed=3, **settings)
    incidents = [(j, t) for j in range(5) for t in range(8) for _ in range(table[j, t])]
    steps = [t for _, t in incidents]
    shuffler = random.Random(3)
    plain = []
    for _ in range(600):
        shuffler.shuffle(steps)
        whole = [[0] * 8 for _ in range(5)]
        for (j, _), t in zip(incidents, steps, strict=True):
            whole[j][t] += 1
        found = brute_force_cylinders(whole, coordinates.tolist(), **settings)
        plain.append(max((c[0] for c in found), default=0.0))
    assert stats.ks_2samp(result.null_maxima, plain).pvalue > 1e-3


# --------------------------------------------------------------------------------------------
# the community areas: pattern-free incidents and the planted downtown cluster


@pytest.fixture(scope="module")
def community_areas():
    return load_units("community_areas").units


def pattern_free(rng, n_units, n_steps, per_step):
    """Independent Poisson counts: uneven areas (gamma rates) times a citywide season, no
    space-time interaction, so the permutation test is exact for them."""
    rates = rng.gamma(0.8, 1.0, n_units)
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(n_steps) / 52)
    return rng.poisson(per_step * np.outer(rates / rates.sum(), season))


def planted(rng, units, n_steps=40, per_week=3, cluster_per_week=8, cluster_steps=8):
    """The issue's case: 3 incidents a week over the areas, plus 8 a week in the three downtown
    areas over the last 8 weeks."""
    counts = np.zeros((len(units), n_steps), dtype=int)
    weeks = np.arange(n_steps)
    for week in weeks:
        np.add.at(counts[:, week], rng.integers(0, len(units), rng.poisson(per_week)), 1)
    downtown = units.index.get_indexer(DOWNTOWN)
    for week in weeks[-cluster_steps:]:
        np.add.at(counts[:, week], downtown[rng.integers(0, 3, rng.poisson(cluster_per_week))], 1)
    return counts


def test_alarm_rate_on_pattern_free_incidents_is_the_nominal_level(community_areas):
    runs, alpha = 200, 0.05
    alarms = 0
    for seed in range(runs):
        counts = pattern_free(np.random.default_rng(seed), len(community_areas), 52, 12)
        result = space_time_scan(
            counts, community_areas, max_steps=4, permutations=99, alpha=alpha, seed=seed
        )
        alarms += bool(len(result.clusters)) and result.clusters["p_value"].iloc[0] <= alpha
    low, high = stats.binom.ppf([0.0005, 0.9995], runs, alpha)
    print(f"alarm rate on pattern-free incidents: {alarms}/{runs} = {alarms / runs:.3f}")
    assert low <= alarms <= high


def test_the_planted_downtown_cluster_is_found_with_its_units_and_start(community_areas):
    for seed in range(8):
        counts = planted(np.random.default_rng(seed), community_areas)
        result = space_time_scan(counts, community_areas, max_steps=12, permutations=999, seed=seed)
        top = result.clusters.iloc[0]
        found = set(top["unit_ids"].split(";"))
        assert len(found & set(DOWNTOWN)) >= 2, (seed, found)
        assert top["n_units"] <= 8
        assert top["p_value"] <= 0.05
        assert 30 <= top["start"] <= 34, (seed, top["start"])  # planted at 32


# --------------------------------------------------------------------------------------------
# input and output


def test_a_dataframe_is_matched_to_the_layer_and_its_dates_give_the_clusters_days(
    community_areas,
):
    counts = planted(np.random.default_rng(0), community_areas)
    counts[community_areas.index.get_loc("77")] = 0
    starts = pd.date_range("2024-01-01", periods=40, freq="7D", tz="America/Chicago")
    frame = pd.DataFrame(counts, index=community_areas.index, columns=starts)
    shuffled = frame.drop(index="77").sample(frac=1.0, random_state=1)  # area 77 counts zero
    from_frame = space_time_scan(shuffled, community_areas, max_steps=12, permutations=99)
    from_array = space_time_scan(
        counts, community_areas, max_steps=12, permutations=99, step_starts=starts
    )
    top, same = from_frame.clusters.iloc[0], from_array.clusters.iloc[0]
    assert top["unit_ids"] == same["unit_ids"]
    assert top["llr"] == pytest.approx(same["llr"])
    assert np.array_equal(from_frame.null_maxima, from_array.null_maxima)
    assert str(top["start_date"]) == str(starts[top["start"]].date())
    assert str(top["end_date"]) == "2024-10-06"  # the Sunday that ends the last week
    edges = starts.append(pd.DatetimeIndex([starts[-1] + pd.Timedelta(days=7)]))
    with_edges = space_time_scan(
        counts, community_areas, max_steps=12, permutations=99, step_starts=edges
    )
    assert str(with_edges.clusters.iloc[0]["end_date"]) == "2024-10-06"
    assert "step_start" in from_frame.cluster_steps.columns


def test_no_incident_in_the_window_gives_no_cluster_and_says_so():
    counts = np.ones((5, 10), dtype=int)
    counts[:, -3:] = 0
    result = space_time_scan(counts, np.arange(5.0), max_steps=3, permutations=19)
    assert result.clusters.empty and result.alarms.empty
    assert any("no incident in the last 3 steps" in note for note in result.notes)


def test_critical_value_is_the_statistic_an_alarm_needs():
    table, coordinates = small_cube(7)
    result = space_time_scan(table, coordinates, max_steps=3, permutations=99, seed=2)
    threshold = result.critical_value(0.05)
    # a statistic above the threshold has rank <= 5 (p <= 5/100); one equal to it has not
    assert (result.null_maxima > threshold).sum() <= 4 < (result.null_maxima >= threshold).sum()
    assert math.isinf(result.critical_value(0.001))


def test_recurrence_words_for_each_step():
    assert recurrence_words(1000 / 4, "week") == "once in 5 years of weekly runs"
    assert recurrence_words(80.0, "week") == "once in 1.5 years of weekly runs"
    assert recurrence_words(100.0, "day") == "once in 100 days of daily runs"
    assert recurrence_words(24.0, "month") == "once in 2 years of monthly runs"
    assert recurrence_words(1.0, "week") == "once in 1 week of weekly runs"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (dict(counts=np.ones((5, 3), int)), DataError, "at most half the period"),
        (dict(counts=np.ones((5, 1), int)), DataError, "needs at least 2"),
        (dict(max_units=6), OptionError, "'max_units' was 6 but the layer has 5 units"),
        (dict(max_units=0), OptionError, "'max_units' was 0"),
        (dict(max_steps=0), OptionError, "'max_steps' was 0"),
        (dict(permutations=10), OptionError, "use at least 19 permutations"),
        (dict(permutations=50, alpha=0.01), OptionError, "use at least 99 permutations"),
        (dict(alpha=1.5), OptionError, "'alpha' was 1.5"),
        (dict(max_share=0.0), OptionError, "'max_share' was 0.0"),
        (dict(min_observed=0), OptionError, "'min_observed' was 0"),
        (dict(step="year"), OptionError, "'step' was 'year'"),
        (dict(counts=np.zeros((5, 8), int)), DataError, "0 incident(s)"),
        (
            dict(counts=np.eye(1, 8, dtype=int).repeat(5, axis=0)),
            DataError,
            "all 5 incidents are in one step",
        ),
        (
            dict(counts=np.vstack([np.ones((1, 8), int), np.zeros((4, 8), int)])),
            DataError,
            "all 8 incidents are in one unit",
        ),
        (dict(counts=-np.ones((5, 8), int)), DataError, "negative or fractional"),
        (dict(counts=np.full((5, 8), 0.5)), DataError, "negative or fractional"),
        (dict(counts=np.ones((4, 8), int)), OptionError, "'counts' has 4 rows"),
        (dict(step_starts=pd.date_range("2024-01-01", periods=3)), OptionError, "3 dates"),
    ],
)
def test_bad_input_says_what_is_wrong(change, error, message):
    arguments = dict(
        counts=np.ones((5, 8), int), units=np.arange(5.0), max_steps=2, permutations=99
    )
    arguments.update(change)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        space_time_scan(**arguments)


def test_a_layer_in_a_geographic_crs_is_refused(community_areas):
    with pytest.raises(OptionError, match="geographic CRS"):
        space_time_scan(np.ones((77, 8), int), community_areas.to_crs("EPSG:4326"), max_steps=2)
