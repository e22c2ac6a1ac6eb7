"""Trends unit by unit: the quasi-Poisson fit against statsmodels, the exact conditional tests
against brute force, the season, the spatial pieces against the package's own Gi* and local
Moran, pattern-free and planted simulations (a lattice, and the real beats), bad input, and the
real assaults and homicides."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import sparse

from geo_violence import (
    DataError,
    Neighbours,
    OptionError,
    assign_units,
    build_cube,
    build_weights,
    load_units,
    local_gi_star,
    local_moran,
    read_incidents,
)
from geo_violence.stats.trends import (
    _bridge_maximum_tail,
    city_season,
    detect_trends,
    exact_tails,
    fit_trend,
    scan_changes,
    scan_splits,
    signed_root_lr,
)

MONTHS = pd.date_range("2010-01-01", periods=120, freq="MS", tz="America/Chicago")
X_MONTHS = (np.arange(120) - 59.5) / 12
SEASON = 1 + 0.3 * np.sin(2 * np.pi * np.arange(120) / 12)


def lattice(side: int) -> sparse.csr_array:
    """Rook neighbours of a ``side x side`` grid, row by row."""
    index = np.arange(side * side).reshape(side, side)
    rows = np.r_[index[:, :-1].ravel(), index[:-1, :].ravel()]
    columns = np.r_[index[:, 1:].ravel(), index[1:, :].ravel()]
    data = np.ones(2 * len(rows))
    return sparse.csr_array(
        (data, (np.r_[rows, columns], np.r_[columns, rows])), shape=(side * side, side * side)
    )


def overdispersed(rng: np.random.Generator, mean: np.ndarray, shape: np.ndarray | float):
    """Poisson counts whose rate varies by a gamma factor of mean 1 and the given shape
    (``shape=inf``: Poisson)."""
    shape = np.broadcast_to(np.asarray(shape, dtype=float), mean.shape)
    finite = np.isfinite(shape)
    factor = np.ones(mean.shape)
    factor[finite] = rng.gamma(shape[finite], 1 / shape[finite])
    return rng.poisson(mean * factor)


# ---------------------------------------------------------------------------------------------
# the fit against statsmodels, and hand-worked cases


@pytest.fixture(scope="module")
def five_units():
    rng = np.random.default_rng(11)
    level = np.array([0.4, 2.0, 8.0, 25.0, 3.0])[:, None]
    slope = np.array([0.0, 0.1, -0.06, 0.02, 0.3])[:, None]
    mean = level * SEASON * np.exp(slope * X_MONTHS)
    return overdispersed(rng, mean, 4.0).astype(float)


def test_quasi_poisson_fit_is_statsmodels_glm(five_units):
    season = SEASON / SEASON.mean()
    fit = fit_trend(five_units, season, X_MONTHS)
    design = sm.add_constant(X_MONTHS)
    for row in range(len(five_units)):
        poisson = sm.GLM(
            five_units[row], design, family=sm.families.Poisson(), offset=np.log(season)
        )
        pearson = poisson.fit().pearson_chi2 / 118
        assert fit.dispersion[row] == pytest.approx(pearson, rel=1e-8)
        scale = max(pearson, 1.0)
        reference = poisson.fit(scale=scale, use_t=pearson > 1)
        assert fit.slope[row] == pytest.approx(reference.params[1], rel=1e-8, abs=1e-10)
        assert fit.intercept[row] == pytest.approx(reference.params[0], rel=1e-8)
        assert fit.se[row] == pytest.approx(reference.bse[1], rel=1e-5)
        assert fit.wald_p[row] == pytest.approx(reference.pvalues[1], rel=1e-4)
        low, high = reference.conf_int()[1]
        assert (fit.low[row], fit.high[row]) == pytest.approx((low, high), rel=1e-5)


def test_asymptotic_trend_test_is_statsmodels_score_test(five_units):
    season = SEASON / SEASON.mean()
    fit = fit_trend(five_units, season, X_MONTHS, exact_max_events=0)
    for row in range(len(five_units)):
        null = sm.GLM(
            five_units[row],
            np.ones((120, 1)),
            family=sm.families.Poisson(),
            offset=np.log(season),
        ).fit()
        score = np.ravel(null.score_test(exog_extra=X_MONTHS[:, None])[0])[0]
        # our z has the dispersion taken out; statsmodels' Poisson score test has none
        assert fit.z[row] ** 2 * fit.dispersion_used[row] == pytest.approx(float(score), rel=1e-7)


def test_hand_worked_cases():
    # counts growing by half every (yearly) step: b = log 1.5 exactly, no dispersion
    geometric = 4.0 * 1.5 ** np.arange(6)
    fit = fit_trend(geometric[None, :], np.ones(6), np.arange(6) - 2.5)
    assert np.exp(fit.slope[0]) == pytest.approx(1.5, rel=1e-10)
    assert fit.dispersion[0] == pytest.approx(0.0, abs=1e-10)
    # a symmetric series has no trend; its p-value comes from the exact distribution
    fit = fit_trend(np.array([[3, 1, 0, 0, 1, 3]]), np.ones(6), np.arange(6) - 2.5)
    assert fit.slope[0] == 0.0
    assert fit.exact[0]
    assert fit.p_value[0] == pytest.approx(1.0)
    # N events all in the last of 6 equal steps: P = (1/6)^N each side, two-sided doubled
    for n_events in (1, 2, 3):
        counts = np.zeros((1, 6))
        counts[0, -1] = n_events
        fit = fit_trend(counts, np.ones(6), np.arange(6) - 2.5)
        assert fit.slope[0] == np.inf
        assert fit.p_value[0] == pytest.approx(min(1.0, 2 / 6**n_events), rel=1e-9)
        # exact lower bound: the last step's share at b is 0.025 ** (1 / N)
        bound = fit.low[0]
        share = np.exp(bound * 2.5) / np.exp(bound * (np.arange(6) - 2.5)).sum()
        assert share == pytest.approx(0.025 ** (1 / n_events), rel=1e-8)
        assert fit.high[0] == np.inf


def test_exact_tails_are_the_enumerated_distribution():
    probabilities = np.array([0.1, 0.3, 0.2, 0.25, 0.15])
    for n_events in (1, 2, 3, 4):
        distribution: dict[int, float] = {}
        for steps in itertools.product(range(5), repeat=n_events):
            total = sum(steps)
            distribution[total] = distribution.get(total, 0.0) + float(
                np.prod(probabilities[list(steps)])
            )
        observed = np.arange(0, 4 * n_events + 1)
        lower, upper = exact_tails(observed, np.full(len(observed), n_events), probabilities)
        for k, low, high in zip(observed, lower, upper, strict=True):
            assert low == pytest.approx(sum(p for v, p in distribution.items() if v <= k))
            assert high == pytest.approx(sum(p for v, p in distribution.items() if v >= k))


def test_exact_tails_by_fft_match_the_convolution():
    rng = np.random.default_rng(3)
    probabilities = rng.uniform(0.5, 1.5, 1200)
    probabilities /= probabilities.sum()
    events = np.array([3, 3, 7])
    observed = np.array([1500, 2400, 4000])
    lower, upper = exact_tails(observed, events, probabilities)  # long series: by FFT
    pmf = np.array([1.0])
    for n_events in range(1, 8):
        pmf = np.convolve(pmf, probabilities)
        for row in np.flatnonzero(events == n_events):
            assert lower[row] == pytest.approx(pmf[: observed[row] + 1].sum(), rel=1e-6)
            assert upper[row] == pytest.approx(pmf[observed[row] :].sum(), rel=1e-6)


def test_change_scan_exact_tail_is_the_enumerated_distribution():
    weights = np.array([1.0, 2.0, 1.0, 1.5, 0.5, 1.0, 2.0])
    probabilities = weights / weights.sum()
    splits = scan_splits(7, 2)
    fraction = np.cumsum(weights)[splits - 1] / weights.sum()
    n_events = 4
    outcomes = []
    for steps in itertools.product(range(7), repeat=n_events):
        counts = np.bincount(steps, minlength=7)
        before = np.cumsum(counts)[splits - 1]
        largest = np.abs(signed_root_lr(before, n_events, fraction)).max()
        outcomes.append((largest, float(np.prod(probabilities[list(steps)])), counts))
    for largest, _, counts in outcomes[::97]:
        expected = sum(p for value, p, _ in outcomes if value >= largest - 1e-9)
        scan = scan_changes(counts[None, :], weights, np.ones(1), splits)
        assert scan.exact[0]
        assert scan.statistic[0] == pytest.approx(largest)
        assert scan.p_value[0] == pytest.approx(expected, rel=1e-9)


def test_change_scan_gaussian_tail_against_a_simulated_bridge():
    rng = np.random.default_rng(5)
    splits = scan_splits(120, 6)
    fraction = splits / 120
    walk = np.cumsum(rng.standard_normal((40_000, 120)), axis=1) / np.sqrt(120)
    bridge = walk[:, splits - 1] - fraction * walk[:, -1:]
    largest = np.abs(bridge / np.sqrt(fraction * (1 - fraction))).max(axis=1)
    for level in np.quantile(largest, [0.9, 0.99, 0.998]):
        simulated = (largest >= level).mean()
        approximated = _bridge_maximum_tail(np.array([level]), fraction)[0]
        tolerance = 3 * np.sqrt(simulated * (1 - simulated) / len(largest)) + 0.05 * simulated
        assert abs(approximated - simulated) < tolerance


def test_city_season_is_the_poisson_glm_with_year_and_month_effects():
    rng = np.random.default_rng(8)
    months = np.arange(120) % 12
    years = np.arange(120) // 12
    city = rng.poisson(200 * SEASON * 1.05**years).astype(float)
    season = city_season(city, months, years)
    design = np.column_stack(
        [np.eye(10)[years], np.eye(12)[months][:, 1:]]  # year effects, months 2..12
    )
    reference = sm.GLM(city, design, family=sm.families.Poisson()).fit()
    month_effect = np.r_[0.0, reference.params[10:]]
    expected = np.exp(month_effect[months])
    assert season == pytest.approx(expected / expected.mean(), rel=1e-8)


def test_share_trend_is_the_glm_with_the_city_as_offset(five_units):
    rng = np.random.default_rng(12)
    rest = rng.poisson(300 * SEASON).astype(float)
    counts = np.vstack([five_units, rest])
    city = counts.sum(axis=0)
    result = detect_trends(counts, step_starts=MONTHS)
    for row in range(len(five_units)):
        reference = sm.GLM(
            counts[row],
            sm.add_constant(X_MONTHS),
            family=sm.families.Poisson(),
            offset=np.log(city),
        ).fit()
        assert np.log(result.units["share_ratio_per_year"].iloc[row]) == pytest.approx(
            reference.params[1], rel=1e-7, abs=1e-10
        )


def test_change_points_find_a_planted_jump():
    rng = np.random.default_rng(4)
    mean = np.full((30, 120), 4.0) * SEASON
    mean[0, 84:] *= 2.5  # from January 2017
    mean[1, 36:] *= 0.4  # from January 2013
    result = detect_trends(rng.poisson(mean), step_starts=MONTHS)
    units = result.units
    assert units.loc[0, "direction"] == "rising"
    assert units.loc[1, "direction"] == "falling"
    assert units.loc[0, "change_step_low"] <= 84 <= units.loc[0, "change_step_high"]
    assert units.loc[1, "change_step_low"] <= 36 <= units.loc[1, "change_step_high"]
    assert units.loc[0, "change_kind"] == "step"
    assert units.loc[0, "rate_after_change"] / units.loc[0, "rate_before_change"] == (
        pytest.approx(2.5, rel=0.3)
    )
    assert units.loc[0, "change_start"] == MONTHS[units.loc[0, "change_step"]]
    stable = units["direction"] == "stable"
    assert units.loc[stable, "change_step"].isna().all()


def test_spatial_pieces_are_the_packages_gi_star_and_local_moran():
    rng = np.random.default_rng(9)
    adjacency = lattice(8)
    mean = np.full((64, 120), 3.0) * SEASON
    mean[:10, :40] *= 3  # hot in the early third
    mean[27:30, 60:] *= 2
    counts = rng.poisson(mean)
    ids = pd.Index([f"u{i}" for i in range(64)])
    result = detect_trends(
        counts, adjacency, step_starts=MONTHS, unit_ids=ids, lisa_permutations=199, seed=7
    )
    units = result.units
    neighbours = Neighbours(adjacency, ids, "rook")
    gi = local_gi_star(units["early_rate"], neighbours)
    assert units["hot_before_z"].to_numpy() == pytest.approx(gi["gi_z"].to_numpy(), rel=1e-10)
    moran = local_moran(units["trend_z"], neighbours, permutations=199, seed=7)
    assert units["trend_lisa_i"].to_numpy() == pytest.approx(moran["lisa_i"].to_numpy())
    assert units["trend_lisa_p"].to_numpy() == pytest.approx(moran["lisa_p"].to_numpy())
    # the pooled series of a unit is its own plus its neighbours'
    row = 28
    pooled = counts[row] + counts[adjacency[[row]].indices].sum(axis=0)
    reference = sm.GLM(
        pooled,
        sm.add_constant(X_MONTHS),
        family=sm.families.Poisson(),
        offset=np.log(result.season),
    ).fit()
    assert np.log(units["pooled_rate_ratio_per_year"].iloc[row]) == pytest.approx(
        reference.params[1], rel=1e-7
    )
    assert units["pooled_units"].iloc[row] == 5
    # hot before: only units of the early block (the first 10), at least its corner, where
    # every neighbour is in the block too (the exact p-values of the hot spot table: the normal
    # tail also called u2, with one quiet neighbour of four, hot)
    hot = units.index[units["hot_before"]]
    assert {"u0", "u1"} <= set(hot) <= set(ids[:10])
    assert set(units["label"]) <= {"emerging", "intensifying", "fading", "cooling", "stable"}


def test_population_gives_rates_and_leaves_the_test_alone():
    rng = np.random.default_rng(2)
    counts = rng.poisson(np.full((6, 120), 5.0) * SEASON)
    population = pd.Series([10_000, 20_000, 50_000, 5_000, 0, 8_000], index=list("abcdef"))
    plain = detect_trends(counts, step_starts=MONTHS, unit_ids=list("abcdef")).units
    rates = detect_trends(
        counts, step_starts=MONTHS, unit_ids=list("abcdef"), population=population
    )
    assert rates.units["p_value"].to_numpy() == pytest.approx(plain["p_value"].to_numpy())
    expected = plain["rate_per_year"] / population * 100_000
    assert rates.units.loc["a", "rate_per_year"] == pytest.approx(expected["a"])
    assert np.isnan(rates.units.loc["e", "rate_per_year"])
    assert any("per 100,000" in note and "(e)" in note for note in rates.notes)


def test_a_dataframe_gives_its_ids_and_dates():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        rng.poisson(np.full((4, 120), 5.0) * SEASON), index=list("wxyz"), columns=MONTHS
    )
    result = detect_trends(frame)
    assert result.units.index.tolist() == list("wxyz")
    assert result.steps_per_year == pytest.approx(12.0, rel=1e-3)
    assert result.fitted.shape == (4, 120)
    assert result.notes == []


# ---------------------------------------------------------------------------------------------
# bad input


def test_too_few_steps_say_how_many_are_needed():
    with pytest.raises(DataError, match=r"at least 6 steps.*have 5"):
        detect_trends(np.ones((3, 5)))


def test_a_period_shorter_than_two_cycles_is_not_season_adjusted_and_says_so():
    rng = np.random.default_rng(0)
    result = detect_trends(rng.poisson(np.full((5, 18), 4.0)), step_starts=MONTHS[:18])
    assert any("season" in note and "not adjusted" in note for note in result.notes)
    assert np.all(result.season == 1.0)
    assert not result.options["season_adjusted"]


def test_units_with_no_event_stay_in_the_table_as_stable():
    rng = np.random.default_rng(0)
    counts = rng.poisson(np.full((5, 60), 4.0))
    counts[[1, 3]] = 0
    adjacency = lattice(5)[:5, :5]
    result = detect_trends(counts, adjacency, step_starts=MONTHS[:60])
    empty = result.units.iloc[[1, 3]]
    assert (empty["direction"] == "stable").all()
    assert (empty["label"] == "stable").all()
    assert empty["rate_ratio_per_year"].isna().all()
    assert empty["p_value"].isna().all() and empty["q_value"].isna().all()
    assert (empty["test"] == "none").all()
    assert any("2 units have no event" in note for note in result.notes)


def test_an_all_zero_cube_is_refused_with_its_own_message():
    with pytest.raises(DataError, match="no unit has any event"):
        detect_trends(np.zeros((4, 24)), step_starts=MONTHS[:24])


@pytest.mark.parametrize(
    ("counts", "keywords", "error", "message"),
    [
        (np.full((3, 12), -1), {}, DataError, "whole numbers"),
        (np.full((3, 12), 1.5), {}, DataError, "whole numbers"),
        (np.ones(12), {}, OptionError, "2-dimensional"),
        (np.ones((3, 12)), {"adjacency": np.ones((2, 2))}, OptionError, "'adjacency'"),
        (np.ones((3, 12)), {"step_starts": MONTHS[:10]}, OptionError, "'step_starts'"),
        (np.ones((3, 12)), {"unit_ids": ["a"]}, OptionError, "'unit_ids'"),
        (np.ones((3, 12)), {"fdr": "holm"}, OptionError, "'fdr'"),
        (np.ones((3, 12)), {"alpha": 1.5}, OptionError, "'alpha'"),
        (np.ones((3, 12)), {"population": np.ones(2)}, OptionError, "'population'"),
    ],
)
def test_bad_arguments_are_refused_by_name(counts, keywords, error, message):
    with pytest.raises(error, match=message):
        detect_trends(counts, **keywords)


# ---------------------------------------------------------------------------------------------
# pattern-free and planted simulations


def test_pattern_free_lattice_calls_no_unit_in_most_runs():
    rng = np.random.default_rng(20)
    side = 12
    level = rng.lognormal(np.log(3.0), 0.8, side * side)[:, None]
    runs_with_a_call = 0
    for seed in range(10):
        counts = overdispersed(np.random.default_rng(seed), level * SEASON, 5.0)
        result = detect_trends(counts, lattice(side), step_starts=MONTHS, lisa_permutations=99)
        runs_with_a_call += int((result.units["direction"] != "stable").any())
    assert runs_with_a_call <= 2


@pytest.fixture(scope="module")
def beats(shared_data):
    layer = load_units("beats", units_file=shared_data / "police_beats.geojson")
    return layer, build_weights(layer.units)


@pytest.fixture(scope="module")
def assault_cube(shared_data, beats):
    layer, _ = beats
    read = read_incidents(
        shared_data / "aggravated_assaults_2010_2019.csv.gz",
        time_col="date",
        x_col="longitude",
        y_col="latitude",
        crs="EPSG:4326",
    )
    assignment = assign_units(read.incidents, layer.units)
    return build_cube(
        assignment.incidents, layer.units, step="month", start="2010-01-01", end="2019-12-31"
    )


@pytest.fixture(scope="module")
def assault_trends(assault_cube, beats):
    _, neighbours = beats
    assert neighbours.unit_ids.equals(assault_cube.unit_ids)
    return detect_trends(
        assault_cube.counts,
        neighbours.matrix,
        step_starts=assault_cube.step_starts,
        unit_ids=assault_cube.unit_ids,
    )


def _shaped_like_the_assaults(assault_cube, assault_trends):
    """Each beat's mean monthly count, and a gamma shape giving its own Pearson dispersion."""
    level = assault_cube.counts.mean(axis=1)
    excess = assault_trends.units["dispersion"].to_numpy() - 1
    shape = np.where(excess > 0.02, level / np.maximum(excess, 0.02), np.inf)
    return level[:, None], shape[:, None]


def _four_neighbours(neighbours, first: str) -> list[int]:
    row = neighbours.unit_ids.get_loc(first)
    others = sorted(neighbours.matrix[[row]].indices, key=lambda i: neighbours.unit_ids[i])
    return [row, *others[:3]]


@pytest.mark.shared_data
def test_pattern_free_beats_call_no_beat_in_most_runs(assault_cube, assault_trends, beats):
    _, neighbours = beats
    level, shape = _shaped_like_the_assaults(assault_cube, assault_trends)
    runs_with_a_call = 0
    for seed in range(10):
        counts = overdispersed(np.random.default_rng(100 + seed), level * SEASON, shape)
        result = detect_trends(counts, neighbours.matrix, step_starts=MONTHS, lisa_permutations=99)
        runs_with_a_call += int((result.units["direction"] != "stable").any())
    assert runs_with_a_call <= 2


@pytest.mark.shared_data
def test_planted_doubling_and_halving_in_four_neighbouring_beats_are_found(
    assault_cube, assault_trends, beats
):
    _, neighbours = beats
    level, shape = _shaped_like_the_assaults(assault_cube, assault_trends)
    rise = _four_neighbours(neighbours, "1522")
    fall = _four_neighbours(neighbours, "1131")
    assert not set(rise) & set(fall)
    found_rise = found_fall = 0
    for seed in range(10):
        mean = level * SEASON * np.ones((1, 120))
        mean[rise, -24:] *= 2
        mean[fall, -24:] *= 0.5
        counts = overdispersed(np.random.default_rng(200 + seed), mean, shape)
        units = detect_trends(
            counts, neighbours.matrix, step_starts=MONTHS, lisa_permutations=99
        ).units
        found_rise += int((units["direction"].iloc[rise] == "rising").sum() >= 3)
        found_fall += int((units["direction"].iloc[fall] == "falling").sum() >= 3)
    assert found_rise >= 8
    assert found_fall >= 8


# ---------------------------------------------------------------------------------------------
# the real data


@pytest.mark.shared_data
def test_assaults_rise_downtown(assault_trends):
    units = assault_trends.units
    downtown = units[units.index.str.startswith("01")]
    assert len(downtown) == 11
    assert (downtown["direction"] == "rising").sum() >= 8
    assert (downtown["label"] == "emerging").sum() >= 8
    assert (downtown["pooled_direction"] == "rising").sum() >= 8
    assert assault_trends.options["season_adjusted"]


@pytest.mark.shared_data
def test_homicides_in_the_loop_rise_faster_than_the_city(shared_data):
    read = read_incidents(shared_data / "homicides_2001_2024.csv")
    layer = load_units("community_areas")
    assignment = assign_units(read.incidents, layer.units)
    cube = build_cube(
        assignment.incidents, layer.units, step="month", start="2015-01-01", end="2024-03-31"
    )
    neighbours = build_weights(layer.units)
    result = detect_trends(
        cube.counts, neighbours.matrix, step_starts=cube.step_starts, unit_ids=cube.unit_ids
    )
    loop = result.units.loc["32"]
    assert loop["rate_ratio_low"] > 1
    assert loop["trend_p_value"] < 0.01
    assert loop["share_ratio_per_year"] > 1
    assert loop["pooled_direction"] == "rising"
    assert loop["test"] == "exact"
