"""Calibration of the emerging hot spot analysis: error rates on pattern-free cubes, power on
planted rises, ours beside the method as it was (normal p-values, plain Mann-Kendall) and beside
pyehsa (a Python port of R's sfdep) when it is installed.

Pattern-free cubes on the real units (the 275 police beats, from ``../shared/data/chicago`` or
``$GEO_VIOLENCE_SHARED_DATA``, and the 77 community areas), 104 weeks, K = 1 unless said:

- ``single r``: Poisson counts at one rate ``r`` a week everywhere;
- ``mixed``: a constant rate per unit drawn from a gamma distribution (mean 1 a week, shape 2),
  spatially at random;
- ``overdispersed``: gamma-Poisson counts, a new gamma rate (mean 1, shape 1: variance 2) in
  every bin;
- ``season``: one rate a week for the whole city, 1 x (1 + 0.5 sin(2 pi t / 52)).

Tables:

1. The share of units whose trend test rejects at 5%, by time window K (0, 1, 2, 4, 12, 52), for
   each correction (none: ArcGIS and sfdep; window: ours; hamed-rao and yue-wang estimated from
   each series at lags <= K), on ``mixed`` and ``season`` cubes of beats, with the global window
   "cube" (the default) and, for the season, "step" (which standardises each week by its own
   mean and so takes a citywide season out of the z-scores).
2. The share of runs with a significant week (hot or cold, after BH over all unit-weeks), by
   rate (0.2, 1, 5), beats: normal p-values (before), exact ones (ours, the default) and the
   "rate" null.
3. The share of runs with any new, consecutive, intensifying or diminishing unit (hot or cold), and
   with any significant week, by kind of cube, beats: the old defaults, ours, and ours with
   ``p_values="rate"``.
4. Power: four neighbouring community areas (the Loop, Near North Side, Near West Side, Near South
   Side) rise 2x, 3x or 5x over the last 4, 8 or 16 of 104 weeks on a base of 2 a week ("even"),
   and 3x on constant rates drawn per area between 0.5 and 3.5 ("uneven"); for each method the
   share of runs in which at least one (">=1"), and at least two (">=2"), of the four are labelled
   new, consecutive or intensifying hot spots, the share of the four labelled so ("units") or
   sporadic, and the share of the four whose ``recent_rate_ratio_low`` is above 1.
5. pyehsa on one pattern-free and one planted community-area cube at its default 49 permutations
   (and ``--pyehsa-permutations``): how many bins it finds significant and the categories it
   gives.
6. The hot spot table (``hotspots``: Gi* of one period's counts): the share of runs in which
   some unit is a hot or cold spot (90% confidence or more after BH; nominal at most 10%) on
   counts with no pattern in space, by layer and kind of counts (Poisson at one mean, gamma-
   Poisson with variance three times the mean, four weeks of a citywide season), for the normal
   tail (ArcGIS, esda), the count tail ("exact") and the exact randomisation distribution (ours,
   the default through "auto").
7. Power of the hot spot table: the four community areas of table 4 at 2x, 3x or 5x a base
   count of 1, 2 or 5 in the period; the share of runs in which at least one of the four, and all
   four, are hot, and in which a unit whose neighbourhood misses the four is hot.
8. The hot spot table on rates (``--population``): every community area at the same risk (5 to
   1,000 a year per 100,000 residents, the 2020 populations); the share of runs with a hot or
   cold unit, Gi* of the raw rates (``--smoothing none``) and of the Empirical Bayes standardised
   rates (the default), both with the normal tail, which "auto" keeps for rates.

Run: ``python bench/bench_calibration.py`` (``--runs`` scales every table; the defaults take a
few minutes on one core).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import re
import sys
import time
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
from common import DATA
from scipy import stats

from geo_violence import build_weights, load_units
from geo_violence.stats.emerging import (
    EmergingOptions,
    emerging_hotspots,
    space_time_count_p,
    space_time_gi_star,
)
from geo_violence.stats.significance import adjust_p
from geo_violence.testing.null_counts import period_counts

#: The defaults the method had before the calibration: normal p-values, plain Mann-Kendall.
BEFORE = EmergingOptions(p_values="normal", trend_correction="none")
OURS = EmergingOptions()
#: The other null for counts: the neighbourhood's rate against the window's.
RATE = EmergingOptions(p_values="rate")
RISING_HOT = (1, 2, 3)
TRENDING = (1, 2, 3, 5)
#: The Loop and three neighbours.
BLOCK = ("32", "8", "28", "33")


def pattern_free(kind: str, n_units: int, n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """A cube with no pattern in space (see the module docstring)."""
    if kind.startswith("single"):
        rates = np.full((n_units, n_steps), float(kind.split()[1]))
    elif kind == "mixed":
        rates = np.repeat(rng.gamma(2.0, 0.5, (n_units, 1)), n_steps, axis=1)
    elif kind == "overdispersed":
        rates = rng.gamma(1.0, 1.0, (n_units, n_steps))
    elif kind == "season":
        season = 1 + 0.5 * np.sin(2 * np.pi * np.arange(n_steps) / 52)
        rates = np.repeat(season[None, :], n_units, axis=0)
    else:
        raise ValueError(kind)
    return rng.poisson(rates).astype(float)


def trend_table(adjacency, ids, runs: int, n_steps: int) -> pd.DataFrame:
    """Through the whole analysis, so each correction runs on the steps it uses."""
    rows = []
    corrections = {
        "none": "none",
        "window (ours)": "window",
        "hamed-rao": "hamed-rao",
        "yue-wang": "yue-wang",
    }
    for kind, window in (("mixed", "cube"), ("season", "cube"), ("season", "step")):
        for k in (0, 1, 2, 4, 12, 52):
            shares: dict[str, list[float]] = {}
            for run in range(runs):
                x = pattern_free(kind, len(ids), n_steps, np.random.default_rng(10_000 + run))
                for name, correction in corrections.items():
                    if k == 0 and correction in ("hamed-rao", "yue-wang"):
                        continue
                    options = EmergingOptions(
                        time_window=k, window=window, trend_correction=correction
                    )
                    p = emerging_hotspots(x, adjacency, ids, options=options).units["mk_p"]
                    shares.setdefault(name, []).append(float((p < 0.05).mean()))
            rows.append(
                {"cube": kind, "window": window, "K": k}
                | {name: np.mean(values) for name, values in shares.items()}
            )
    return pd.DataFrame(rows)


def significant_week_table(adjacency, runs: int) -> pd.DataFrame:
    rows = []
    for rate in (0.2, 1.0, 5.0):
        found = dict.fromkeys(("normal (before)", "exact (ours)", "rate"), 0)
        for run in range(runs):
            rng = np.random.default_rng(20_000 + run)
            x = rng.poisson(rate, (adjacency.shape[0], 104)).astype(float)
            z = space_time_gi_star(x, adjacency)
            p_values = {
                "normal (before)": 2 * stats.norm.sf(np.abs(z)),
                "exact (ours)": space_time_count_p(x, adjacency),
                "rate": space_time_count_p(x, adjacency, null="rate"),
            }
            for name, p in p_values.items():
                found[name] += bool((adjust_p(p.ravel()) <= 0.05).any())
        rows.append({"rate a week": rate} | {n: v / runs for n, v in found.items()})
    return pd.DataFrame(rows)


def category_table(adjacency, ids, runs: int) -> pd.DataFrame:
    rows = []
    kinds = ("single 0.2", "single 1", "single 5", "mixed", "overdispersed", "season")
    tools = {"before": BEFORE, "ours": OURS, "rate": RATE}
    for kind, window in [(kind, "cube") for kind in kinds] + [("season", "step")]:
        trending = dict.fromkeys(tools, 0)
        significant = dict.fromkeys(tools, 0)
        for run in range(runs):
            x = pattern_free(kind, len(ids), 104, np.random.default_rng(30_000 + run))
            for name, options in tools.items():
                options = replace(options, window=window)
                result = emerging_hotspots(x, adjacency, ids, options=options)
                codes = np.abs(result.units["category_code"].to_numpy())
                trending[name] += bool(np.isin(codes, TRENDING).any())
                significant[name] += bool((result.hot | result.cold).any())
        rows.append(
            {"cube": kind, "window": window}
            | {f"trending: {name}": trending[name] / runs for name in tools}
            | {f"significant week: {name}": significant[name] / runs for name in tools}
        )
    return pd.DataFrame(rows)


def planted(ids: pd.Index, factor: float, weeks: int, rng, background: str = "even"):
    """Four neighbouring areas rise ``factor`` times over the last ``weeks`` weeks, on a
    background of 2 a week everywhere ("even") or a constant rate per area drawn uniformly between
    0.5 and 3.5 ("uneven", the block's areas included)."""
    block = np.flatnonzero(ids.isin(BLOCK))
    if background == "even":
        base = np.full((len(ids), 1), 2.0)
    else:
        base = rng.uniform(0.5, 3.5, (len(ids), 1))
    rates = np.repeat(base, 104, axis=1)
    rates[block, -weeks:] *= factor
    return rng.poisson(rates).astype(float), block


def power_table(adjacency, ids, runs: int) -> pd.DataFrame:
    rows = []
    tools = {"before": BEFORE, "ours": OURS, "rate": RATE}
    cells = [("even", f, w) for f in (2.0, 3.0, 5.0) for w in (4, 8, 16)]
    cells += [("uneven", 3.0, w) for w in (4, 8, 16)]
    for background, factor, weeks in cells:
        tally: dict[str, list[float]] = {}
        for run in range(runs):
            rng = np.random.default_rng(40_000 + run)
            x, block = planted(ids, factor, weeks, rng, background)
            for name, options in tools.items():
                table = emerging_hotspots(x, adjacency, ids, options=options).units.iloc[block]
                labelled = table["category_code"].isin(RISING_HOT).to_numpy()
                tally.setdefault(f"{name} >=1", []).append(labelled.any())
                tally.setdefault(f"{name} >=2", []).append(labelled.sum() >= 2)
                tally.setdefault(f"{name} units", []).append(labelled.mean())
                tally.setdefault(f"{name} sporadic", []).append(
                    (table["category_code"] == 6).mean()
                )
            tally.setdefault("ratio low>1", []).append((table["recent_rate_ratio_low"] > 1).mean())
        rows.append(
            {"background": background, "rise": f"{factor:g}x", "weeks": weeks}
            | {n: float(np.mean(v)) for n, v in tally.items()}
        )
    return pd.DataFrame(rows)


def pyehsa_frame(counts: np.ndarray, units):
    import geopandas as gpd

    n_units, n_steps = counts.shape
    times = pd.date_range("2022-01-03", periods=n_steps, freq="7D")
    frame = pd.DataFrame(
        {
            "region_id": np.repeat(units.index.to_numpy(), n_steps),
            "time_period": np.tile(times, n_units),
            "value": counts.ravel().astype(float),
        }
    )
    geometry = units.geometry.reindex(frame["region_id"]).to_numpy()
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=units.crs).to_crs("EPSG:4326")


def pyehsa_rows(units, adjacency, permutations: list[int], weeks: int) -> pd.DataFrame:
    """pyehsa and ours on one pattern-free and one planted cube of ``weeks`` weeks; pyehsa's count
    of significant bins is read from what it prints ("Significant observations (p<=0.01)")."""
    from pyehsa import EmergingHotspotAnalysis

    logging.disable(logging.INFO)
    rows = []
    null = pattern_free("single 1", len(units), 104, np.random.default_rng(50_000))
    rise, _ = planted(units.index, 3.0, 8, np.random.default_rng(50_001))
    for name, x in (("pattern-free (single 1)", null), ("planted 3x, last 8 weeks", rise)):
        x = x[:, -weeks:]
        for nsim in permutations:
            start = time.perf_counter()
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                result = EmergingHotspotAnalysis.emerging_hotspot_analysis(
                    pyehsa_frame(x, units), "region_id", "time_period", "value", k=1, nsim=nsim
                )
            seconds = time.perf_counter() - start
            said = re.search(
                r"Significant observations \(p<=0.01\): (\d+)/(\d+)", printed.getvalue()
            )
            labels = result.set_index("region_id")["classification"]
            rows.append(
                {
                    "cube": name,
                    "tool": f"pyehsa nsim={nsim}",
                    "smallest p": 1
                    / (nsim + 1),  # its p_sim: min(above + 1, below + 1) / (nsim + 1)
                    "significant bins": f"{said.group(1)}/{said.group(2)} (p <= 0.01, it says)"
                    if said
                    else "?",
                    "units with a category": int((labels != "no pattern detected").sum()),
                    "planted units": ", ".join(labels.reindex(list(BLOCK)).astype(str)),
                    "seconds": round(seconds, 1),
                }
            )
        ours = emerging_hotspots(x, adjacency, units.index)
        rows.append(
            {
                "cube": name,
                "tool": "ours (defaults)",
                "smallest p": float(np.nanmin(ours.p)),
                "significant bins": f"{int((ours.hot | ours.cold).sum())}/{x.size} (BH 5%)",
                "units with a category": int((ours.units["category_code"] != 0).sum()),
                "planted units": ", ".join(ours.units["category"].reindex(list(BLOCK))),
                "seconds": np.nan,
            }
        )
    return pd.DataFrame(rows)


HOTSPOT_METHODS = ("normal", "exact", "auto")


def hotspot_null_table(layers: dict, runs: int) -> pd.DataFrame:
    """Table 6."""
    from geo_violence.stats.hotspots import HotspotOptions, gi_star_table

    kinds = ["poisson 0.3", "poisson 1", "poisson 3", "poisson 10", "overdispersed 1"]
    kinds += ["overdispersed 5", "season 0.1"]
    rows = []
    for layer, neighbours in layers.items():
        for kind in kinds:
            row = {"layer": layer, "counts": kind}
            for method in HOTSPOT_METHODS:
                options = HotspotOptions(p_values=method)
                flagged = 0
                for run in range(runs):
                    rng = np.random.default_rng(1000 + run)
                    x = period_counts(kind, len(neighbours.unit_ids), rng)
                    values = pd.Series(x, index=neighbours.unit_ids)
                    table = gi_star_table(values, neighbours, options)
                    flagged += bool((table["gi_class"] != 0).any())
                row[method] = flagged / runs
            rows.append(row)
    return pd.DataFrame(rows)


def hotspot_power_table(neighbours, runs: int) -> pd.DataFrame:
    """Table 7."""
    from geo_violence.stats.hotspots import HotspotOptions, gi_star_table

    ids = neighbours.unit_ids
    block = np.flatnonzero(ids.isin(BLOCK))
    star = neighbours.matrix + np.eye(len(ids))
    far = np.asarray(star[:, block].sum(axis=1)).ravel() == 0
    rows = []
    for base in (1.0, 2.0, 5.0):
        for factor in (2.0, 3.0, 5.0):
            row = {"base": base, "factor": factor}
            for method in HOTSPOT_METHODS:
                found = all_four = far_hot = 0
                for run in range(runs):
                    mean = np.full(len(ids), base)
                    mean[block] *= factor
                    x = np.random.default_rng(5000 + run).poisson(mean).astype(float)
                    table = gi_star_table(
                        pd.Series(x, index=ids), neighbours, HotspotOptions(p_values=method)
                    )
                    hot = table["gi_class"].to_numpy() > 0
                    found += hot[block].any()
                    all_four += hot[block].all()
                    far_hot += hot[far].any()
                row[f"{method} >=1"] = found / runs
                row[f"{method} all"] = all_four / runs
                row[f"{method} far"] = far_hot / runs
            rows.append(row)
    return pd.DataFrame(rows)


def rates_null_table(neighbours, runs: int) -> pd.DataFrame:
    """Table 8."""
    from geo_violence.sources.population import align_population, read_population
    from geo_violence.stats.hotspots import HotspotOptions, gi_star_table
    from geo_violence.stats.rates import eb_standardised_rates

    population = read_population(DATA / "community_areas_population_2020.csv")
    people, _ = align_population(population, neighbours.unit_ids)
    by_unit = pd.Series(people, index=neighbours.unit_ids)
    rows = []
    for risk in (5, 20, 100, 1000):
        flagged = flagged_eb = 0
        for run in range(runs):
            x = np.random.default_rng(7000 + run).poisson(risk * people / 1e5)
            rates = pd.Series(x / people * 1e5, index=neighbours.unit_ids)
            table = gi_star_table(rates, neighbours, HotspotOptions())
            flagged += bool((table["gi_class"] != 0).any())
            smoothed = eb_standardised_rates(pd.Series(x, index=neighbours.unit_ids), by_unit)
            table = gi_star_table(smoothed, neighbours, HotspotOptions())
            flagged_eb += bool((table["gi_class"] != 0).any())
        rows.append(
            {
                "risk per 100,000": risk,
                "mean count per area": risk * people.mean() / 1e5,
                "raw rates": flagged / runs,
                "EB standardised (default)": flagged_eb / runs,
            }
        )
    return pd.DataFrame(rows)


def show(title: str, table: pd.DataFrame) -> None:
    print(f"\n{title}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="runs per cell of tables 2-3")
    parser.add_argument("--trend-runs", type=int, default=20, help="runs per cell of table 1")
    parser.add_argument("--steps", type=int, default=104, help="weeks of the cubes of table 1")
    parser.add_argument("--power-runs", type=int, default=50, help="runs per cell of table 4")
    parser.add_argument("--pyehsa-permutations", type=int, nargs="*", default=[49])
    parser.add_argument(
        "--pyehsa-weeks",
        type=int,
        default=26,
        help="weeks (the last ones) of the cubes pyehsa gets: its permutations take time "
        "quadratic in the cube's size",
    )
    parser.add_argument("--skip", nargs="*", default=[], help="tables to leave out: 1 to 8")
    parser.add_argument("--hotspot-runs", type=int, default=400, help="runs per cell of 6 and 7")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    areas = load_units("community_areas").units
    area_adjacency = build_weights(areas).matrix
    if (DATA / "police_beats.geojson").exists():
        beats = load_units("beats", units_file=DATA / "police_beats.geojson").units
        beat_adjacency = build_weights(beats).matrix
        if "1" not in args.skip:
            start = time.perf_counter()
            show(
                f"1. share of beats whose trend test rejects at 5% (no trend; {args.steps} weeks)",
                trend_table(beat_adjacency, beats.index, args.trend_runs, args.steps),
            )
            print(f"({args.trend_runs} runs per row, {time.perf_counter() - start:.0f} s)")
        if "2" not in args.skip:
            show(
                "2. runs with a significant week, one rate everywhere (beats x 104 weeks, K=1)",
                significant_week_table(beat_adjacency, args.runs),
            )
        if "3" not in args.skip:
            show(
                "3. runs with any new/consecutive/intensifying/diminishing unit (beats x 104)",
                category_table(beat_adjacency, beats.index, args.runs),
            )
    else:
        print(f"the shared Chicago data are not at {DATA}: the beats tables are left out")
    if "4" not in args.skip:
        show(
            "4. power on a planted rise of four community areas (104 weeks, K=1)",
            power_table(area_adjacency, areas.index, args.power_runs),
        )
    hotspot_layers = {"areas": build_weights(areas)}
    if (DATA / "police_beats.geojson").exists():
        hotspot_layers["beats"] = build_weights(beats)
    if "6" not in args.skip:
        show(
            "6. hot spot table, one period with no pattern: runs with a hot or cold unit "
            "(nominal <= 10%)",
            hotspot_null_table(hotspot_layers, args.hotspot_runs),
        )
    if "7" not in args.skip:
        show(
            "7. hot spot table, power on four community areas at factor x base (one period)",
            hotspot_power_table(hotspot_layers["areas"], args.hotspot_runs),
        )
    if "8" not in args.skip and (DATA / "community_areas_population_2020.csv").exists():
        show(
            "8. hot spot table on rates, every area at the same risk (normal tail; nominal <= 10%)",
            rates_null_table(hotspot_layers["areas"], args.hotspot_runs),
        )
    if "5" not in args.skip:
        try:
            import pyehsa  # noqa: F401
        except ImportError:
            print("\npyehsa is not installed (pip install -e '.[bench]'): table 5 is left out")
        else:
            show(
                f"5. pyehsa (sfdep port) and ours, areas x {args.pyehsa_weeks} weeks, K=1",
                pyehsa_rows(areas, area_adjacency, args.pyehsa_permutations, args.pyehsa_weeks),
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
