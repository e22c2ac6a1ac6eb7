"""Calibration of the hot spot table's Gi* (the ``hotspots`` command, the weekly run's and the
demo's hot spot maps) with its default p-values: on one period's counts with no pattern in space,
on the real 275 beats and 77 community areas, the share of runs in which any unit is a hot or cold
spot (90% confidence or more, after Benjamini-Hochberg) must stay at the 10% that the correction
promises, within binomial tolerance; on a planted cluster the table must find it. Each null test
also shows that the normal tail (ArcGIS's Hot Spot Analysis, esda's ``p_norm``) fails the same
bound on sparse counts, so the tests can fail. ``bench/bench_calibration.py`` prints the full
tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo_violence import build_weights, load_units
from geo_violence.stats.hotspots import HotspotOptions, gi_star_table
from geo_violence.testing.null_counts import period_counts

RUNS = 200
#: 10% (the weakest class, 90% confidence) plus 2.33 binomial standard errors of 200 runs.
BOUND = 0.10 + 2.33 * np.sqrt(0.10 * 0.90 / RUNS)


def flagged_share(neighbours, kind: str, p_values: str, runs: int = RUNS) -> float:
    """The share of runs in which some unit gets a Gi* class other than 0."""
    options = HotspotOptions(p_values=p_values)
    flagged = 0
    for run in range(runs):
        x = period_counts(kind, len(neighbours.unit_ids), np.random.default_rng(1000 + run))
        table = gi_star_table(pd.Series(x, index=neighbours.unit_ids), neighbours, options)
        flagged += bool((table["gi_class"] != 0).any())
    return flagged / runs


@pytest.fixture(scope="module")
def layers(shared_data):
    beats = load_units("beats", units_file=shared_data / "police_beats.geojson").units
    return {
        "areas": build_weights(load_units("community_areas").units),
        "beats": build_weights(beats),
    }


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("layer", "kind", "normal_above"),
    [
        ("beats", "poisson 0.3", True),  # homicides: about 0.2 a beat in four weeks
        ("beats", "poisson 1", True),
        ("beats", "overdispersed 1", True),
        ("beats", "season 0.1", True),
        ("beats", "poisson 10", False),  # dense enough: "auto" may keep the normal tail
        ("areas", "poisson 0.3", True),
        ("areas", "overdispersed 5", True),
        ("areas", "poisson 3", False),
    ],
)
def test_no_pattern_flags_a_unit_in_at_most_10_percent_of_runs(layers, layer, kind, normal_above):
    neighbours = layers[layer]
    ours = flagged_share(neighbours, kind, "auto")
    line = f"{layer}, {kind}: runs with a Gi* hot or cold spot {ours:.1%} (bound {BOUND:.1%})"
    if normal_above:
        before = flagged_share(neighbours, kind, "normal")
        line += f"; with the normal tail {before:.1%}"
        assert before > BOUND
    print(line)
    assert ours <= BOUND


@pytest.mark.shared_data
@pytest.mark.parametrize(("base", "factor"), [(2.0, 5.0), (5.0, 3.0)])
def test_a_planted_cluster_of_four_community_areas_is_found(layers, base, factor):
    """The Loop, Near North Side, Near West Side and Near South Side at ``factor`` times the
    rest's mean count: at least one of the four is a hot spot in at least 95% of runs, and no
    unit whose neighbourhood misses the four is hot in more than 3% of runs."""
    neighbours = layers["areas"]
    ids = neighbours.unit_ids
    block = np.flatnonzero(ids.isin(["32", "8", "28", "33"]))
    star = neighbours.matrix + np.eye(len(ids))
    far = np.asarray(star[:, block].sum(axis=1)).ravel() == 0
    found, all_four, far_hot = 0, 0, 0
    for run in range(RUNS):
        mean = np.full(len(ids), base)
        mean[block] *= factor
        x = np.random.default_rng(5000 + run).poisson(mean).astype(float)
        table = gi_star_table(pd.Series(x, index=ids), neighbours, HotspotOptions())
        hot = table["gi_class"].to_numpy() > 0
        found += hot[block].any()
        all_four += hot[block].all()
        far_hot += hot[far].any()
    print(
        f"base {base}, x{factor}: a planted area hot in {found / RUNS:.0%} of runs, all four in "
        f"{all_four / RUNS:.0%}; a hot unit far from them in {far_hot / RUNS:.1%}"
    )
    assert found / RUNS >= 0.95
    assert far_hot / RUNS <= 0.03


@pytest.mark.shared_data
@pytest.mark.parametrize("risk", [5, 100])  # a year per 100,000 residents: 1.8 and 36 an area
def test_rates_at_equal_risk_flag_an_area_in_at_most_10_percent_of_runs(shared_data, risk):
    """With a population, Gi* runs on the Empirical Bayes standardised rates by default: with
    every community area at the same risk it holds the bound; on raw rates (``--smoothing
    none``), whose small areas vary more, it does not."""
    from geo_violence.sources.population import align_population, read_population
    from geo_violence.stats.hotspots import hotspot_table

    neighbours = build_weights(load_units("community_areas").units)
    population = read_population(shared_data / "community_areas_population_2020.csv")
    people = pd.Series(align_population(population, neighbours.unit_ids)[0], neighbours.unit_ids)
    options = {
        "eb": HotspotOptions(lisa_permutations=1),
        "none": HotspotOptions(lisa_permutations=1, smoothing="none"),
    }
    flagged = dict.fromkeys(options, 0)
    for run in range(RUNS):
        x = np.random.default_rng(7000 + run).poisson(risk * people / 1e5)
        counts = pd.Series(x, index=neighbours.unit_ids)
        for name, chosen in options.items():
            table = hotspot_table(counts, neighbours, population=people, options=chosen)
            flagged[name] += bool((table["gi_class"] != 0).any())
    ours, raw = flagged["eb"] / RUNS, flagged["none"] / RUNS
    print(f"risk {risk}: runs with a hot or cold area {ours:.1%} (raw rates {raw:.1%})")
    assert ours <= BOUND
    assert raw > BOUND
