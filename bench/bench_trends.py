"""Benchmark and study the trends analysis, in one run.

1. **Timing**: ``detect_trends`` on the 275 beats x 120 months of the 2010-2019 aggravated
   assaults (``../shared/data/chicago`` relative to the repository root, or
   ``$GEO_VIOLENCE_SHARED_DATA``) and on ``--units`` synthetic units (10,000 by default) x 120
   months on a 6-nearest-neighbour graph; against the obvious baseline, statsmodels fitting the
   same model unit by unit (``GLM`` Poisson with the season as offset, Pearson dispersion floored
   at 1, ``scale=phi``: the fit, its interval and its Wald p-value). The baseline runs on every
   beat, and on ``--baseline-units`` of the synthetic units, extrapolated (and labelled so).
   Ratio is the baseline's time over ours: for the fit alone (``fit_trend``, the same numbers),
   and for our whole analysis (which adds the exact tests, the change scan, change dates, the
   share of the city, pooled neighbourhoods, clusters and labels).
2. **Calibration**: pattern-free cubes shaped like the assaults (each beat's own mean and, by a
   gamma factor, its own Pearson dispersion; a citywide +-30% season), and with fixed gamma
   shapes (``inf`` = Poisson): the share of runs that call any beat rising or falling (the issue
   asks for at most 2 in 10 at the default level), per unit, pooled and by share of the city, and
   the rate of p-values below 0.05, 0.01, 0.001 over nominal.
3. **Power**: a doubling over the last 24 months planted in four neighbouring beats and a halving
   in four others: per-beat power, the share of runs where at least 3 of the 4 are found, the
   same with the trend test alone (no change scan), the pooled series, and the change dates
   (median and coverage of the credible interval).

Times and figures are printed, never asserted. Run: ``python bench/bench_trends.py``
(``--runs 100`` for the studies' size, ``--skip-studies`` for the timings alone).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from common import DATA, assaults_by_beat, best_of
from scipy import sparse
from scipy.spatial import cKDTree

from geo_violence import adjust_p
from geo_violence.stats.trends import city_season, detect_trends, fit_trend

SEASON = 1 + 0.3 * np.sin(2 * np.pi * np.arange(120) / 12)
MONTHS = pd.date_range("2010-01-01", periods=120, freq="MS", tz="America/Chicago")


def synthetic(n_units: int, seed: int = 0):
    """Overdispersed seasonal counts (log-normal levels, some trends) on a 6-nearest graph."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1, (n_units, 2))
    _, nearest = cKDTree(xy).query(xy, k=7)
    rows = np.repeat(np.arange(n_units), 6)
    adjacency = sparse.csr_array(
        (np.ones(rows.size), (rows, nearest[:, 1:].ravel())), shape=(n_units, n_units)
    )
    adjacency = sparse.csr_array(((adjacency + adjacency.T) > 0).astype(float))
    level = rng.lognormal(np.log(2.0), 1.0, n_units)[:, None]
    slope = np.where(rng.uniform(size=n_units) < 0.1, rng.normal(0, 0.1, n_units), 0.0)[:, None]
    mean = level * SEASON * np.exp(slope * (np.arange(120) - 59.5) / 12)
    counts = rng.poisson(mean * rng.gamma(10.0, 0.1, mean.shape))
    return counts, adjacency


def statsmodels_loop(counts: np.ndarray, season: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The baseline: one quasi-Poisson GLM per unit (slope, its SE and Wald p-value)."""
    import statsmodels.api as sm

    x = (np.arange(counts.shape[1]) - (counts.shape[1] - 1) / 2) / 12
    design = sm.add_constant(x)
    offset = np.log(season)
    out = np.full((len(rows), 3), np.nan)
    for i, row in enumerate(rows):
        if counts[row].sum() == 0:
            continue
        model = sm.GLM(counts[row], design, family=sm.families.Poisson(), offset=offset)
        first = model.fit()
        scale = max(first.pearson_chi2 / first.df_resid, 1.0)
        fitted = model.fit(scale=scale, use_t=scale > 1)
        out[i] = fitted.params[1], fitted.bse[1], fitted.pvalues[1]
    return out


def timing(cube, neighbours, n_units: int, baseline_units: int) -> None:
    counts = cube.counts.astype(float)
    season = city_season(counts.sum(axis=0), np.arange(120) % 12, np.arange(120) // 12)
    x = (np.arange(120) - 59.5) / 12
    ours_fit = best_of(3, lambda: fit_trend(counts, season, x))
    ours_all = best_of(
        3,
        lambda: detect_trends(
            counts, neighbours.matrix, step_starts=cube.step_starts, unit_ids=cube.unit_ids
        ),
    )
    rows = np.arange(len(counts))
    start = time.perf_counter()
    reference = statsmodels_loop(counts, season, rows)
    baseline = time.perf_counter() - start
    fit = fit_trend(counts, season, x)
    worst = np.nanmax(np.abs(reference[:, 0] - fit.slope))
    print(f"\n275 beats x 120 months (assaults 2010-2019); |slope - statsmodels| <= {worst:.1e}")
    print(f"  statsmodels GLM unit by unit: {baseline:7.3f} s (all {len(rows)} beats)")
    print(f"  ours, the fit (fit_trend):    {ours_fit:7.3f} s   ratio {baseline / ours_fit:7.1f}")
    print(f"  ours, the whole analysis:     {ours_all:7.3f} s   ratio {baseline / ours_all:7.1f}")

    synthetic_counts, adjacency = synthetic(n_units)
    synthetic_counts = synthetic_counts.astype(float)
    season = city_season(synthetic_counts.sum(axis=0), np.arange(120) % 12, np.arange(120) // 12)
    ours_fit = best_of(1, lambda: fit_trend(synthetic_counts, season, x))
    ours_all = best_of(1, lambda: detect_trends(synthetic_counts, adjacency, step_starts=MONTHS))
    subset = np.random.default_rng(1).choice(n_units, min(baseline_units, n_units), replace=False)
    start = time.perf_counter()
    statsmodels_loop(synthetic_counts, season, subset)
    measured = time.perf_counter() - start
    baseline = measured * n_units / len(subset)
    label = "measured" if len(subset) == n_units else f"extrapolated from {len(subset)} units"
    print(f"\n{n_units:,} synthetic units x 120 months (6 nearest neighbours)")
    print(f"  statsmodels GLM unit by unit: {baseline:7.1f} s ({label})")
    print(f"  ours, the fit (fit_trend):    {ours_fit:7.3f} s   ratio {baseline / ours_fit:7.1f}")
    print(f"  ours, the whole analysis:     {ours_all:7.3f} s   ratio {baseline / ours_all:7.1f}")


def simulate(level, shape, seed, plant=()):
    rng = np.random.default_rng(seed)
    mean = level * SEASON * np.ones((1, 120))
    for rows, factor in plant:
        mean[rows, -24:] *= factor
    shape = np.broadcast_to(shape, mean.shape)
    factor = np.ones(mean.shape)
    finite = np.isfinite(shape)
    factor[finite] = rng.gamma(shape[finite], 1 / shape[finite])
    return rng.poisson(mean * factor)


def calibration(level, real_shape, neighbours, runs: int) -> None:
    print(f"\nCalibration: pattern-free beats x 120 months, +-30% season, {runs} runs each")
    print(
        "  dispersion            any unit  any pooled  any share  calls/run"
        "  p<.05/.05 p<.01/.01 p<.001/.001 (trend | change)"
    )
    for name, shape in (
        ("each beat's own", real_shape),
        ("Poisson", np.inf),
        ("gamma shape 20", 20.0),
        ("gamma shape 5", 5.0),
        ("gamma shape 1", 1.0),
    ):
        any_unit = any_pooled = any_share = calls = 0
        trend_p, change_p = [], []
        for seed in range(runs):
            counts = simulate(level, shape, 10_000 + seed)
            units = detect_trends(
                counts, neighbours.matrix, step_starts=MONTHS, lisa_permutations=99
            ).units
            called = (units["direction"] != "stable").sum()
            any_unit += called > 0
            calls += called
            any_pooled += (units["pooled_direction"] != "stable").any()
            any_share += (units["share_direction"] != "stable").any()
            trend_p.append(units["trend_p_value"].to_numpy())
            change_p.append(units["change_p_value"].to_numpy())
        trend_p, change_p = np.concatenate(trend_p), np.concatenate(change_p)
        rates = " ".join(
            f"{np.nanmean(trend_p < a) / a:4.2f}|{np.nanmean(change_p < a) / a:4.2f}"
            for a in (0.05, 0.01, 0.001)
        )
        print(
            f"  {name:20s} {any_unit / runs:8.2f} {any_pooled / runs:10.2f} "
            f"{any_share / runs:10.2f} {calls / runs:10.2f}  {rates}"
        )


def power(level, real_shape, neighbours, runs: int) -> None:
    ids = neighbours.unit_ids

    def four(first):
        row = ids.get_loc(first)
        others = sorted(neighbours.matrix[[row]].indices, key=lambda i: ids[i])
        return [row, *others[:3]]

    print(f"\nPower: last 24 months of 120 planted in four neighbouring beats, {runs} runs each")
    for shape_name, shape in (("each beat's own", real_shape), ("gamma shape 5", 5.0)):
        for rise_first, fall_first in (("1522", "1131"), ("0111", "2532")):
            rise, fall = four(rise_first), four(fall_first)
            found = {key: [] for key in ("rise", "fall", "rise_trend", "fall_trend")}
            pooled = {"rise": [], "fall": []}
            dates = []
            for seed in range(runs):
                counts = simulate(level, shape, 20_000 + seed, ((rise, 2.0), (fall, 0.5)))
                units = detect_trends(
                    counts, neighbours.matrix, step_starts=MONTHS, lisa_permutations=99
                ).units
                trend_q = adjust_p(units["trend_p_value"].to_numpy())
                for key, rows, word, sign in (
                    ("rise", rise, "rising", 1),
                    ("fall", fall, "falling", -1),
                ):
                    found[key].append((units["direction"].iloc[rows] == word).to_numpy())
                    trend_hit = (trend_q[rows] <= 0.05) & (
                        np.sign(units["trend_z"].iloc[rows].to_numpy()) == sign
                    )
                    found[f"{key}_trend"].append(trend_hit)
                    pooled[key].append((units["pooled_direction"].iloc[rows] == word).to_numpy())
                    dated = units.iloc[rows].dropna(subset=["change_step"])
                    dates.append(
                        dated[["change_step", "change_step_low", "change_step_high"]].to_numpy(
                            dtype=float
                        )
                    )
            dates = np.concatenate(dates)
            print(
                f"  {shape_name}; rise in {ids[rise].tolist()} "
                f"(mean {level[rise, 0].mean():.1f}/month), fall in {ids[fall].tolist()} "
                f"(mean {level[fall, 0].mean():.1f}/month)"
            )
            for key in ("rise", "fall"):
                hits = np.array(found[key])
                trend_hits = np.array(found[f"{key}_trend"])
                print(
                    f"    {key}: per beat {np.round(hits.mean(axis=0), 2).tolist()}, >=3 of 4 "
                    f"{(hits.sum(axis=1) >= 3).mean():.2f}; trend test alone: per beat "
                    f"{np.round(trend_hits.mean(axis=0), 2).tolist()}, >=3 of 4 "
                    f"{(trend_hits.sum(axis=1) >= 3).mean():.2f}; pooled per beat "
                    f"{np.round(np.array(pooled[key]).mean(axis=0), 2).tolist()}"
                )
            covered = (dates[:, 1] <= 96) & (dates[:, 2] >= 96)
            print(
                f"    change dates: median step {np.median(dates[:, 0]):.0f} (true 96), "
                f"interval covers 96 in {covered.mean():.2f} of {len(dates)} dated beats, "
                f"median width {np.median(dates[:, 2] - dates[:, 1] + 1):.0f} months"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--baseline-units", type=int, default=500)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--skip-studies", action="store_true")
    arguments = parser.parse_args(argv)
    if not (DATA / "aggravated_assaults_2010_2019.csv.gz").exists():
        print(f"the shared data are not at {DATA} (set GEO_VIOLENCE_SHARED_DATA)")
        return 1
    cube, neighbours = assaults_by_beat("month", "2010-01-01", "2019-12-31")
    timing(cube, neighbours, arguments.units, arguments.baseline_units)
    if arguments.skip_studies:
        return 0
    real = detect_trends(
        cube.counts, neighbours.matrix, step_starts=cube.step_starts, unit_ids=cube.unit_ids
    )
    level = cube.counts.mean(axis=1)[:, None]
    excess = real.units["dispersion"].to_numpy() - 1
    real_shape = np.where(excess > 0.02, level[:, 0] / np.maximum(excess, 0.02), np.inf)[:, None]
    calibration(level, real_shape, neighbours, arguments.runs)
    power(level, real_shape, neighbours, arguments.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
