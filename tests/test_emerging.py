"""Emerging hot spots: space-time Gi* against a brute-force reference and esda, Mann-Kendall
against scipy and a closed form, every category and its edge, the known bugs of the open copy,
and planted patterns on the real beats."""

from __future__ import annotations

import itertools

import esda
import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats
from test_local_stats import lattice

from geo_violence import DataError, OptionError, load_units
from geo_violence.stats import count_tails, trend
from geo_violence.stats.emerging import (
    CATEGORY_NAMES,
    EmergingOptions,
    classify,
    emerging_hotspots,
    space_time_count_p,
    space_time_gi_star,
    space_time_permutation_p,
)
from geo_violence.stats.shift import rate_ratio_test
from geo_violence.stats.significance import adjust_p, permutations_needed
from geo_violence.stats.trend import mann_kendall
from geo_violence.units.neighbours import build_weights

CHAIN = sparse.csr_array(
    np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0]], dtype=float)
)


def brute_force_gi(x: np.ndarray, adjacency: np.ndarray, k: int, window: str) -> np.ndarray:
    """Space-time Gi* bin by bin, straight from the specification."""
    n_units, n_steps = x.shape
    z = np.full(x.shape, np.nan)
    for i, t in itertools.product(range(n_units), range(n_steps)):
        members = [j for j in range(n_units) if j == i or adjacency[i, j]]
        steps = range(max(0, t - k), t + 1)
        neighbourhood = [x[j, s] for j in members for s in steps]
        if window == "cube":
            pool = x.ravel()
        elif window == "step":
            pool = x[:, t]
        else:
            pool = x[:, max(0, t - k) : t + 1].ravel()
        n, size = len(pool), len(neighbourhood)
        spread = pool.std()
        denominator = spread * np.sqrt((n * size - size**2) / (n - 1))
        if spread > 0 and denominator > 0:
            z[i, t] = (sum(neighbourhood) - pool.mean() * size) / denominator
    return z


@pytest.mark.parametrize("window", ["cube", "step", "neighbourhood"])
@pytest.mark.parametrize("k", [0, 1, 2])
def test_space_time_gi_star_equals_the_brute_force_reference(window, k):
    x = np.random.default_rng(k).poisson(3, (4, 12)).astype(float)
    ours = space_time_gi_star(x, CHAIN, time_window=k, window=window)
    expected = brute_force_gi(x, CHAIN.toarray(), k, window)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-10, equal_nan=True)


def test_one_step_k0_window_step_equals_esda_g_local():
    units = load_units("community_areas").units
    neighbours = build_weights(units)
    x = np.random.default_rng(4).poisson(3, (77, 12)).astype(float)
    z = space_time_gi_star(x, neighbours.matrix, time_window=0, window="step")
    w = neighbours.to_w("B")
    for step in range(12):
        reference = esda.G_Local(x[:, step], w, transform="B", star=True, permutations=0)
        np.testing.assert_allclose(z[:, step], reference.Zs, rtol=0, atol=1e-10)


def test_row_standardised_weights_would_give_other_z_scores():
    """The first bug the spec lists: row-standardised Gi* is not the method's statistic."""
    units = load_units("community_areas").units
    neighbours = build_weights(units)
    x = np.random.default_rng(5).poisson(3, 77).astype(float)
    ours = space_time_gi_star(x[:, None], neighbours.matrix, time_window=0, window="step")[:, 0]
    row = esda.G_Local(x, neighbours.to_w("R"), transform="R", star=True, permutations=0).Zs
    assert np.abs(ours - row).max() > 0.1


def test_permutation_p_values_draw_from_one_window():
    # step t holds values far from every other step: a step-window pool never mixes them in
    x = np.vstack([np.arange(12) * 1000.0 + offset for offset in (0, 1, 2, 3)])
    p_step = space_time_permutation_p(
        x, CHAIN, time_window=0, window="step", permutations=99, seed=1
    )
    # within a step the values are 0..3 apart: nothing is extreme, p stays large
    assert (p_step > 0.2).all()
    p_cube = space_time_permutation_p(
        x, CHAIN, time_window=0, window="cube", permutations=99, seed=1
    )
    # from the whole cube, the middle units' neighbourhoods at the first and last steps are
    # extreme (the ends have one neighbour: one draw, not extreme enough at 99 permutations)
    assert (p_cube[1:3, 0] <= 0.05).all() and (p_cube[1:3, -1] <= 0.05).all()


def test_permutation_p_values_follow_the_normal_ones_on_large_counts():
    adjacency = lattice(8, 8).matrix
    rng = np.random.default_rng(9)
    x = rng.poisson(50, (64, 20)).astype(float)
    block = [27, 28, 35, 36]
    x[block, -5:] += 40
    normal = 2 * stats.norm.sf(np.abs(space_time_gi_star(x, adjacency)))
    permuted = space_time_permutation_p(
        x, adjacency, time_window=1, window="cube", permutations=999, seed=2
    )
    # the conditional permutation keeps the own value fixed, the normal approximation does not:
    # they rank the bins alike without being equal
    assert stats.spearmanr(normal.ravel(), permuted.ravel()).statistic > 0.85
    assert (permuted[block][:, -4:] <= 0.01).all() and (normal[block][:, -4:] <= 0.01).all()
    background = np.ones(64, dtype=bool)
    background[block] = False
    assert abs((permuted[background, :10] < 0.05).mean() - 0.05) < 0.03


def test_mann_kendall_against_scipy_and_the_closed_form_with_ties():
    series = np.array([[1.0, 3.0, 2.0, 2.0, 5.0, 4.0, 6.0, 6.0, 6.0, 9.0]])
    result = mann_kendall(series)
    n = 10
    s = sum(np.sign(series[0, b] - series[0, a]) for a, b in itertools.combinations(range(n), 2))
    ties = [2, 3]  # two 2s, three 6s
    variance = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18
    z = (s - np.sign(s)) / np.sqrt(variance)
    assert result.s[0] == s
    assert result.p[0] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-12)
    assert result.tau[0] == pytest.approx(stats.kendalltau(np.arange(n), series[0]).statistic)
    assert result.sen_slope[0] == pytest.approx(stats.theilslopes(series[0]).slope)


def test_mann_kendall_on_many_series_at_once_matches_one_by_one():
    values = np.round(np.random.default_rng(3).normal(size=(30, 25)), 1)
    together = mann_kendall(values)
    for row in range(30):
        alone = mann_kendall(values[row : row + 1])
        assert together.p[row] == pytest.approx(alone.p[0])
        assert together.tau[row] == pytest.approx(
            stats.kendalltau(np.arange(25), values[row]).statistic
        )


def test_sen_slope_and_s_match_scipy_across_blocks_odd_and_even_pairs_and_gaps(monkeypatch):
    # small tasks spread the rows over the thread pool; 10 steps give 45 pairs, 11 give 55
    monkeypatch.setattr(trend, "ROWS_PER_TASK", 3)
    rng = np.random.default_rng(11)
    for n_steps in (10, 11, 12):
        values = np.round(rng.normal(size=(25, n_steps)), 1)
        values[3, 4] = np.nan
        values[5] = np.nan
        s, slope = trend.pairwise_trend(values)
        for row, series in enumerate(values):
            known = np.isfinite(series)
            steps = np.arange(n_steps)[known]
            if known.sum() < 2:
                assert np.isnan(slope[row])
                continue
            expected = stats.theilslopes(series[known], steps).slope
            assert slope[row] == pytest.approx(expected, abs=1e-12)
            pairs = itertools.combinations(np.flatnonzero(known), 2)
            assert s[row] == sum(np.sign(series[b] - series[a]) for a, b in pairs)


def long_series(n_steps: int) -> np.ndarray:
    """Series long enough for the sampled bracket (more than 8 x SAMPLE_PAIRS pairs): noise,
    trends, counts with many ties, a median inside a tie at 0 and one inside a tie at 0.5, and
    one series with a gap."""
    rng = np.random.default_rng(12)
    steps = np.arange(n_steps)
    rows = [
        rng.normal(size=n_steps),
        0.01 * steps + rng.normal(size=n_steps),
        -0.03 * steps + rng.normal(size=n_steps),
        rng.poisson(2.0, n_steps) / 3.0,
        rng.poisson(0.7, n_steps) * 1.0,
        (rng.random(n_steps) < 0.05) * 1.0,
        np.where(rng.random(n_steps) < 0.04, rng.normal(size=n_steps), 0.5 * steps),
        np.cumsum(rng.normal(size=n_steps)),
    ]
    gap = rng.normal(size=n_steps)
    gap[7] = np.nan
    return np.vstack([*rows, gap])


@pytest.mark.parametrize("bracket_sigmas", [3.0, 0.0])
def test_sen_slope_of_long_series_matches_scipy_whether_the_bracket_holds_or_misses(
    monkeypatch, bracket_sigmas
):
    # a bracket of width 0 misses the median of most series, which are then done over all pairs
    monkeypatch.setattr(trend, "BRACKET_SIGMAS", bracket_sigmas)
    monkeypatch.setattr(trend, "ROWS_PER_TASK", 2)
    for n_steps in (150, 151):  # 11,175 and 11,325 pairs: an odd and an even count
        values = long_series(n_steps)
        assert n_steps * (n_steps - 1) // 2 > 8 * trend.SAMPLE_PAIRS
        s, slope = trend.pairwise_trend(values)
        for row, series in enumerate(values):
            known = np.isfinite(series)
            steps = np.arange(n_steps)[known]
            assert slope[row] == pytest.approx(
                stats.theilslopes(series[known], steps).slope, abs=1e-12
            )
            later_minus_earlier = series[known][None, :] - series[known][:, None]
            assert s[row] == np.sign(np.triu(later_minus_earlier, k=1)).sum()
    assert slope[5] == 0.0 and slope[6] == 0.5  # the two medians inside a tie


# --- categories, from hand-made series of hot (H), cold (C) and neither (.) steps -------------

NO_TREND = 0.5


def categorise(pattern: str, trend: float = 0.0, trend_p: float = NO_TREND) -> str:
    hot = np.array([[c == "H" for c in pattern]])
    cold = np.array([[c == "C" for c in pattern]])
    code = classify(hot, cold, trend_p=np.array([trend_p]), trend_tau=np.array([trend]))[0]
    return CATEGORY_NAMES[int(code)]


def mirror(pattern: str) -> str:
    return pattern.translate(str.maketrans("HC", "CH"))


UP, DOWN, SIGNIFICANT = 0.4, -0.4, 0.001

CASES = [
    # (pattern of 10 steps, trend tau, trend p, expected hot category, the edge just outside)
    (".........H", 0, NO_TREND, "new hot spot", ("....H....H", "sporadic hot spot")),
    ("CCC......H", 0, NO_TREND, "new hot spot", ("CCC..H...H", "oscillating hot spot")),
    ("......HHHH", 0, NO_TREND, "consecutive hot spot", ("..H...HHHH", "sporadic hot spot")),
    (
        ".HHHHHHHHH",
        UP,
        SIGNIFICANT,
        "intensifying hot spot",
        (".HHHHHHHHH", "persistent hot spot"),
    ),  # same steps, no significant trend
    (
        "HHHHHHHHHH",
        DOWN,
        SIGNIFICANT,
        "diminishing hot spot",
        ("HHHHHHHHH.", "historical hot spot"),
    ),
    ("HHHHHHHHHH", 0, NO_TREND, "persistent hot spot", ("HHHHHHHHH.", "historical hot spot")),
    ("HH..C....H", 0, NO_TREND, "oscillating hot spot", ("HH.......H", "sporadic hot spot")),
    ("H..H..H..H", 0, NO_TREND, "sporadic hot spot", ("H..H..C..H", "oscillating hot spot")),
    ("HHHHHHHHH.", 0, NO_TREND, "historical hot spot", ("HHHHHHHH..", "no pattern")),
    (".HHHHHHHH.", 0, NO_TREND, "no pattern", ("HHHHHHHHH.", "historical hot spot")),
]


@pytest.mark.parametrize(("pattern", "tau", "trend_p", "expected", "edge"), CASES)
def test_each_hot_category_and_the_edge_just_outside(pattern, tau, trend_p, expected, edge):
    assert categorise(pattern, tau, trend_p) == expected
    edge_pattern, edge_expected = edge
    edge_p = NO_TREND if expected == "intensifying hot spot" else trend_p
    assert categorise(edge_pattern, tau, edge_p) == edge_expected != expected


@pytest.mark.parametrize(("pattern", "tau", "trend_p", "expected", "edge"), CASES)
def test_each_cold_category_mirrors_the_hot_one(pattern, tau, trend_p, expected, edge):
    cold_expected = expected.replace("hot", "cold")
    assert categorise(mirror(pattern), -tau, trend_p) == cold_expected
    edge_pattern, edge_expected = edge
    edge_p = NO_TREND if expected == "intensifying hot spot" else trend_p
    assert categorise(mirror(edge_pattern), -tau, edge_p) == edge_expected.replace("hot", "cold")


def test_persistence_threshold_is_a_parameter():
    hot = np.array([[False] * 2 + [True] * 8])
    codes = [
        classify(
            hot,
            np.zeros_like(hot),
            trend_p=np.array([0.5]),
            trend_tau=np.array([0.0]),
            persistence=level,
        )[0]
        for level in (0.9, 0.8)
    ]
    assert [CATEGORY_NAMES[int(c)] for c in codes] == [
        "consecutive hot spot",
        "persistent hot spot",
    ]


def test_cold_at_last_but_hot_90_percent_is_in_the_cold_family():
    assert categorise("HHHHHHHHHHHHHHHHHHHC") == "new cold spot"
    assert categorise("HHHHHHHHHHHHHHHHHHCC") == "consecutive cold spot"


# --- the three bugs of the open-source copy (sfdep) that the spec lists ----------------------


def sfdep_intensifying(hot: np.ndarray, cold: np.ndarray, trend_up: bool) -> bool:
    """sfdep's rule as the spec describes it: any significant step counts toward 90%."""
    return bool(((hot | cold).mean() >= 0.9) and hot[-1] and trend_up)


def test_bug_any_significant_step_counted_toward_intensifying():
    pattern = "CHHHHHHHCH"  # 80% hot, 20% cold: 100% significant, hot at last, trend up
    hot = np.array([c == "H" for c in pattern])
    cold = np.array([c == "C" for c in pattern])
    assert sfdep_intensifying(hot, cold, trend_up=True)  # sfdep: intensifying
    assert categorise(pattern, UP, SIGNIFICANT) == "oscillating hot spot"  # ours: H = 0.8


def test_bug_persistent_ignoring_the_final_step():
    # hot in 95% of the steps but not at the last: historical, never persistent
    assert categorise("H" * 19 + ".") == "historical hot spot"


def test_bug_historical_tested_on_a_negative_last_z():
    """Historical means 'not significant at the last step', whatever the sign of its z."""
    ring = sparse.csr_array(np.roll(np.eye(30), 1, axis=1) + np.roll(np.eye(30), -1, axis=1))
    counts = np.random.default_rng(0).poisson(2.0, (30, 20)).astype(float)
    counts[0, :19] = 30  # hot for (nearly) every step ...
    counts[0, 19] = 6  # ... and at the last step above average: z > 0, but not significant
    # normal p-values: under the exact count tail (the default) a lone unit's run of high counts is
    # not significant after the correction (see test_a_lone_units_run_is_not_a_cluster_under_...)
    result = emerging_hotspots(
        counts,
        ring,
        pd.Index([str(i) for i in range(30)]),
        options=EmergingOptions(p_values="normal"),
    )
    unit = result.units.loc["0"]
    assert unit["last_z"] > 0 and not result.hot[0, -1]
    assert unit["hot_fraction"] >= 0.9
    assert unit["category"] == "historical hot spot"


# --- the whole analysis -----------------------------------------------------------------------


def test_too_few_steps_and_zero_variance_have_their_own_messages():
    ids = pd.Index(["a", "b", "c", "d"])
    with pytest.raises(DataError, match="at least 10 steps; the cube has 9"):
        emerging_hotspots(np.ones((4, 9)), CHAIN, ids)
    with pytest.raises(DataError, match="same value"):
        emerging_hotspots(np.ones((4, 12)), CHAIN, ids)


def test_units_with_no_event_stay_as_no_pattern_and_drop_empty_leaves_them_out():
    x = np.random.default_rng(1).poisson(4, (4, 12)).astype(float)
    x[3] = 0
    ids = pd.Index(["a", "b", "c", "d"])
    kept = emerging_hotspots(x, CHAIN, ids)
    dropped = emerging_hotspots(x, CHAIN, ids, options=EmergingOptions(drop_empty=True))
    assert dropped.units.loc["d", "category"] == "no pattern"
    assert np.isnan(dropped.z[3]).all() and not np.isnan(kept.z[3]).all()
    assert not np.allclose(kept.z[:3], dropped.z[:3])  # the cube's moments changed
    assert any("drop-empty" in note for note in dropped.notes)


@pytest.fixture(scope="module")
def beats(shared_data):
    units = load_units("beats", units_file=shared_data / "police_beats.geojson").units
    return units, build_weights(units)


def test_planted_emerging_and_fading_hot_spots_on_the_real_beats(beats):
    units, neighbours = beats
    rng = np.random.default_rng(11)
    n_steps = 104
    rates = np.full((len(units), n_steps), 2.0)
    emerging = ["0111", "0112", "0113", "0114"]  # four beats of the Loop
    fading = ["1511", "1512", "1513", "1522", "1523"]  # Austin
    position = {unit: i for i, unit in enumerate(units.index)}
    for unit in emerging:
        rates[position[unit], -8:] = 12.0
    for unit in fading:
        rates[position[unit], :70] = 12.0
        rates[position[unit], 70:] = np.linspace(12.0, 2.0, n_steps - 70)
    counts = rng.poisson(rates).astype(float)
    result = emerging_hotspots(counts, neighbours.matrix, units.index)
    categories = result.units["category"]
    assert set(categories[emerging]) <= {"new hot spot", "consecutive hot spot"}
    assert set(categories[fading]) <= {
        "diminishing hot spot",
        "historical hot spot",
        "oscillating hot spot",
        "sporadic hot spot",
        "no pattern",
    }
    assert (categories[fading].isin(["diminishing hot spot", "historical hot spot"])).sum() >= 3


def test_no_pattern_gives_few_categories_on_the_real_beats(beats):
    units, neighbours = beats
    shares = []
    for seed in range(5):
        counts = np.random.default_rng(seed).poisson(2.0, (len(units), 104)).astype(float)
        result = emerging_hotspots(counts, neighbours.matrix, units.index)
        shares.append((result.units["category_code"] != 0).mean())
    print(f"share of beats with a category on data with no pattern: {np.mean(shares):.2%}")
    assert np.mean(shares) < 0.05


# --- issue 15: the trend test on z series, exact bin p-values, honest permutations, new columns --


def moving_sums(noise: np.ndarray, k: int) -> np.ndarray:
    """Sums of the steps t-K .. t of each row (fewer at the start), as a Gi* window sums them."""
    running = np.cumsum(noise, axis=1)
    result = running.copy()
    result[:, k + 1 :] -= running[:, : -(k + 1)]
    return result


def test_window_autocorrelation_is_that_of_overlapping_sums():
    noise = np.random.default_rng(21).normal(size=(400, 600))
    for k in (1, 4):
        series = moving_sums(noise, k)[:, k:]  # full windows only
        centred = series - series.mean(axis=1, keepdims=True)
        empirical = [
            (centred[:, lag:] * centred[:, :-lag]).sum() / (centred**2).sum()
            for lag in range(1, k + 3)
        ]
        expected = [*trend.window_autocorrelation(k).tolist(), 0.0, 0.0]
        np.testing.assert_allclose(empirical, expected, atol=0.02)


def test_window_corrected_variance_of_s_matches_its_simulated_variance():
    """Independent of the formula: the variance of S over many series with no trend."""
    rng = np.random.default_rng(22)
    for k in (1, 4):
        series = moving_sums(rng.poisson(2.0, (4000, 104 + k)).astype(float), k)[:, k:]
        corrected = mann_kendall(series, autocorrelation=trend.window_autocorrelation(k))
        simulated = corrected.s.var()
        assert np.median(corrected.variance) == pytest.approx(simulated, rel=0.08)
        plain = mann_kendall(series)
        assert np.median(plain.variance) < 0.75 * simulated  # the uncorrected one is too small


@pytest.mark.parametrize("lag", [1, 2, 4])
def test_corrected_mann_kendall_matches_pymannkendall_on_gi_z_series(lag):
    pymannkendall = pytest.importorskip("pymannkendall")
    x = np.random.default_rng(lag).poisson(1.5, (4, 40)).astype(float)
    z = space_time_gi_star(x, CHAIN, time_window=lag)
    for correction, reference in (
        ("hamed-rao", pymannkendall.hamed_rao_modification_test),
        ("yue-wang", pymannkendall.yue_wang_modification_test),
    ):
        rho = trend.serial_correlation(z, lag, correction=correction)
        ours = mann_kendall(z, autocorrelation=rho, correction=correction)
        for row in range(len(z)):
            expected = reference(z[row], alpha=0.05, lag=lag)
            assert ours.variance[row] == pytest.approx(expected.var_s, rel=1e-9)
            assert ours.p[row] == pytest.approx(expected.p, rel=1e-9, abs=1e-12)
            assert ours.s[row] == expected.s


def test_window_correction_is_hamed_rao_with_the_windows_autocorrelation():
    pymannkendall = pytest.importorskip("pymannkendall")
    x = np.random.default_rng(23).poisson(2.0, (4, 30)).astype(float)
    z = space_time_gi_star(x, CHAIN, time_window=3)
    ours = mann_kendall(z, autocorrelation=trend.window_autocorrelation(3))
    n = 30
    for row in range(len(z)):
        plain = pymannkendall.original_test(z[row])
        factor = 1 + 2 / (n * (n - 1) * (n - 2)) * sum(
            (n - k) * (n - k - 1) * (n - k - 2) * (1 - k / 4) for k in (1, 2, 3)
        )
        z_score = (plain.s - np.sign(plain.s)) / np.sqrt(plain.var_s * factor)
        assert ours.p[row] == pytest.approx(2 * stats.norm.sf(abs(z_score)), rel=1e-9)


def test_trend_correction_options_of_the_whole_analysis():
    x = np.random.default_rng(24).poisson(3.0, (4, 40)).astype(float)
    ids = pd.Index(list("abcd"))
    p = {
        correction: emerging_hotspots(
            x, CHAIN, ids, options=EmergingOptions(time_window=2, trend_correction=correction)
        ).units["mk_p"]
        for correction in ("window", "none", "hamed-rao", "yue-wang")
    }
    z = space_time_gi_star(x, CHAIN, time_window=2)
    np.testing.assert_allclose(p["none"], mann_kendall(z).p)
    # the corrected tests leave out the first K steps, whose windows are not full
    full = z[:, 2:]
    np.testing.assert_allclose(
        p["window"], mann_kendall(full, autocorrelation=trend.window_autocorrelation(2)).p
    )
    rho = trend.serial_correlation(full, 2, correction="yue-wang")
    np.testing.assert_allclose(
        p["yue-wang"], mann_kendall(full, autocorrelation=rho, correction="yue-wang").p
    )
    with pytest.raises(OptionError, match="'trend_correction' was 'ar1'"):
        emerging_hotspots(x, CHAIN, ids, options=EmergingOptions(trend_correction="ar1"))


def brute_force_count_p(
    x: np.ndarray, adjacency: np.ndarray, k: int, window: str, dispersion: float | None = None
) -> np.ndarray:
    """The exact tail bin by bin with scipy's distributions, from the module's definition (with
    ``dispersion``: the "rate" null, variance ``dispersion`` times the mean)."""
    n_units, n_steps = x.shape
    p = np.full(x.shape, np.nan)
    for i, t in itertools.product(range(n_units), range(n_steps)):
        members = [j for j in range(n_units) if j == i or adjacency[i, j]]
        steps = range(max(0, t - k), t + 1)
        total = int(sum(x[j, s] for j in members for s in steps))
        size = len(members) * len(steps)
        pool = {
            "cube": x.ravel(),
            "step": x[:, t],
            "neighbourhood": x[:, max(0, t - k) : t + 1].ravel(),
        }[window]
        n = len(pool)
        if pool.std() == 0 or n <= size:
            continue
        mean = pool.mean() * size
        variance = pool.var() * size * (n - size) / (n - 1)
        if dispersion is not None:
            variance = dispersion * mean
        if variance <= mean:
            distribution = stats.poisson(mean)
        else:
            distribution = stats.nbinom(mean**2 / (variance - mean), mean / variance)
        upper, lower = distribution.sf(total - 1), distribution.cdf(total)
        p[i, t] = min(1.0, 2 * min(upper, lower))
    return p


@pytest.mark.parametrize("window", ["cube", "step", "neighbourhood"])
@pytest.mark.parametrize(("k", "rate"), [(0, 0.3), (1, 3.0), (2, 1.0)])
def test_exact_count_p_values_equal_the_brute_force_reference(window, k, rate):
    rng = np.random.default_rng(k)
    x = rng.poisson(rng.gamma(1.0, rate, (4, 1)), (4, 12)).astype(float)  # overdispersed
    ours = space_time_count_p(x, CHAIN, time_window=k, window=window)
    expected = brute_force_count_p(x, CHAIN.toarray(), k, window)
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=0, equal_nan=True)


def dispersion_by_least_squares(x: np.ndarray) -> float:
    """Residual variance over the mean after a least-squares fit of unit and step effects."""
    n_units, n_steps = x.shape
    units = np.repeat(np.eye(n_units), n_steps, axis=0)
    steps = np.tile(np.eye(n_steps), (n_units, 1))[:, 1:]
    design = np.hstack([units, steps])
    fitted = design @ np.linalg.lstsq(design, x.ravel(), rcond=None)[0]
    residual_variance = ((x.ravel() - fitted) ** 2).sum() / ((n_units - 1) * (n_steps - 1))
    return max(1.0, residual_variance / x.mean())


@pytest.mark.parametrize("window", ["cube", "step"])
def test_rate_p_values_equal_the_brute_force_reference(window):
    rng = np.random.default_rng(32)
    x = rng.poisson(rng.gamma(2.0, 1.5, (4, 12))).astype(float)
    dispersion = dispersion_by_least_squares(x)
    assert dispersion > 1.2
    assert count_tails.week_to_week_dispersion(x) == pytest.approx(dispersion, rel=1e-10)
    ours = space_time_count_p(x, CHAIN, window=window, null="rate")
    expected = brute_force_count_p(x, CHAIN.toarray(), 1, window, dispersion)
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=0, equal_nan=True)


#: The calibrated p-values (not yet the default).
AUTO = EmergingOptions(p_values="auto")


def test_rate_p_values_find_units_above_the_citys_rate_that_gi_star_calls_noise():
    """Constant rates that differ by unit: the randomisation null takes the differences as noise,
    the rate null finds the neighbourhoods whose true rate is above (or below) the city's, and
    holds its level on overdispersed counts of one rate."""
    units = load_units("community_areas").units
    adjacency = build_weights(units).matrix
    star = adjacency + sparse.eye_array(77, format="csr")
    rng = np.random.default_rng(33)
    rates = rng.gamma(2.0, 1.0, (77, 1)) * np.ones((1, 104))
    x = rng.poisson(rates).astype(float)
    ids = pd.Index(units.index)
    by_rate = emerging_hotspots(x, adjacency, ids, options=EmergingOptions(p_values="rate"))
    exact = emerging_hotspots(x, adjacency, ids, options=AUTO)
    true_rate = np.asarray(star @ rates[:, 0]) / np.asarray(star.sum(axis=1)).ravel()
    hot_units = by_rate.hot.any(axis=1)
    cold_units = by_rate.cold.any(axis=1)
    assert by_rate.hot.sum() >= 20 and by_rate.cold.sum() >= 5 and not exact.hot.any()
    assert (true_rate[hot_units] > rates.mean()).mean() >= 0.9
    assert (true_rate[cold_units] < rates.mean()).mean() >= 0.9
    assert by_rate.p_values == "rate" and any("vary 1.0" in note for note in by_rate.notes)
    found = 0
    for run in range(10):
        noise = np.random.default_rng(34 + run).poisson(rng.gamma(1.0, 1.0, (77, 104)))
        p = space_time_count_p(noise.astype(float), adjacency, null="rate")
        found += (adjust_p(p.ravel()) <= 0.05).any()
    assert found <= 1


def test_exact_p_values_hold_their_level_where_the_normal_ones_do_not():
    """Sparse Poisson counts on the 77 community areas: the share of bins with p <= a stays at or
    under a for the exact tail; the normal tail gives the hot side several times too many."""
    units = load_units("community_areas").units
    adjacency = build_weights(units).matrix
    rng = np.random.default_rng(25)
    exact, normal, z_all = [], [], []
    for _ in range(30):
        x = rng.poisson(0.2, (77, 104)).astype(float)
        z = space_time_gi_star(x, adjacency)
        exact.append(space_time_count_p(x, adjacency).ravel())
        normal.append(2 * stats.norm.sf(np.abs(z)).ravel())
        z_all.append(z.ravel())
    exact, normal, z_all = np.concatenate(exact), np.concatenate(normal), np.concatenate(z_all)
    bins = exact.size  # 240,240 bins, far from independent: a generous tolerance
    for level in (0.05, 0.01, 0.001):
        tolerance = 4 * np.sqrt(level * (1 - level) / bins) * 10
        assert (exact <= level).mean() <= level + tolerance
    hot_normal = ((normal <= 0.001) & (z_all > 0)).mean()
    hot_exact = ((exact <= 0.001) & (z_all > 0)).mean()
    assert hot_normal > 3 * 0.0005 and hot_exact <= 0.0005 * 1.5


def test_cold_bins_are_reachable_with_exact_p_values():
    adjacency = lattice(8, 8).matrix
    x = np.random.default_rng(26).poisson(4.0, (64, 30)).astype(float)
    quiet = [27, 28, 35, 36]
    x[np.ix_([19, 20, 26, 27, 28, 29, 34, 35, 36, 37, 43, 44], range(24, 30))] = 0
    result = emerging_hotspots(x, adjacency, pd.Index([str(i) for i in range(64)]), options=AUTO)
    assert result.p_values == "exact"
    assert result.cold[quiet, -3:].all()
    assert result.units["category_code"].iloc[quiet].lt(0).all()


def test_the_automatic_choice_of_p_values_and_its_note():
    x = np.random.default_rng(27).poisson(2.0, (4, 20)).astype(float)
    ids = pd.Index(list("abcd"))
    sparse_counts = emerging_hotspots(x, CHAIN, ids, options=AUTO)
    assert sparse_counts.p_values == "exact"
    assert any("bin p-values: exact (counts too sparse" in note for note in sparse_counts.notes)
    dense = np.random.default_rng(28).poisson(1e6, (4, 20)).astype(float)
    assert emerging_hotspots(dense, CHAIN, ids, options=AUTO).p_values == "normal"
    rates = emerging_hotspots(x + 0.5, CHAIN, ids, options=AUTO)
    assert rates.p_values == "normal"
    assert any("not counts" in note for note in rates.notes)
    permuted = emerging_hotspots(x, CHAIN, ids, options=EmergingOptions(permutations=99))
    assert permuted.p_values == "permutation"
    forced = emerging_hotspots(dense, CHAIN, ids, options=EmergingOptions(p_values="exact"))
    assert forced.p_values == "exact"
    np.testing.assert_allclose(forced.z, emerging_hotspots(dense, CHAIN, ids).z)  # z unchanged
    with pytest.raises(OptionError, match="'exact' needs counts"):
        emerging_hotspots(x + 0.5, CHAIN, ids, options=EmergingOptions(p_values="exact"))
    with pytest.raises(OptionError, match="'permutations' was 0"):
        emerging_hotspots(x, CHAIN, ids, options=EmergingOptions(p_values="permutation"))
    with pytest.raises(OptionError, match="'permutations' was 99"):
        emerging_hotspots(
            x, CHAIN, ids, options=EmergingOptions(p_values="normal", permutations=99)
        )
    with pytest.raises(OptionError, match="'p_values' was 'mid-p'"):
        emerging_hotspots(x, CHAIN, ids, options=EmergingOptions(p_values="mid-p"))
    # the default is the automatic choice; "arcgis" is ArcGIS's normal tail, or its permutations
    assert emerging_hotspots(x, CHAIN, ids).p_values == "exact"
    arcgis = emerging_hotspots(x, CHAIN, ids, options=EmergingOptions(p_values="arcgis"))
    normal = emerging_hotspots(x, CHAIN, ids, options=EmergingOptions(p_values="normal"))
    assert arcgis.p_values == "normal" and np.array_equal(arcgis.p, normal.p, equal_nan=True)
    assert any("ArcGIS's normal tail, as asked" in note for note in arcgis.notes)
    arcgis_permuted = EmergingOptions(p_values="arcgis", permutations=99)
    assert emerging_hotspots(x, CHAIN, ids, options=arcgis_permuted).p_values == "permutation"


def test_a_lone_units_run_is_not_a_cluster_under_the_exact_tail_nor_permutations():
    """The case of test_bug_historical_tested_on_a_negative_last_z under the default p-values:
    one unit at 30 among Poisson(2) counts. Its neighbourhoods hold two of the cube's 19 large
    values; drawn at random, six bins hold two of them about 1.5% of the time, so after the
    correction over 600 bins they are not significant. The conditional permutations say the same;
    only the normal tail, far too thin for these skewed values, calls them hot."""
    ring = sparse.csr_array(np.roll(np.eye(30), 1, axis=1) + np.roll(np.eye(30), -1, axis=1))
    counts = np.random.default_rng(0).poisson(2.0, (30, 20)).astype(float)
    counts[0, :19] = 30
    counts[0, 19] = 6
    ids = pd.Index([str(i) for i in range(30)])
    exact = emerging_hotspots(counts, ring, ids, options=AUTO)
    normal = emerging_hotspots(counts, ring, ids, options=EmergingOptions(p_values="normal"))
    permuted = space_time_permutation_p(
        counts, ring, time_window=1, window="cube", permutations=9999, seed=3
    )
    assert normal.hot[0].sum() >= 18 and not exact.hot[0].any()
    assert (permuted[0, 1:19] > 0.05).all() and (exact.p[0, 1:19] > 0.001).all()


def test_too_few_permutations_are_said_with_how_many_would_do(beats):
    units, neighbours = beats
    rng = np.random.default_rng(29)
    rates = np.full((len(units), 104), 2.0)
    rates[:5, -8:] = 10.0
    counts = rng.poisson(rates).astype(float)
    options = EmergingOptions(permutations=99, seed=4)
    result = emerging_hotspots(counts, neighbours.matrix, units.index, options=options)
    needed = permutations_needed(len(units) * 104, 0.05, "bh")
    assert result.p_values == "permutation" and not result.hot.any()
    assert result.resolution_note in result.notes
    assert f"use at least {needed} permutations" in result.resolution_note
    assert "exact count p-values" in result.resolution_note
    assert 2 / (needed + 1) * len(units) * 104 <= 0.05 < 2 / needed * len(units) * 104
    assert emerging_hotspots(counts, neighbours.matrix, units.index).resolution_note is None


def test_recent_columns_follow_the_hot_steps_and_the_exact_rate_ratio():
    adjacency = lattice(8, 8).matrix
    rng = np.random.default_rng(30)
    rates = np.full((64, 40), 1.0)
    rates[[27, 28, 35, 36], -7:] = 8.0
    counts = rng.poisson(rates).astype(float)
    result = emerging_hotspots(counts, adjacency, pd.Index([str(i) for i in range(64)]))
    table = result.units
    old_columns = [
        "category_code", "category", "hot_fraction", "cold_fraction", "n_hot", "n_cold",
        "first_hot", "last_hot", "last_z", "last_p", "mk_tau", "mk_p", "sen_slope", "total",
        "last_count",
    ]  # fmt: skip
    assert table.columns[: len(old_columns)].tolist() == old_columns
    assert result.recent_steps == 10
    for row, hot in enumerate(result.hot):
        run = 0
        while run < len(hot) and hot[len(hot) - 1 - run]:
            run += 1
        assert table["last_hot_run"].iloc[row] == run
        assert table["recent_hot_share"].iloc[row] == hot[-10:].sum() / 10
        assert table["recent_cold_share"].iloc[row] == result.cold[row, -10:].sum() / 10
    assert (table["last_hot_run"].iloc[[27, 28, 35, 36]] >= 5).all()
    reference = rate_ratio_test(counts[:, :-10].sum(axis=1), counts[:, -10:].sum(axis=1), 30, 10)
    np.testing.assert_allclose(table["recent_rate_ratio"], reference["rate_ratio"])
    np.testing.assert_allclose(table["recent_rate_ratio_low"], reference["rate_ratio_low"])
    np.testing.assert_allclose(table["recent_rate_ratio_high"], reference["rate_ratio_high"])
    # the interval is Clopper-Pearson's for the share of the unit's events in the recent steps
    after, total = int(counts[27, -10:].sum()), int(counts[27].sum())
    interval = stats.binomtest(after, total).proportion_ci(method="exact")
    odds = np.array([interval.low, interval.high]) / (1 - np.array([interval.low, interval.high]))
    np.testing.assert_allclose(
        table.loc["27", ["recent_rate_ratio_low", "recent_rate_ratio_high"]], odds * 3
    )


def test_the_recent_rate_ratio_finds_a_sparse_rise():
    """Homicide-like weekly counts (0.15 a week per community area): a rise to 0.6 a week over
    the last quarter in the Loop and three neighbours shows in the ratio's exact interval, while
    quiet areas get an interval above 1 about 2.5% of the time (one-sided, no correction)."""
    units = load_units("community_areas").units
    adjacency = build_weights(units).matrix
    rng = np.random.default_rng(31)
    block = [31, 7, 27, 32]  # the Loop and its neighbours (rows of "32", "8", "28", "33")
    quiet = np.setdiff1d(np.arange(77), block)
    found, false, ratios = [], [], []
    for _ in range(10):
        rates = np.full((77, 104), 0.15)
        rates[block, -26:] = 0.6
        counts = rng.poisson(rates).astype(float)
        table = emerging_hotspots(counts, adjacency, units.index).units
        above = (table["recent_rate_ratio_low"] > 1).to_numpy()
        found.append(above[block].mean())
        false.append(above[quiet].mean())
        ratios.append(np.median(table["recent_rate_ratio"].iloc[block]))
    print(f"planted rise found {np.mean(found):.0%}, quiet units above 1 {np.mean(false):.1%}")
    assert np.mean(found) >= 0.7
    assert np.mean(false) <= 0.025 + 3 * np.sqrt(0.025 * 0.975 / (10 * len(quiet)))
    assert 3 < np.median(ratios) < 5.5  # 4 planted


def test_a_hot_spot_made_by_its_neighbours_alone_says_so():
    """A unit with no event between two busy ones is hot (Gi* counts the neighbourhood): its
    category says "(neighbours only)", its code does not change, and the notes count it."""
    ring = sparse.csr_array(np.roll(np.eye(10), 1, axis=1) + np.roll(np.eye(10), -1, axis=1))
    x = np.random.default_rng(5).poisson(1.0, (10, 30)).astype(float)
    x[[0, 2, 3], -6:] = 15.0  # a, c and d surge in the last six steps; b stays empty
    x[1] = 0.0
    ids = pd.Index(list("abcdefghij"))
    result = emerging_hotspots(x, ring, ids)
    units = result.units
    assert units.loc["b", "category_code"] > 0 and units.loc["b", "neighbours_only"]
    assert units.loc["b", "category"].endswith(" (neighbours only)")
    assert units.loc["b", "own_events_when_hot"] == 0
    assert units.loc["c", "category_code"] > 0 and not units.loc["c", "neighbours_only"]
    assert units.loc["c", "own_events_when_hot"] >= 90
    assert "neighbours only" not in units.loc["c", "category"]
    # brute force: own events in the windows t-K..t of the hot steps
    k = EmergingOptions().time_window
    brute = [
        sum(x[i, max(0, t - k) : t + 1].sum() for t in range(30) if result.hot[i, t])
        for i in range(10)
    ]
    np.testing.assert_array_equal(units["own_events_when_hot"].to_numpy(), brute)
    hot_family = units["category_code"] > 0
    assert (units["neighbours_only"] == (hot_family & (units["own_events_when_hot"] == 0))).all()
    alone = int(units["neighbours_only"].sum())
    assert any(note.startswith(f"{alone} hot spot units had no event") for note in result.notes)
