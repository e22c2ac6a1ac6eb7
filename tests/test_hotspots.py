"""The hot spot table and the hotspots command."""

from __future__ import annotations

import json

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats
from test_local_stats import lattice

from geo_violence import build_weights, load_units
from geo_violence.cli import main
from geo_violence.errors import OptionError
from geo_violence.stats import adjust_p
from geo_violence.stats.hotspots import (
    RATES_CAVEAT,
    HotspotOptions,
    gi_star_table,
    hotspot_table,
)
from geo_violence.stats.rates import eb_standardised_rates


def test_fdr_equals_scipy_and_bonferroni_is_capped():
    p = np.random.default_rng(0).uniform(0, 0.2, 50)
    np.testing.assert_allclose(adjust_p(p, "bh"), stats.false_discovery_control(p))
    assert adjust_p(np.array([0.2, 0.01]), "bonferroni").tolist() == [0.4, 0.02]
    assert adjust_p(np.array([0.7, 0.6]), "bonferroni").tolist() == [1.0, 1.0]
    assert np.isnan(adjust_p(np.array([np.nan, 0.01]))[0])


def test_bh_equals_scipy_and_statsmodels_exactly_on_hard_cases():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    base = rng.uniform(size=2000)
    cases = {
        "continuous": rng.uniform(size=300_000),  # many pairs differ only in the lowest bits
        "discrete, many ties": np.round(rng.uniform(size=300_000), 3),
        # values one float apart, exact repeats, both zeros and one
        "neighbouring floats": np.concatenate(
            [base, np.nextafter(base, 2), np.nextafter(base, -1), base, [0.0, -0.0, 1.0]]
        ),
        "sparse counts": np.concatenate([rng.uniform(0, 1e-7, 500), np.ones(5000)]),
    }
    for name, p in cases.items():
        rng.shuffle(p)
        expected = stats.false_discovery_control(np.abs(p))
        np.testing.assert_array_equal(adjust_p(p, "bh"), expected, err_msg=name)
        reference = multipletests(np.abs(p), method="fdr_bh")[1]
        np.testing.assert_allclose(adjust_p(p, "bh"), reference, rtol=1e-12, err_msg=name)


def test_eb_rates_match_the_closed_form():
    events = pd.Series([10.0, 1.0, 30.0, 4.0])
    people = pd.Series([1000.0, 100.0, 1000.0, 5000.0])
    rate = events / people
    city = events.sum() / people.sum()
    spread = (people * (rate - city) ** 2).sum() / people.sum() - city / people.mean()
    variance = spread + city / people
    variance = variance.where(variance >= 0, city / people)
    expected = (rate - city) / np.sqrt(variance)
    np.testing.assert_allclose(eb_standardised_rates(events, people), expected, atol=1e-12)


def test_lisa_on_eb_rates_equals_esda_moran_local_rate():
    neighbours = lattice(6, 6)
    rng = np.random.default_rng(1)
    population = pd.Series(rng.integers(500, 50_000, 36).astype(float), index=neighbours.unit_ids)
    events = pd.Series(rng.poisson(population / 1000).astype(float), index=neighbours.unit_ids)
    table = hotspot_table(events, neighbours, population=population)
    reference = esda.Moran_Local_Rate(
        events.to_numpy(), population.to_numpy(), neighbours.to_w("R"), permutations=0
    )  # only the statistic is compared: no permutations (esda would compile its kernels)
    np.testing.assert_allclose(table["lisa_i"], reference.Is, atol=1e-10)
    np.testing.assert_allclose(table["rate"], events / population * 100_000)


def test_table_columns_classes_and_reruns():
    neighbours = lattice(8, 8)
    rng = np.random.default_rng(3)
    counts = pd.Series(rng.poisson(4, 64), index=neighbours.unit_ids)
    counts[["27", "28", "35", "36"]] = 25
    table = hotspot_table(counts, neighbours)
    assert table.columns.tolist() == [
        "count",
        "gi_z",
        "gi_p",
        "gi_q",
        "gi_class",
        "lisa_i",
        "lisa_z",
        "lisa_p",
        "lisa_q",
        "lisa_cluster",
        "gi_category",
    ]
    assert (table.loc[["27", "28", "35", "36"], "gi_class"] == 3).all()
    assert set(table["lisa_cluster"]) <= {"HH", "LL", "HL", "LH", "not significant"}
    assert (table["gi_q"] >= table["gi_p"] - 1e-15).all()
    uncorrected = hotspot_table(counts, neighbours, options=HotspotOptions(fdr="none"))
    assert (uncorrected["gi_class"] != 0).sum() >= (table["gi_class"] != 0).sum()
    pd.testing.assert_frame_equal(table, hotspot_table(counts, neighbours))
    assert (table.loc[["27", "28"], "gi_category"] == "hot spot, 99% confidence").all()
    # a unit with no incident inside the hot block is hot through its neighbours alone: it says so
    counts["36"] = 0
    emptied = hotspot_table(counts, neighbours)
    assert emptied.loc["36", "gi_class"] > 0
    assert emptied.loc["36", "gi_category"].endswith("confidence (neighbours only)")
    hot_alone = (emptied["gi_class"] > 0) & (emptied["count"] == 0)
    assert (emptied["gi_category"].str.endswith("(neighbours only)") == hot_alone).all()


def _by_hand_tail(k: int, x: np.ndarray, size: int) -> float:
    """Two-sided tail of a neighbourhood sum ``k`` of ``size`` units under Gi*'s randomisation
    null, written out: the mean and variance Gi*'s z-score uses, then Poisson or negative
    binomial with those moments."""
    n = len(x)
    mean = x.mean() * size
    variance = x.var() * size * (n - size) / (n - 1)
    if variance <= mean:
        upper, lower = stats.poisson.sf(k - 1, mean), stats.poisson.cdf(k, mean)
    else:
        r, q = mean**2 / (variance - mean), mean / variance
        upper, lower = stats.nbinom.sf(k - 1, r, q), stats.nbinom.cdf(k, r, q)
    return min(1.0, 2 * min(upper, lower))


@pytest.mark.parametrize("rate", [0.4, 3.0])  # Poisson-like (variance <= mean), and overdispersed
def test_gi_exact_p_values_equal_the_count_tails_worked_by_hand(rate):
    neighbours = lattice(7, 7)
    rng = np.random.default_rng(11)
    counts = rng.poisson(rng.gamma(1.0, rate, 49)) if rate > 1 else rng.poisson(rate, 49)
    counts[[16, 17, 23, 24]] += 4  # something to find
    values = pd.Series(counts.astype(float), index=neighbours.unit_ids)
    notes: list[str] = []
    exact = gi_star_table(values, neighbours, HotspotOptions(p_values="exact"), notes=notes)
    assert notes == ["Gi* p-values: exact (as asked)"]
    normal = gi_star_table(values, neighbours, HotspotOptions(p_values="normal"))
    np.testing.assert_array_equal(exact["gi_z"], normal["gi_z"])  # only the tail changes
    np.testing.assert_allclose(normal["gi_p"], 2 * stats.norm.sf(np.abs(normal["gi_z"])))
    star = neighbours.matrix + np.eye(49)
    sizes = np.asarray(star.sum(axis=1)).ravel().astype(int)
    sums = (star @ counts).astype(int)
    x = counts.astype(float)
    by_hand = [_by_hand_tail(sums[i], x, sizes[i]) for i in range(49)]
    np.testing.assert_allclose(exact["gi_p"], by_hand, rtol=1e-10)
    np.testing.assert_allclose(exact["gi_q"], adjust_p(np.array(by_hand), "bh"), rtol=1e-10)
    # on these sparse counts the normal tail is the liberal one on the hot side
    hot = normal["gi_z"] > 2
    assert (exact.loc[hot, "gi_p"] > normal.loc[hot, "gi_p"]).all()


def test_gi_p_values_dense_counts_keep_the_normal_tail_and_rates_are_not_counts():
    neighbours = lattice(6, 6)
    rng = np.random.default_rng(5)
    dense = pd.Series(rng.poisson(200_000, 36).astype(float), index=neighbours.unit_ids)
    notes: list[str] = []
    table = gi_star_table(dense, neighbours, HotspotOptions(), notes=notes)
    assert notes == [notes[0]] and notes[0].startswith("Gi* p-values: normal (counts dense")
    np.testing.assert_allclose(table["gi_p"], 2 * stats.norm.sf(np.abs(table["gi_z"])))
    rates = dense / 7.0
    notes.clear()
    gi_star_table(rates, neighbours, HotspotOptions(), notes=notes)
    assert notes == ["Gi* p-values: normal (the values are not counts)"]
    for counts_only in ("exact", "randomisation"):
        with pytest.raises(OptionError, match="needs counts"):
            gi_star_table(rates, neighbours, HotspotOptions(p_values=counts_only))
    with pytest.raises(OptionError, match="cells"):  # dense counts: too large a table
        gi_star_table(dense, neighbours, HotspotOptions(p_values="randomisation"))


@pytest.fixture(scope="module")
def areas():
    return build_weights(load_units("community_areas").units)


def test_gi_p_values_equal_the_randomisation_null_drawn_where_the_normal_is_far_off(areas):
    """Counts like the demo's four weeks (two downtown areas at 84 and 66, one at 32, the rest
    about 6): Gi*'s null is that the values are placed at random, so the true p-value of a
    neighbourhood sum is the chance that ``W`` values drawn without replacement sum as high
    (here by 100,000 draws). The default p-value, that null's exact distribution, equals it within
    the draws' error; the count tail with the same mean and variance ("exact") is within a factor
    of 3 (either way: it approximates that null, 0.4x to 2.3x on such counts); the normal tail is
    hundreds of times too small."""
    ids = areas.unit_ids
    counts = np.random.default_rng(2).poisson(6, len(ids)).astype(float)
    counts[ids.get_indexer(["32", "8", "26"])] = [84, 66, 32]
    values = pd.Series(counts, index=ids)
    notes: list[str] = []
    ours = gi_star_table(values, areas, HotspotOptions(), notes=notes)
    assert notes[0].startswith("Gi* p-values: randomisation (counts too sparse")
    exact = gi_star_table(values, areas, HotspotOptions(p_values="exact"))
    normal = gi_star_table(values, areas, HotspotOptions(p_values="normal"))
    star = areas.matrix + np.eye(len(ids))
    rng = np.random.default_rng(3)
    keys = rng.random((100_000, len(ids)))
    for unit in ["32", "8"]:
        i = ids.get_loc(unit)
        size = int(star[i].sum())
        drawn = np.take(counts, np.argpartition(keys, size, axis=1)[:, :size]).sum(axis=1)
        true_p = min(1.0, 2 * np.mean(drawn >= (star @ counts)[i]))
        error = 2 * np.sqrt(true_p / 2 * (1 - true_p / 2) / len(keys))
        assert abs(ours.loc[unit, "gi_p"] - true_p) <= 4 * error  # the null's own distribution
        assert true_p / 3 <= exact.loc[unit, "gi_p"] <= 3 * true_p
        assert normal.loc[unit, "gi_p"] < true_p / 100


def test_gi_p_value_options_that_contradict_each_other_are_clear_errors(tmp_path):
    with pytest.raises(OptionError, match="needs at least 1"):
        HotspotOptions(p_values="permutation")
    for analytic in ("exact", "randomisation"):
        with pytest.raises(OptionError, match="uses none"):
            HotspotOptions(p_values=analytic, permutations=99)
    with pytest.raises(OptionError, match="p_values"):
        HotspotOptions(p_values="rate")  # emerging's step-to-step null: no steps here
    incidents = tmp_path / "x.csv"
    incidents.write_text("when,lon,lat\n2024-01-02 10:00,-87.63,41.88\n")
    result = CliRunner().invoke(
        main,
        ["hotspots", str(incidents), "--out", str(tmp_path / "o"), "--p-values", "normal",
         "--permutations", "99"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "uses none" in result.output and "Traceback" not in result.output


def homicides_2023_by_rate(shared_data, population, out) -> list[str]:
    """The hotspots command on the homicides of 2023, per resident of ``population``."""
    return [
        "hotspots",
        str(shared_data / "homicides_2001_2024.csv"),
        "--start",
        "2023-01-01",
        "--end",
        "2023-12-31",
        "--population",
        str(population),
        "--out",
        str(out),
    ]


def test_hotspots_command_writes_its_outputs(tmp_path, shared_data):
    out = tmp_path / "hs"
    population = shared_data / "community_areas_population_2020.csv"
    arguments = homicides_2023_by_rate(shared_data, population, out)
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "hotspots.csv",
        "hotspots.html",
        "hotspots.parquet",
        "manifest.json",
        "rejects.csv",
        "unassigned.csv",
    ]
    table = pd.read_csv(out / "hotspots.csv", dtype={"unit_id": str})
    assert table.columns.tolist() == [
        "unit_id",
        "name",
        "count",
        "rate",
        "gi_z",
        "gi_p",
        "gi_q",
        "gi_class",
        "lisa_i",
        "lisa_z",
        "lisa_p",
        "lisa_q",
        "lisa_cluster",
        "gi_category",
    ]
    assert len(table) == 77 and table["count"].sum() > 600
    hot = set(table.loc[table["gi_class"] > 0, "name"])
    assert {"West Garfield Park", "Englewood"} <= hot
    assert not ({"Loop", "Near North Side"} & hot)
    geo = gpd.read_parquet(out / "hotspots.parquet")
    assert geo.crs.to_epsg() == 3435 and len(geo) == 77
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 12345 and manifest["hotspots"]["fdr"] == "bh"
    # rates: Gi* of the Empirical Bayes standardised rates, with the normal tail; on raw rates
    # (--smoothing none) the run warns that the normal tail does not hold its rate (table 8)
    assert "Gi* p-values: normal (the values are not counts)" in manifest["notes"]
    assert RATES_CAVEAT not in manifest["notes"]
    raw = CliRunner().invoke(main, [*arguments, "--smoothing", "none", "--overwrite"])
    assert raw.exit_code == 0, raw.output
    assert RATES_CAVEAT in json.loads((out / "manifest.json").read_text())["notes"]
    assert "18-23%" in raw.output


def test_zero_population_is_a_clear_error(tmp_path, shared_data):
    population = tmp_path / "pop.csv"
    frame = pd.read_csv(shared_data / "community_areas_population_2020.csv", dtype=str)
    frame.loc[frame["community_area_id"] == "32", "population_2020"] = "0"
    frame.to_csv(population, index=False)
    result = CliRunner().invoke(
        main, homicides_2023_by_rate(shared_data, population, tmp_path / "o")
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("error: ")
    assert "32" in result.output.strip().splitlines()[-1]


def test_names_from_data_are_escaped_in_the_map(tmp_path, grid_units):
    from geo_violence.render import hotspot_map

    units = grid_units.copy()
    units["name"] = ["<img src=x onerror=alert(1)>", '"O\'Hare" & </script>', "c", "d", "e"]
    table = pd.DataFrame(
        {"count": 1, "gi_z": 0.0, "gi_q": 1.0, "gi_class": 0, "lisa_cluster": "not significant"},
        index=units.index,
    )
    page = hotspot_map(units, table, title="<b>t</b>", path=tmp_path / "m.html").read_text()
    assert "<img src=x" not in page and '</script>"' not in page and "<b>t" not in page
    # the data reach the page as JSON whose <, > and & are escaped; the page's script sets them
    # as text (the browser tests check what a reader sees)
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page
    assert '\\"O\'Hare\\" \\u0026 \\u003c/script\\u003e' in page
    assert "\\u003cb\\u003et\\u003c/b\\u003e" in page


def test_hotspots_neighbour_and_correction_options(tmp_path, shared_data):
    out = tmp_path / "hs"
    result = CliRunner().invoke(
        main,
        [
            "hotspots",
            str(shared_data / "homicides_2001_2024.csv"),
            "--start",
            "2022-01-01",
            "--end",
            "2022-12-31",
            "--units",
            "districts",
            "--units-file",
            str(shared_data / "police_districts.geojson"),
            "--neighbours",
            "knn",
            "--k",
            "4",
            "--fdr",
            "bonferroni",
            "--permutations",
            "199",
            "--lisa-permutations",
            "199",
            "--seed",
            "7",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["neighbours"]["method"] == "knn" and manifest["neighbours"]["k"] == 4
    assert manifest["hotspots"]["fdr"] == "bonferroni" and manifest["seed"] == 7
    assert any("199 permutations" in note for note in manifest["notes"])
    table = pd.read_csv(out / "hotspots.csv", dtype={"unit_id": str})
    assert len(table) == 23
    assert (table["gi_q"] == (table["gi_p"] * 23).clip(upper=1)).all()


def test_dropped_islands_stay_in_the_table_as_not_tested(grid_units):
    from geo_violence.units.neighbours import build_weights

    block = grid_units.copy()
    extra = block.iloc[[0, 1]].copy()
    extra.index = pd.Index(["6", "7"], name="unit_id")
    extra["geometry"] = extra.geometry.translate(0, 1000 * 2)  # two more squares on top
    units = pd.concat([block, extra])
    neighbours = build_weights(units, islands="drop")
    assert neighbours.islands == ["5"]
    counts = pd.Series([5, 9, 1, 2, 7, 3, 4], index=units.index)
    table = hotspot_table(counts, neighbours, options=HotspotOptions(lisa_permutations=99))
    assert table.loc["5", "lisa_cluster"] == "not tested (no neighbour)"
    assert pd.isna(table.loc["5", "gi_class"]) and np.isnan(table.loc["5", "gi_z"])
    assert table.loc["5", "count"] == 7
    # units 3 and 4 neighbour every tested unit: their Gi* is 0/0, undefined, and not a class
    assert table.loc[["1", "2", "6", "7"], "gi_z"].notna().all()
    assert table.loc[["3", "4"], "gi_z"].isna().all()
    assert (table.loc[["3", "4"], "gi_class"] == 0).all()


def test_the_map_shows_a_dropped_island_as_not_tested(tmp_path, grid_units):
    from geo_violence.render import hotspot_map

    table = pd.DataFrame(
        {
            "count": 1,
            "gi_z": 0.0,
            "gi_q": 1.0,
            "gi_class": pd.array([0, 0, 0, 0, None], "Int64"),
            "lisa_cluster": "not significant",
        },
        index=grid_units.index,
    )
    page = hotspot_map(grid_units, table, title="t", path=tmp_path / "m.html").read_text()
    assert "Not tested: no neighbour" in page
