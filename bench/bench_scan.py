"""Benchmark and check the prospective space-time permutation scan, in one run.

1. **timing**: 999 permutations on the 275 beats x 52 weeks (the 2019 aggravated assaults from
   ``../shared/data/chicago``, or ``$GEO_VIOLENCE_SHARED_DATA``) and on 10,000 grid cells x 52
   weeks (synthetic, at assault and at homicide density; the default ``max_units`` of 100 and
   1,000), against the obvious NumPy baseline measured in the same run: each permutation shuffles
   every incident's step (``rng.permutation``), counts the window (``np.add.at``) and scores every
   cylinder at once (cumulative sums along the neighbour lists, the ratio on the whole array).
   The baseline is timed on ``--baseline-permutations`` and scaled to 999.
2. **null**: the alarm rate (primary cluster with ``p <= 0.05``) over ``--runs`` pattern-free
   seeded runs shaped like the real data (each unit's share and each week's citywide total taken
   from the real homicides by community area and the real 2019 assaults by beat, independent
   Poisson counts), with its Clopper-Pearson 95% interval; and departures from the model's null
   that the permutations do not absorb: unit-week overdispersion (gamma-Poisson, as much as the
   real assaults show and far more) and incidents in pairs (one row per victim).
3. **planted**: the issue's case on the community areas (40 weeks at 3 a week, the Loop, Near
   North Side and Near South Side at 8 a week over the last 8 weeks), per seed.
4. **real**: the weekly runs of the last year of data (homicides by community area, 52 weeks to
   2024-04-21; assaults by beat, the weeks of 2019), each on its 52 weeks of history with
   ``max_steps`` 4: the alarms each would have raised.
5. **nycfever**: SaTScan's New York City fever sample (``--nycfever DIR`` holding
   ``NYCfevercas.csv`` and ``NYCfevergeo.csv`` as distributed with SaTScan and rsatscan), scanned
   with the settings of SaTScan 9.4.4's published prospective run, against its figures.

Times are printed, never asserted: ratio is the baseline's time over ours. Run:
``python bench/bench_scan.py`` (``--sections timing null`` for some).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import DATA, best_of
from scipy import stats

from geo_violence import assign_units, build_cube, load_units, read_incidents
from geo_violence.stats import scan
from geo_violence.stats.scan import space_time_scan

ALPHA = 0.05
DOWNTOWN = ["32", "8", "33"]


# --------------------------------------------------------------------------------------------
# data


def homicides_by_area():
    """Homicides per community area and week, 2022-04-25 .. 2024-04-21 (104 weeks)."""
    layer = load_units("community_areas")
    read = read_incidents(DATA / "homicides_2001_2024.csv")
    assigned = assign_units(read.incidents, layer.units).incidents
    cube = build_cube(assigned, layer.units, step="week", start="2022-04-25", end="2024-04-21")
    return cube, layer.units


def assaults_by_beat():
    """Aggravated assaults per beat and week, 2018-01-01 .. 2019-12-29 (104 weeks)."""
    layer = load_units("beats", units_file=DATA / "police_beats.geojson")
    read = read_incidents(
        DATA / "aggravated_assaults_2010_2019.csv.gz",
        time_col="date",
        x_col="longitude",
        y_col="latitude",
        crs="EPSG:4326",
    )
    assigned = assign_units(read.incidents, layer.units).incidents
    cube = build_cube(assigned, layer.units, step="week", start="2018-01-01", end="2019-12-29")
    return cube, layer.units


def grid(side: int = 100, spacing: float = 1000.0) -> np.ndarray:
    """Centres of a ``side`` x ``side`` lattice of square cells."""
    return np.array([[i % side, i // side] for i in range(side * side)], float) * spacing


def grid_counts(rng, n_cells: int, per_week: float, n_steps: int = 52) -> np.ndarray:
    """Pattern-free counts on cells of uneven rates (gamma), ``per_week`` incidents a week."""
    rates = rng.gamma(1.0, 1.0, n_cells)
    return rng.poisson(per_week * np.outer(rates / rates.sum(), np.ones(n_steps)))


# --------------------------------------------------------------------------------------------
# 1. timing


def numpy_baseline(table, coordinates, max_steps, max_units, permutations, seed, min_observed=2):
    """The obvious vectorised scan: shuffle every incident's step, count, score every cylinder."""
    n_units, n_steps = table.shape
    unit_totals, step_totals = table.sum(axis=1), table.sum(axis=0)
    total = float(unit_totals.sum())
    circles = scan._circles(coordinates, max_units, None, unit_totals, int(total))
    scanned = circles.complete & (np.arange(max_units)[None, :] < circles.reach[:, None])
    share = np.cumsum(step_totals[::-1][:max_steps]) / total
    expected = circles.mass[:, :, None] * share[None, None, :]
    units = np.repeat(np.arange(n_units), unit_totals)
    steps = np.repeat(np.arange(n_steps), step_totals)
    rng = np.random.default_rng(seed)
    maxima = np.zeros(permutations)
    for p in range(permutations):
        shuffled = rng.permutation(steps)
        inside = shuffled >= n_steps - max_steps
        window = np.zeros((n_units, max_steps))
        np.add.at(window, (units[inside], n_steps - 1 - shuffled[inside]), 1)
        window = np.cumsum(window, axis=1)
        observed = np.cumsum(window[circles.neighbours], axis=1)
        ok = scanned[:, :, None] & (observed > expected) & (observed >= min_observed)
        c, e = observed[ok], expected[ok]
        outside = np.where(c < total, (total - c) * np.log((total - c) / (total - e)), 0.0)
        maxima[p] = (c * np.log(c / e) + outside).max() if c.size else 0.0
    return maxima


def timing(args, beats_cube, beats):
    print("\n== 1. timing: 999 permutations ==")
    counts = beats_cube.counts[:, -52:]
    start = time.perf_counter()
    space_time_scan(counts[:20, :8], np.arange(20.0), max_steps=2, permutations=19)
    print(f"first call (numba compile or cache load): {time.perf_counter() - start:.2f} s")

    rows = []

    def compare(label, table, units, coordinates, max_units):
        ours_time = best_of(
            args.repeats,
            lambda: space_time_scan(table, units, max_steps=4, max_units=max_units, seed=1),
        )
        result = space_time_scan(table, units, max_steps=4, max_units=max_units, seed=1)
        base_perms = args.baseline_permutations
        start = time.perf_counter()
        baseline = numpy_baseline(table, coordinates, 4, result.max_units, base_perms, seed=1)
        base_time = (time.perf_counter() - start) * 999 / base_perms
        agree = stats.ks_2samp(result.null_maxima, baseline).pvalue
        rows.append(
            {
                "case": label,
                "units": table.shape[0],
                "max_units": result.max_units,
                "incidents": int(table.sum()),
                "in window": int(table[:, -4:].sum()),
                "ours (s)": round(ours_time, 2),
                "numpy baseline (s, scaled)": round(base_time, 1),
                "ratio": round(base_time / ours_time, 1),
                "null maxima KS p": round(agree, 3),
            }
        )
        print(rows[-1])

    centroids = beats.geometry.centroid
    beat_xy = np.column_stack([centroids.x, centroids.y])
    compare("beats x 52 weeks, assaults 2019", counts, beats, beat_xy, None)
    rng = np.random.default_rng(0)
    cells = grid()
    for label, per_week in (("assault density", 300.0), ("homicide density", 12.0)):
        table = grid_counts(rng, len(cells), per_week)
        for max_units in (None, 1000):
            if max_units == 1000 and args.skip_large:
                continue
            compare(f"10,000 cells x 52 weeks, {label}", table, cells, cells, max_units)
    print(pd.DataFrame(rows).to_string(index=False))


# --------------------------------------------------------------------------------------------
# 2. null


def shaped_like(cube, weeks: int = 52):
    """Each unit's share and each week's total of the real cube's last ``weeks`` weeks."""
    counts = cube.counts[:, -weeks:]
    return counts.sum(axis=1) / counts.sum(), counts.sum(axis=0)


def alarm_rate(label, units, means, runs, draw):
    alarms = 0
    start = time.perf_counter()
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        counts = draw(rng, means)
        result = space_time_scan(counts, units, max_steps=4, seed=seed)
        alarms += bool(len(result.alarms))  # then the primary cluster is one of them
    interval = stats.binomtest(alarms, runs).proportion_ci(0.95)
    print(
        f"{label:<58} {alarms:>4}/{runs} = {alarms / runs:.3f}  "
        f"95% CI [{interval.low:.3f}, {interval.high:.3f}]  "
        f"({(time.perf_counter() - start) / runs:.2f} s a run)"
    )


def poisson(rng, means):
    return rng.poisson(means)


def overdispersed(shape: float):
    """Each unit-week's rate times a gamma of mean 1 (variance = mean + mean^2 / shape)."""

    def draw(rng, means):
        return rng.poisson(means * rng.gamma(shape, 1 / shape, means.shape))

    return draw


def dispersion(counts: np.ndarray) -> float:
    """Pearson's X^2 / df of a table against its margins (1 for the permutation model's null)."""
    counts = counts.astype(float)
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum()
    kept = expected > 0
    chi2 = ((counts - expected) ** 2)[kept] / expected[kept]
    return float(chi2.sum() / ((counts.shape[0] - 1) * (counts.shape[1] - 1)))


def in_pairs(rng, means):
    """Incidents of which one in ten is two rows (a second victim)."""
    counts = rng.poisson(means / 1.1)
    return counts + rng.binomial(counts, 0.1)


def null(args, homicide_cube, areas, beats_cube, beats):
    print(f"\n== 2. alarm rate at {ALPHA} on pattern-free incidents (999 permutations) ==")
    share, weekly = shaped_like(homicide_cube)
    homicide_means = np.outer(share, weekly)
    share, weekly = shaped_like(beats_cube)
    assault_means = np.outer(share, weekly)
    print(
        f"homicide-like: {homicide_means.sum():.0f} a year over {len(areas)} areas; "
        f"assault-like: {assault_means.sum():.0f} a year over {len(beats)} beats"
    )
    print(
        "X^2/df against the margins, last 52 weeks: homicides by area "
        f"{dispersion(homicide_cube.counts[:, -52:]):.3f}, assaults by beat "
        f"{dispersion(beats_cube.counts[:, -52:]):.3f}; simulated, gamma 30: "
        f"{dispersion(overdispersed(30)(np.random.default_rng(0), assault_means)):.3f}, gamma 2: "
        f"{dispersion(overdispersed(2)(np.random.default_rng(0), assault_means)):.3f}"
    )
    alarm_rate("homicide-like, community areas, Poisson", areas, homicide_means, args.runs, poisson)
    alarm_rate("assault-like, beats, Poisson", beats, assault_means, args.runs, poisson)
    departures = max(100, args.runs // 2)
    for shape in (30, 2):
        alarm_rate(
            f"assault-like, beats, unit-week overdispersion (gamma {shape})",
            beats,
            assault_means,
            departures,
            overdispersed(shape),
        )
    alarm_rate(
        "homicide-like, areas, one in ten as two victims",
        areas,
        homicide_means,
        departures,
        in_pairs,
    )


# --------------------------------------------------------------------------------------------
# 3. planted


def planted(rng, units, n_steps=40, per_week=3, cluster_per_week=8, cluster_steps=8):
    counts = np.zeros((len(units), n_steps), dtype=int)
    for week in range(n_steps):
        np.add.at(counts[:, week], rng.integers(0, len(units), rng.poisson(per_week)), 1)
    downtown = units.index.get_indexer(DOWNTOWN)
    for week in range(n_steps - cluster_steps, n_steps):
        np.add.at(counts[:, week], downtown[rng.integers(0, 3, rng.poisson(cluster_per_week))], 1)
    return counts


def planted_case(args, areas):
    print("\n== 3. planted downtown cluster (community areas, 999 permutations, max_steps 12) ==")
    rows = []
    for seed in range(args.planted_seeds):
        counts = planted(np.random.default_rng(seed), areas)
        top = space_time_scan(counts, areas, max_steps=12, seed=seed).clusters.iloc[0]
        found = set(top["unit_ids"].split(";"))
        rows.append(
            {
                "seed": seed,
                "units": top["unit_ids"],
                "downtown found": len(found & set(DOWNTOWN)),
                "n_units": top["n_units"],
                "start": top["start"],
                "observed": top["observed"],
                "expected": round(top["expected"], 1),
                "llr": round(top["llr"], 2),
                "p": top["p_value"],
            }
        )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    ok = (table["downtown found"] >= 2) & (table["n_units"] <= 8) & (table["p"] <= 0.05)
    print(
        f"{ok.sum()}/{len(table)} seeds meet the issue's criteria; start = 32 (planted) in "
        f"{(table['start'] == 32).sum()}, within 2 weeks in {(abs(table['start'] - 32) <= 2).sum()}"
    )


# --------------------------------------------------------------------------------------------
# 4. real weekly runs


def weekly_runs(label, cube, units, weeks=52, history=52):
    print(f"\n-- {label}: {weeks} weekly runs, each on its {history} weeks, max_steps 4 --")
    names = units["name"]
    alarm_weeks = 0
    start = time.perf_counter()
    for last in range(cube.n_steps - weeks, cube.n_steps):
        first = last - history + 1
        result = space_time_scan(
            cube.counts[:, first : last + 1],
            units,
            max_steps=4,
            seed=last,
            step_starts=cube.edges[first : last + 2],
        )
        week = cube.step_starts[last].date()
        alarms = result.alarms
        alarm_weeks += bool(len(alarms))
        for row in alarms.itertuples():
            places = ", ".join(names[unit] for unit in row.unit_ids.split(";"))
            print(
                f"week of {week}: {row.start_date}..{row.end_date}  {places}  "
                f"{row.observed} vs {row.expected:.1f} expected  llr {row.llr:.2f}  "
                f"p {row.p_value:.3f}  {row.recurrence_words}"
            )
    print(
        f"{alarm_weeks} of {weeks} weekly runs raised an alarm (about {ALPHA * weeks:.1f} "
        f"expected by chance alone); {(time.perf_counter() - start) / weeks:.2f} s a run"
    )


def real(homicide_cube, areas, beats_cube, beats):
    print("\n== 4. real data: the alarms (p <= 0.05) the weekly runs would have raised ==")
    weekly_runs("homicides by community area, weeks to 2024-04-21", homicide_cube, areas)
    weekly_runs("aggravated assaults by beat, the weeks of 2019", beats_cube, beats)


# --------------------------------------------------------------------------------------------
# 5. SaTScan's NYC fever sample

#: SaTScan 9.4.4's prospective space-time permutation run on NYCfever (2001/11/1 to 2001/11/24,
#: 999 replications stopped by its sequential Monte Carlo after 141): zip codes, time frame,
#: cases, expected, test statistic, p-value.
SATSCAN_NYCFEVER = [
    (
        "11418 11415 11419 11435 11416 11421 11451 11375 11417",
        "2001-11-22",
        4,
        0.67,
        3.845418,
        0.355,
    ),
    ("11372", "2001-11-24", 2, 0.16, 3.164201, 0.709),
    (
        "10464 10475 10465 10469 10461 10466 10462 10467 11024 10472",
        "2001-11-23",
        5,
        1.66,
        2.192250,
        0.979,
    ),
]


def nycfever(folder: Path):
    print("\n== 5. SaTScan's NYC fever sample, prospective, as SaTScan 9.4.4 ran it ==")
    cases = pd.read_csv(folder / "NYCfevercas.csv")
    places = pd.read_csv(folder / "NYCfevergeo.csv")
    days = pd.date_range("2001-11-01", "2001-11-24")
    table = pd.crosstab(cases["zip"], pd.to_datetime(cases["date"])).reindex(
        index=places["zip"], columns=days, fill_value=0
    )
    # SaTScan's lat/long distances: chords through the earth, in the order of great circles
    lat, lon = np.radians(places["lat"].to_numpy()), np.radians(places["long"].to_numpy())
    xyz = 6367.0 * np.column_stack(
        [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]
    )
    result = space_time_scan(
        table.to_numpy(),
        xyz,
        unit_ids=places["zip"].tolist(),
        max_steps=12,  # 50% of the study period
        max_units=len(places),
        max_share=0.5,  # 50% of the population at risk: for this model, of the cases
        min_observed=1,
        permutations=999,
        seed=1,
        step="day",
        step_starts=days,
    )
    print(f"{int(table.to_numpy().sum())} cases, {len(places)} zip codes, {len(days)} days")
    for row, (zips, start, observed, expected, llr, p_value) in zip(
        result.clusters.itertuples(), SATSCAN_NYCFEVER, strict=False
    ):
        same_units = set(row.unit_ids.split(";")) == set(zips.split())
        print(
            f"cluster {row.cluster_id}: same zip codes {same_units}; time frame "
            f"{row.start_date}..{row.end_date} (SaTScan from {start}); observed {row.observed} "
            f"({observed}); expected {row.expected:.3f} ({expected}); llr {row.llr:.6f} "
            f"({llr:.6f}); p {row.p_value:.3f} ({p_value}, from SaTScan's 141 replications); "
            f"{row.recurrence_words}"
        )
    # SaTScan's retrospective run on the same data (res1 of the SaTScan tutorial): its most
    # likely cluster is 8 zip codes on 2001/11/8, 5 cases, 0.40 expected, statistic 8.119521.
    members = [10454, 10455, 10451, 10035, 10037, 10030, 10029, 10456]
    total = table.to_numpy().sum()
    day = pd.Timestamp("2001-11-08")
    c = table.loc[members, day].sum()
    e = table.loc[members].to_numpy().sum() * table[day].sum() / total
    llr = c * np.log(c / e) + (total - c) * np.log((total - c) / (total - e))
    print(f"retrospective cylinder from the margins: {c} cases, {e:.4f} expected, llr {llr:.6f}")


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sections",
        nargs="+",
        default=["timing", "null", "planted", "real", "nycfever"],
        choices=["timing", "null", "planted", "real", "nycfever"],
    )
    parser.add_argument("--runs", type=int, default=200, help="pattern-free runs per case")
    parser.add_argument("--planted-seeds", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3, help="timings: best of")
    parser.add_argument("--baseline-permutations", type=int, default=50)
    parser.add_argument("--skip-large", action="store_true", help="no max_units 1000 timing")
    parser.add_argument("--nycfever", type=Path, help="folder with NYCfevercas/geo.csv")
    args = parser.parse_args()

    needs_data = {"timing", "null", "real"} & set(args.sections)
    if needs_data:
        start = time.perf_counter()
        homicide_cube, areas = homicides_by_area()
        beats_cube, beats = assaults_by_beat()
        print(f"read the homicides and assaults in {time.perf_counter() - start:.1f} s")
    else:
        areas = load_units("community_areas").units
    if "timing" in args.sections:
        timing(args, beats_cube, beats)
    if "null" in args.sections:
        null(args, homicide_cube, areas, beats_cube, beats)
    if "planted" in args.sections:
        planted_case(args, areas)
    if "real" in args.sections:
        real(homicide_cube, areas, beats_cube, beats)
    if "nycfever" in args.sections:
        if args.nycfever is None:
            print("\n== 5. NYC fever: skipped (give --nycfever DIR) ==")
        else:
            nycfever(args.nycfever)


if __name__ == "__main__":
    main()
