"""Next-step forecast and backtest: ranking metrics against hand-worked cases and ptools'
formulas, the NB2 fit against statsmodels, interval coverage and power on simulations shaped
like the real beats, no look-ahead, bad input, and the real assaults and homicides."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import sparse, stats

from geo_violence import (
    assign_units,
    build_cube,
    build_weights,
    load_units,
    read_incidents,
)
from geo_violence.errors import DataError, OptionError, PeriodError
from geo_violence.stats.backtest import (
    History,
    Ranking,
    backtest,
    block_bootstrap_interval,
    hac_standard_error,
    interval_coverage,
    last_steps,
    newey_west_lag,
    origin_steps,
    poisson_log_score,
    ranking_metrics,
)
from geo_violence.stats.forecast import (
    MAX_HORIZON,
    fit_negative_binomial,
    forecast_counts,
    history_needed,
    nb_interval,
)

# ---------------------------------------------------------------------------------------------
# Ranking metrics


def ptools_pai(observed, predicted, areas):
    """ptools' pai(), step by step from its manual: sort by predicted density (ties: fewer
    events first), cumulative shares, PAI, PEI against the perfect order, RRI = CumPred/CumCount.
    """
    frame = pd.DataFrame({"count": observed, "pred": predicted, "area": areas})
    frame["density"] = frame["pred"] / frame["area"]
    frame = frame.sort_values(["density", "count"], ascending=[False, True], kind="stable")
    pcum_count = frame["count"].cumsum() / frame["count"].sum()
    pcum_area = frame["area"].cumsum() / frame["area"].sum()
    pai = (pcum_count / pcum_area).to_numpy()
    perfect = frame.assign(d=frame["count"] / frame["area"]).sort_values("d", ascending=False)
    perfect_pai = (
        perfect["count"].cumsum()
        / perfect["count"].sum()
        / (perfect["area"].cumsum() / perfect["area"].sum())
    ).to_numpy()
    rri = (frame["pred"].cumsum() / frame["count"].cumsum()).to_numpy()
    return pcum_count.to_numpy(), pai, pai / perfect_pai, rri


def test_metrics_on_the_ptools_help_example_worked_by_hand():
    # pai(crime_dat, 'obs', 'pred', 'const'): ordered (8,6) (4,3) (4,7) (2,2) (1,1) (0,0).
    observed = np.array([6, 7, 3, 2, 1, 0])
    predicted = np.array([8, 4, 4, 2, 1, 0])
    m = ranking_metrics(predicted, observed, range(1, 7), predicted=predicted, ties="pessimistic")
    cum = np.array([6, 9, 16, 18, 19, 19])
    np.testing.assert_allclose(m["captured"], cum)
    np.testing.assert_allclose(m["capture"], cum / 19)
    np.testing.assert_allclose(m["pai"], cum / 19 / (np.arange(1, 7) / 6))
    best = np.array([7, 13, 16, 18, 19, 19])  # the K largest counts
    np.testing.assert_allclose(m["pei"], cum / best)
    np.testing.assert_allclose(m["rri"], np.array([8, 12, 16, 18, 19, 19]) / cum)


@pytest.mark.parametrize("seed", range(6))
def test_metrics_match_ptools_formulas_with_equal_areas(seed):
    rng = np.random.default_rng(seed)
    n = 40
    observed = rng.poisson(rng.gamma(1.0, 2.0, n))
    predicted = np.round(rng.gamma(1.0, 2.0, n), 1)
    share, pai, pei, rri = ptools_pai(observed, predicted, np.ones(n))
    ks = np.arange(1, n + 1)
    m = ranking_metrics(predicted, observed, ks, predicted=predicted, ties="pessimistic")
    np.testing.assert_allclose(m["capture"], share, rtol=1e-12)
    np.testing.assert_allclose(m["pai"], pai, rtol=1e-12)
    # ptools' PEI (PAI over the perfect PAI at the same K) is PEI* with equal areas.
    np.testing.assert_allclose(m["pei"], pei, rtol=1e-12)
    np.testing.assert_allclose(m["rri"], rri, rtol=1e-12)


def test_pai_with_unequal_areas_worked_by_hand():
    # Units of area 1, 2, 3, 4 with 5, 1, 3, 1 events; scores put them in the order 3, 1, 2, 4.
    m = ranking_metrics(
        np.array([0.9, 0.5, 1.0, 0.1]), np.array([5, 1, 3, 1]), [1, 2], areas=[1, 2, 3, 4]
    )
    # K=1: unit 3 holds 3 of 10 events on 3 of 10 area: PAI 1. K=2: 8/10 on 4/10: PAI 2.
    np.testing.assert_allclose(m["capture"], [0.3, 0.8])
    np.testing.assert_allclose(m["pai"], [1.0, 2.0])
    np.testing.assert_allclose(m["pei"], [3 / 5, 8 / 8])
    np.testing.assert_allclose(m["max_capture"], [0.5, 0.8])


@pytest.mark.parametrize("seed", range(5))
def test_average_ties_are_the_mean_over_every_order_of_the_tied_units(seed):
    rng = np.random.default_rng(seed)
    n = 7
    scores = rng.integers(0, 3, n).astype(float)
    observed = rng.poisson(2.0, n).astype(float)
    areas = rng.uniform(0.5, 2, n)
    predicted = rng.uniform(0, 3, n)
    ks = np.arange(1, n + 1)
    totals = {"captured": [], "area": [], "predicted": []}
    for order in itertools.permutations(range(n)):
        ranked = scores[list(order)]
        if (np.diff(ranked) > 0).any():
            continue  # not a descending order of the scores
        idx = np.array(order)
        totals["captured"].append(np.cumsum(observed[idx])[ks - 1])
        totals["area"].append(np.cumsum(areas[idx])[ks - 1])
        totals["predicted"].append(np.cumsum(predicted[idx])[ks - 1])
    expected = {name: np.mean(values, axis=0) for name, values in totals.items()}
    m = ranking_metrics(scores, observed, ks, predicted=predicted, areas=areas)
    np.testing.assert_allclose(m["captured"], expected["captured"], rtol=1e-12)
    np.testing.assert_allclose(m["capture"], expected["captured"] / observed.sum(), rtol=1e-12)
    np.testing.assert_allclose(
        m["pai"],
        (expected["captured"] / observed.sum()) / (expected["area"] / areas.sum()),
        rtol=1e-12,
    )
    np.testing.assert_allclose(m["rri"], expected["predicted"] / expected["captured"], rtol=1e-12)


def test_metrics_without_events_and_with_a_perfect_ranking():
    m = ranking_metrics(np.array([3.0, 2.0, 1.0]), np.zeros(3), [1, 2])
    assert np.isnan(m["capture"]).all() and np.isnan(m["pei"]).all()
    perfect = ranking_metrics(np.array([5.0, 1.0, 3.0]), np.array([5, 1, 3]), [1, 2, 3])
    np.testing.assert_allclose(perfect["pei"], 1.0)
    np.testing.assert_allclose(perfect["pai"], [5 / 9 * 3, 8 / 9 * 1.5, 1.0])


def test_poisson_log_score_and_coverage_against_scipy():
    rng = np.random.default_rng(4)
    mu = rng.gamma(1.0, 1.0, 50)
    y = rng.poisson(mu)
    assert poisson_log_score(mu, y) == pytest.approx(
        np.mean(stats.poisson.logpmf(y, np.maximum(mu, 0.01)))
    )
    # A zero expectation is floored, not -inf.
    assert np.isfinite(poisson_log_score(np.zeros(3), np.array([0, 1, 2])))
    assert interval_coverage(np.zeros(4), np.array([0, 1, 1, 5]), np.array([0, 2, 1, 5])) == 0.75


# ---------------------------------------------------------------------------------------------
# Standard errors and intervals over origins


@pytest.mark.parametrize("lag", [0, 3, 8])
def test_hac_standard_error_matches_statsmodels(lag):
    rng = np.random.default_rng(lag)
    values = rng.normal(size=120) + np.convolve(rng.normal(size=123), np.ones(4), "valid")
    fit = sm.OLS(values, np.ones(len(values))).fit(
        cov_type="HAC", cov_kwds={"maxlags": lag, "use_correction": False}
    )
    assert hac_standard_error(values, lag) == pytest.approx(fit.bse[0], rel=1e-10)


def test_paired_test_false_positive_rate_and_power_on_overlapping_horizons():
    # Differences between two rankings scored on overlapping 4-step horizons: an MA(3) series.
    rng = np.random.default_rng(11)
    n, runs, horizon = 300, 400, 4
    lag = newey_west_lag(n, horizon)
    shocks = rng.normal(size=(runs, n + horizon - 1))
    series = np.stack([np.convolve(s, np.ones(horizon), "valid") for s in shocks])
    z_null = np.array([s.mean() / hac_standard_error(s, lag) for s in series])
    rejected = (np.abs(z_null) > 1.96).mean()
    # Nominal 5%, within a binomial tolerance (HAC is a little liberal at this n).
    assert abs(rejected - 0.05) <= 3 * np.sqrt(0.05 * 0.95 / runs) + 0.01
    # Planted: a true mean of 0.5 standard deviations of one shock sum.
    planted = series + 0.5 * np.sqrt(horizon)
    z = np.array([s.mean() / hac_standard_error(s, lag) for s in planted])
    assert (z >= 2).mean() >= 0.9


def test_block_bootstrap_interval_covers_the_mean_of_correlated_series():
    rng = np.random.default_rng(5)
    runs, hits = 150, 0
    for run in range(runs):
        series = np.convolve(rng.normal(size=203), np.ones(4), "valid")
        low, high = block_bootstrap_interval(series, 6, n_boot=400, seed=run)
        hits += low <= 0 <= high
    assert abs(hits / runs - 0.95) <= 3 * np.sqrt(0.05 * 0.95 / runs) + 0.02


# ---------------------------------------------------------------------------------------------
# The model


def test_negative_binomial_fit_matches_statsmodels():
    rng = np.random.default_rng(2)
    n = 3000
    design = np.column_stack(
        [np.ones(n), rng.normal(size=n), np.log(rng.gamma(2.0, 0.5, n) + 0.1), rng.uniform(size=n)]
    )
    mu = np.exp(design @ np.array([0.1, 0.3, 0.8, -0.4]))
    y = rng.negative_binomial(1 / 0.3, 1 / (1 + 0.3 * mu))
    beta, alpha = fit_negative_binomial(design, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.NegativeBinomial(y, design, loglike_method="nb2")
        reference = model.fit(disp=0, method="bfgs", maxiter=1000)
        reference = model.fit(start_params=reference.params, disp=0, method="newton", tol=1e-12)
    np.testing.assert_allclose(beta, reference.params[:-1], atol=1e-6)
    assert alpha == pytest.approx(reference.params[-1], rel=1e-5)


def test_poisson_counts_give_a_dispersion_near_zero():
    rng = np.random.default_rng(3)
    x = rng.normal(size=5000)
    y = rng.poisson(np.exp(0.2 + 0.4 * x))
    beta, alpha = fit_negative_binomial(np.column_stack([np.ones_like(x), x]), y)
    assert alpha < 0.02
    np.testing.assert_allclose(beta, [0.2, 0.4], atol=0.05)


@pytest.mark.parametrize(("mean", "alpha"), [(0.05, 0.4), (0.3, 0.1), (1.0, 0.05), (7.5, 0.3)])
def test_nb_interval_ends_and_probability_against_scipy(mean, alpha):
    low, high, probability = nb_interval(np.array([mean]), alpha, 0.9)
    dist = stats.nbinom(1 / alpha, 1 / (1 + alpha * mean))
    low, high = int(low[0]), int(high[0])
    assert probability[0] == pytest.approx(dist.cdf(high) - dist.cdf(low - 1))
    lower_tail = dist.cdf(low - 1)
    # No other lower end brings its tail nearer 5%; no other upper end the probability nearer 90%.
    for other in range(0, low + 3):
        assert abs(lower_tail - 0.05) <= abs(dist.cdf(other - 1) - 0.05) + 1e-12
    for other in range(low, high + 3):
        assert abs(probability[0] - 0.9) <= abs(dist.cdf(other) - lower_tail - 0.9) + 1e-12


def simulated_world(adjacency_units: int, seed: int, *, steps=260, drift=0.0, alpha=0.05):
    """NB counts shaped like the assaults by beat: gamma unit rates (mean 1 a week), a citywide
    season, overdispersion ``alpha``; with ``drift``, each unit's log-rate wanders (AR(1),
    half-life about 23 weeks, standard deviation ``drift``)."""
    rng = np.random.default_rng(seed)
    n = adjacency_units
    rates = rng.gamma(2.0, 0.5, n)
    starts = pd.date_range("2012-01-02", periods=steps, freq="7D")
    season = 1 + 0.25 * np.cos(2 * np.pi * (starts.day_of_year.to_numpy() - 200) / 365.25)
    rho = 0.97
    wander = np.zeros((n, steps))
    wander[:, 0] = rng.normal(0, drift, n)
    shocks = rng.normal(0, drift * np.sqrt(1 - rho**2), (n, steps))
    for t in range(1, steps):
        wander[:, t] = rho * wander[:, t - 1] + shocks[:, t]
    mu = rates[:, None] * season[None, :] * np.exp(wander - drift**2 / 2)
    counts = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu))
    return counts, starts


@pytest.fixture(scope="module")
def beats_adjacency(shared_data):
    layer = load_units("beats", units_file=shared_data / "police_beats.geojson")
    return layer, build_weights(layer.units)


@pytest.mark.shared_data
def test_interval_coverage_on_pattern_free_nb_counts_on_the_beats(beats_adjacency):
    _, neighbours = beats_adjacency
    counts, starts = simulated_world(neighbours.matrix.shape[0], seed=21)
    covered, probability, cells = 0.0, 0.0, 0
    for origin in range(240, 260, 2):
        result = forecast_counts(
            counts[:, :origin], neighbours.matrix, step_starts=starts[:origin], level=0.9
        )
        covered += interval_coverage(result.low, result.high, counts[:, origin : origin + 1])
        probability += result.probability.mean()
        cells += 1
    coverage, probability = covered / cells, probability / cells
    n = cells * counts.shape[0]
    assert 0.87 <= probability <= 0.93
    assert abs(coverage - probability) <= 4 * np.sqrt(0.09 / n)


@pytest.mark.shared_data
def test_backtest_finds_planted_drift_and_no_edge_without_it(beats_adjacency):
    _, neighbours = beats_adjacency
    n = neighbours.matrix.shape[0]
    for drift, should_win in ((0.4, True), (0.0, False)):
        counts, starts = simulated_world(n, seed=7, drift=drift)
        result = backtest(
            counts,
            range(240, 260),
            top=20,
            step_starts=starts,
            adjacency=neighbours.matrix,
            ceiling=False,
            n_boot=200,
        )
        row = result.summary.set_index(["ranking", "metric"]).loc[("all history", "capture_20")]
        if should_win:
            # Rates that wander: the forecast follows them, the long-run mean cannot.
            assert -row["diff"] >= 2 * row["diff_se"]
        else:
            # Constant rates: the long-run mean is the best ranking; the forecast cannot beat it.
            assert -row["diff"] <= 2 * row["diff_se"]
        coverage = result.summary.set_index(["ranking", "metric"]).loc[("forecast", "coverage")]
        assert 0.87 <= coverage["mean"] <= 0.95


def test_forecast_uses_no_step_after_the_origin():
    rng = np.random.default_rng(8)
    counts = rng.poisson(rng.gamma(2.0, 0.5, 30)[:, None] * np.ones((30, 160)))
    starts = pd.date_range("2015-01-05", periods=160, freq="7D")
    changed = counts.copy()
    changed[:, 140:] = rng.poisson(5.0, (30, 20))
    seen: dict[str, list] = {"a": [], "b": []}

    def recorder(key):
        def rank(history: History) -> np.ndarray:
            assert not history.counts.flags.writeable
            result = forecast_counts(history.counts, step_starts=history.step_starts)
            seen[key].append((history.counts.shape[1], result.total))
            return result.total

        return rank

    for key, data in (("a", counts), ("b", changed)):
        backtest(
            data,
            [130, 140],
            rankings={"model": recorder(key)},
            reference="model",
            step_starts=starts,
            ceiling=False,
            n_boot=50,
        )
    for (steps_a, total_a), (steps_b, total_b) in zip(seen["a"], seen["b"], strict=True):
        assert steps_a == steps_b <= 140
        np.testing.assert_array_equal(total_a, total_b)
    direct = forecast_counts(counts[:, :140], step_starts=starts[:140])
    np.testing.assert_array_equal(direct.total, seen["a"][1][1])


def test_forecast_horizons_and_ranking_follow_the_rates():
    rng = np.random.default_rng(9)
    rates = np.repeat([0.2, 1.0, 3.0], 10)
    counts = rng.poisson(rates[:, None] * np.ones((30, 200)))
    ring = sparse.csr_array(np.roll(np.eye(30), 1, axis=1) + np.roll(np.eye(30), -1, axis=1))
    starts = pd.date_range("2016-01-04", periods=200, freq="7D")
    result = forecast_counts(counts, ring, step_starts=starts, horizon=4)
    assert result.mean.shape == result.low.shape == result.high.shape == (30, 4)
    assert list(result.coefficients.columns) == [1, 2, 3, 4]
    assert (
        "neighbours_4" in result.coefficients.index and "season_cos1" in result.coefficients.index
    )
    assert result.step_starts[0] == starts[-1] + pd.Timedelta(days=7)
    # Each group of ten units: its mean expectation near its rate (40 to 600 events a unit).
    groups = result.mean.mean(axis=1).reshape(3, 10).mean(axis=1)
    np.testing.assert_allclose(groups, [0.2, 1.0, 3.0], rtol=0.1)
    assert (np.diff(np.sort(result.total)[[0, 9, 10, 19, 20, 29]]) > 0).all()


def test_a_warm_start_reaches_the_same_fit_and_the_backtest_starts_only_from_the_past(
    monkeypatch,
):
    rng = np.random.default_rng(12)
    counts = rng.poisson(rng.gamma(2.0, 0.6, 40)[:, None] * np.ones((40, 220)))
    ring = sparse.csr_array(np.roll(np.eye(40), 1, axis=1) + np.roll(np.eye(40), -1, axis=1))
    starts = pd.date_range("2016-01-04", periods=220, freq="7D")
    earlier = forecast_counts(counts[:, :200], ring, step_starts=starts[:200], horizon=2)
    cold = forecast_counts(counts[:, :210], ring, step_starts=starts[:210], horizon=2)
    warm = forecast_counts(
        counts[:, :210], ring, step_starts=starts[:210], horizon=2, start=earlier
    )
    np.testing.assert_allclose(warm.mean, cold.mean, rtol=1e-7)
    np.testing.assert_allclose(warm.dispersion, cold.dispersion, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(warm.low, cold.low)
    np.testing.assert_array_equal(warm.high, cold.high)
    # a start from another model (other terms) is not used
    other = forecast_counts(counts[:, :200], step_starts=starts[:200], horizon=2)
    ignored = forecast_counts(
        counts[:, :210], ring, step_starts=starts[:210], horizon=2, start=other
    )
    np.testing.assert_array_equal(ignored.mean, cold.mean)
    # the backtest's forecast starts each origin from the last earlier one's fit, never a later
    from geo_violence.stats import backtest as module

    starts_seen: list[int | None] = []
    real = module.forecast_counts

    def recording(counts, *args, start=None, **kwargs):
        starts_seen.append(None if start is None else start.training_rows)
        return real(counts, *args, start=start, **kwargs)

    monkeypatch.setattr(module, "forecast_counts", recording)
    rank = module.forecast_ranking().rank
    for origin in (180, 190, 170, 200):
        rank(History(counts[:, :origin], starts[:origin], ring, 1))
    first = starts_seen[0]
    assert first is None and starts_seen[1] is not None  # 190 starts from 180
    assert starts_seen[2] is None  # 170 is before 190: no start from the future
    assert starts_seen[3] is not None  # 200 starts from 170


# ---------------------------------------------------------------------------------------------
# Bad input


def test_forecast_refuses_bad_input_with_its_own_message():
    counts = np.ones((5, 150))
    with pytest.raises(DataError, match=r"needs at least 104 weeks of history.*counts has 60"):
        forecast_counts(np.ones((5, 60)))
    with pytest.raises(DataError, match=r"needs at least 107 weeks.*horizon of 4"):
        forecast_counts(np.ones((5, 105)), horizon=4)
    assert history_needed(4) == 107
    with pytest.raises(OptionError, match=f"'horizon' was 14 but .* 1 to {MAX_HORIZON}"):
        forecast_counts(counts, horizon=14)
    with pytest.raises(OptionError, match=r"'level' was 1\.5"):
        forecast_counts(counts, level=1.5)
    with pytest.raises(DataError, match="whole numbers"):
        forecast_counts(-counts)
    with pytest.raises(DataError, match="missing or infinite"):
        forecast_counts(np.where(np.eye(5, 150) > 0, np.nan, counts))
    with pytest.raises(DataError, match="no event"):
        forecast_counts(np.zeros((5, 150)))
    with pytest.raises(OptionError, match="'adjacency' has shape"):
        forecast_counts(counts, np.eye(4))
    with pytest.raises(OptionError, match="'windows' was"):
        forecast_counts(counts, windows=(0, 4))
    with pytest.raises(OptionError, match="not evenly spaced"):
        uneven = pd.DatetimeIndex(["2020-01-01", "2020-01-09"]).append(
            pd.date_range("2020-01-16", periods=148, freq="7D")
        )
        forecast_counts(counts, step_starts=uneven)
    with pytest.raises(OptionError, match="'train_steps'"):
        forecast_counts(counts, train_steps=10)


def test_backtest_refuses_bad_origins_and_options():
    counts = np.random.default_rng(0).poisson(1.0, (10, 150))
    starts = pd.date_range("2015-01-05", periods=150, freq="7D", tz="America/Chicago")
    with pytest.raises(PeriodError, match="origin 2030-01-07 is outside the data"):
        backtest(counts, ["2030-01-07"], step_starts=starts, top=3)
    with pytest.raises(PeriodError, match="origin step 150 is outside the data"):
        backtest(counts, [150], top=3)
    with pytest.raises(DataError, match=r"has 20 weeks of history .* 'forecast' needs 104"):
        backtest(counts, [20, 120], top=3)
    with pytest.raises(DataError, match="fewer than the horizon of 4"):
        backtest(counts, [148], horizon=4, top=3)
    with pytest.raises(OptionError, match="'top' was 11"):
        backtest(counts, [120], top=11)
    with pytest.raises(OptionError, match="'ties' was 'random'"):
        backtest(counts, [120], top=3, ties="random")
    with pytest.raises(OptionError, match="'reference' was 'best'"):
        backtest(counts, [120], top=3, reference="best")
    with pytest.raises(OptionError, match="is a date but no 'step_starts'"):
        backtest(counts, ["2017-01-02"], top=3)
    with pytest.raises(OptionError, match="same name"):
        backtest(
            counts, [120], top=3, rankings=[last_steps(4), last_steps(4)], reference="last 4 weeks"
        )
    with pytest.raises(PeriodError, match="run backwards"):
        origin_steps(starts, "2017-01-01", "2016-01-01")


def test_backtest_rows_and_summary_by_hand_with_simple_rankings():
    # Two units, origin steps 2 and 3, horizon 1: "last week" vs a fixed ranking.
    counts = np.array([[1, 0, 3, 0, 2], [0, 2, 1, 4, 1]])
    fixed = Ranking("unit 0 first", lambda history: np.array([1.0, 0.0]), expected=False)
    result = backtest(
        counts,
        [2, 3],
        top=1,
        rankings=[last_steps(1), fixed],
        reference="last week",
        ceiling=False,
        n_boot=100,
    )
    rows = result.rows.set_index(["ranking", "origin"])
    # Origin 2: last week (0, 2) puts unit 1 first; step 2 has (3, 1): capture 1/4. Origin 3:
    # last week (3, 1) puts unit 0 first; step 3 has (0, 4): capture 0.
    assert rows.loc[("last week", 2), "capture_1"] == pytest.approx(0.25)
    assert rows.loc[("last week", 3), "capture_1"] == pytest.approx(0.0)
    assert rows.loc[("unit 0 first", 2), "capture_1"] == pytest.approx(0.75)
    assert rows.loc[("last week", 2), "pei_1"] == pytest.approx(1 / 3)
    assert rows.loc[("last week", 2), "pai_1"] == pytest.approx(0.5)
    assert rows.loc[("last week", 2), "rri_1"] == pytest.approx(2.0)
    assert np.isnan(rows.loc[("unit 0 first", 2), "log_score"])
    summary = result.summary.set_index(["ranking", "metric"])
    assert summary.loc[("unit 0 first", "capture_1"), "diff"] == pytest.approx((0.5 + 0) / 2)
    assert summary.loc[("last week", "capture_1"), "mean"] == pytest.approx(0.125)


# ---------------------------------------------------------------------------------------------
# Real data


@pytest.fixture(scope="module")
def assault_cube(shared_data, beats_adjacency):
    layer, neighbours = beats_adjacency
    read = read_incidents(
        shared_data / "aggravated_assaults_2010_2019.csv.gz",
        time_col="date",
        x_col="longitude",
        y_col="latitude",
        crs="EPSG:4326",
    )
    cube = build_cube(assign_units(read.incidents, layer.units).incidents, layer.units, step="week")
    assert (neighbours.unit_ids == cube.unit_ids).all()
    return cube, neighbours


@pytest.mark.shared_data
def test_real_assaults_by_beat_next_week_top_20(assault_cube):
    cube, neighbours = assault_cube
    origins = origin_steps(cube.step_starts, "2017-01-01", "2019-12-31")[::4]
    result = backtest(
        cube.counts,
        origins,
        top=20,
        step_starts=cube.step_starts,
        adjacency=neighbours.matrix,
        n_boot=200,
    )
    summary = result.summary.set_index(["ranking", "metric"])
    capture = summary.xs("capture_20", level="metric")
    log_score = summary.xs("log_score", level="metric")
    baselines = capture.index[capture["kind"] == "baseline"]
    assert len(baselines) == 5
    for name in ("last week", "last 4 weeks"):
        assert -capture.loc[name, "diff"] >= 2 * capture.loc[name, "diff_se"]
    for name in baselines:
        # Never significantly worse than a baseline; always a better predictive distribution.
        assert -capture.loc[name, "diff"] > -2 * capture.loc[name, "diff_se"]
        assert -log_score.loc[name, "diff"] >= 2 * log_score.loc[name, "diff_se"]
    coverage = summary.loc[("forecast", "coverage"), "mean"]
    assert 0.85 <= coverage <= 0.95


@pytest.mark.shared_data
def test_real_homicides_by_community_area_next_four_weeks_top_10(shared_data):
    layer = load_units("community_areas")
    read = read_incidents(shared_data / "homicides_2001_2024.csv")
    cube = build_cube(assign_units(read.incidents, layer.units).incidents, layer.units)
    neighbours = build_weights(layer.units)
    origins = origin_steps(cube.step_starts, "2016-01-01", "2023-12-31")[::8]
    result = backtest(
        cube.counts,
        origins,
        top=10,
        horizon=4,
        step_starts=cube.step_starts,
        adjacency=neighbours.matrix,
        n_boot=200,
    )
    summary = result.summary.set_index(["ranking", "metric"])
    capture = summary.xs("capture_10", level="metric")
    log_score = summary.xs("log_score", level="metric")
    for name in ("last week", "last 4 weeks"):
        assert -capture.loc[name, "diff"] >= 2 * capture.loc[name, "diff_se"]
    for name in capture.index[capture["kind"] == "baseline"]:
        assert -capture.loc[name, "diff"] > -2 * capture.loc[name, "diff_se"]
        assert -log_score.loc[name, "diff"] >= 2 * log_score.loc[name, "diff_se"]
    assert 0.85 <= summary.loc[("forecast", "coverage"), "mean"] <= 0.95
