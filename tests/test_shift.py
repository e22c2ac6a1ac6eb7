"""Period comparison: exact rate-ratio test and interval, share test, FDR, labels, clusters, the
compare job on incidents and on aggregated counts, bad input, and the real homicides."""

from __future__ import annotations

import warnings

import esda
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats
from test_local_stats import lattice

from geo_violence.cli import main
from geo_violence.errors import DataError, MissingColumnError, OptionError
from geo_violence.jobs import CountsSource, CubeOptions, run_compare
from geo_violence.stats.shift import (
    ShiftOptions,
    compare_periods,
    rate_ratio_test,
    share_test,
)

# (before, after, years before, years after): small counts, zeros, unequal periods
HAND_MADE = [
    (10, 22, 5.0, 4.0),
    (0, 4, 5.0, 4.0),
    (5, 0, 1.0, 1.0),
    (1, 1, 2.0, 3.0),
    (3, 17, 1.0, 1.0),
    (130, 101, 5.0, 4.0),
    (0, 1, 1.0, 1.0),
]


@pytest.mark.parametrize(("before", "after", "years_before", "years_after"), HAND_MADE)
def test_rate_ratio_interval_and_test_match_scipy_binomtest(
    before, after, years_before, years_after
):
    result = rate_ratio_test(np.array([before]), np.array([after]), years_before, years_after).iloc[
        0
    ]
    n = before + after
    null = years_after / (years_after + years_before)
    reference = stats.binomtest(after, n, null)
    assert result["p_value"] == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-12)
    interval = reference.proportion_ci(confidence_level=0.95, method="exact")

    def to_ratio(pi: float) -> float:
        return np.inf if pi == 1 else pi / (1 - pi) * years_before / years_after

    assert result["rate_ratio_low"] == pytest.approx(to_ratio(interval.low), rel=1e-9)
    assert result["rate_ratio_high"] == pytest.approx(to_ratio(interval.high), rel=1e-9)
    expected_ratio = np.inf if before == 0 else (after / years_after) / (before / years_before)
    assert result["rate_ratio"] == pytest.approx(expected_ratio)


def test_rate_ratio_interval_closed_forms_at_the_edges():
    # all n events after: the lower bound of pi is (alpha/2)^(1/n); none after: the upper bound
    # is 1 - (alpha/2)^(1/n)
    n = 7
    result = rate_ratio_test(np.array([0, n]), np.array([n, 0]), 2.0, 1.0)
    pi_low = 0.025 ** (1 / n)
    assert result.loc[0, "rate_ratio_low"] == pytest.approx(pi_low / (1 - pi_low) * 2.0)
    assert np.isinf(result.loc[0, "rate_ratio_high"])
    pi_high = 1 - 0.025 ** (1 / n)
    assert result.loc[1, "rate_ratio_high"] == pytest.approx(pi_high / (1 - pi_high) * 2.0)
    assert result.loc[1, "rate_ratio_low"] == 0


def test_no_event_in_either_period_is_stable_without_a_division_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = rate_ratio_test(np.array([0, 3]), np.array([0, 4]), 1.0, 1.0)
    assert np.isnan(result.loc[0, "rate_ratio"]) and result.loc[0, "p_value"] == 1
    neighbours = lattice(3, 3)
    ids = neighbours.unit_ids
    before = pd.Series([0, 5, 6, 4, 5, 6, 5, 4, 6], index=ids)
    after = pd.Series([0, 5, 5, 4, 6, 6, 5, 5, 6], index=ids)
    table = compare_periods(before, after, neighbours)
    assert table.loc["0", "label"] == "stable" and table.loc["0", "direction"] == "stable"
    assert table.loc["0", "rate_before"] == 0 and table.loc["0", "share_p"] == 1


def test_share_test_matches_fisher_exact_on_random_tables():
    rng = np.random.default_rng(4)
    before = rng.poisson(rng.uniform(0.5, 40, 60))
    after = rng.poisson(rng.uniform(0.5, 40, 60))
    result = share_test(before, after)
    total_before, total_after = before.sum(), after.sum()
    for unit in range(60):
        table = [
            [before[unit], after[unit]],
            [total_before - before[unit], total_after - after[unit]],
        ]
        expected = stats.fisher_exact(table).pvalue
        assert result.loc[unit, "share_p"] == pytest.approx(expected, rel=1e-7, abs=1e-12)
    assert result["share_before"].sum() == pytest.approx(1)


def test_q_values_are_scipys_false_discovery_control():
    rng = np.random.default_rng(5)
    neighbours = lattice(6, 6)
    before = pd.Series(rng.poisson(10, 36), index=neighbours.unit_ids)
    after = pd.Series(rng.poisson(np.r_[np.full(6, 25), np.full(30, 10)]), index=before.index)
    table = compare_periods(before, after, neighbours)
    expected = stats.false_discovery_control(table["p_value"].to_numpy(), method="bh")
    np.testing.assert_allclose(table["q_value"], expected, rtol=1e-12)
    np.testing.assert_allclose(
        table["share_q"], stats.false_discovery_control(table["share_p"].to_numpy()), rtol=1e-12
    )


def planted(seed: int, rows: int = 8, cols: int = 8):
    """A hot block that fades, a quiet block that rises, the rest unchanged (Poisson)."""
    rng = np.random.default_rng(seed)
    neighbours = lattice(rows, cols)
    rate_before = np.full(rows * cols, 8.0)
    rate_after = np.full(rows * cols, 8.0)
    hot = [r * cols + c for r in range(3) for c in range(3)]  # top-left 3x3, hot then fading
    rising = [r * cols + c for r in range(5, 8) for c in range(5, 8)]  # bottom-right 3x3
    rate_before[hot], rate_after[hot] = 40.0, 12.0
    rate_after[rising] = 40.0
    ids = neighbours.unit_ids
    before = pd.Series(rng.poisson(rate_before), index=ids)
    after = pd.Series(rng.poisson(rate_after), index=ids)
    return neighbours, before, after, ids[hot], ids[rising]


def test_planted_rise_and_fade_get_their_labels_and_the_rise_clusters():
    neighbours, before, after, hot, rising = planted(seed=1)
    table = compare_periods(before, after, neighbours, years_before=1, years_after=1)
    assert (table.loc[rising, "label"] == "emerging").all()
    # the centre of the faded block was certainly a Gi* hot spot; its edges may be
    assert table.loc["9", "label"] == "fading"
    assert table.loc[hot, "label"].isin(["fading", "cooling"]).all()
    assert (table.loc[hot, "direction"] == "falling").all()
    # differential local Moran: the rising block is a high-high cluster of change, the fading one
    # a low-low cluster
    assert table.loc["54", "change_cluster"] == "HH"
    assert table.loc["9", "change_cluster"] == "LL"
    others = table.index.difference(hot.union(rising))
    assert (table.loc[others, "label"] == "stable").mean() > 0.9


def test_differential_moran_is_esdas_local_moran_of_the_change():
    neighbours, before, after, _, _ = planted(seed=2)
    table = compare_periods(
        before,
        after,
        neighbours,
        years_before=1,
        years_after=1,
        options=ShiftOptions(lisa_permutations=99),
    )
    change = (after - before).astype(float).to_numpy()
    reference = esda.Moran_Local(change, neighbours.to_w("R"), permutations=0)
    np.testing.assert_allclose(table["change_lisa_i"], reference.Is, rtol=1e-10)


def test_no_change_gives_few_labels_near_the_stated_level():
    # 300 cities of 64 units with the same rate in both periods
    rng = np.random.default_rng(6)
    neighbours = lattice(8, 8)
    flagged_cities, raw_rejections = 0, []
    for _ in range(300):
        before = pd.Series(rng.poisson(10, 64), index=neighbours.unit_ids)
        after = pd.Series(rng.poisson(10, 64), index=neighbours.unit_ids)
        table = compare_periods(
            before, after, neighbours, options=ShiftOptions(lisa_permutations=9)
        )
        flagged_cities += bool((table["direction"] != "stable").any())
        raw_rejections.append((table["p_value"] <= 0.05).mean())
    # BH at 0.10 controls the chance that a city with no change shows any change at 10%; the
    # exact test is conservative, so each unit's p <= 0.05 at most about 5% of the time
    assert flagged_cities / 300 <= 0.13
    assert 0.02 <= np.mean(raw_rejections) <= 0.055


def test_bad_counts_are_refused_by_name():
    neighbours = lattice(2, 2)
    ids = neighbours.unit_ids
    with pytest.raises(DataError, match="units 1"):
        compare_periods(
            pd.Series([1, -2, 3, 4], index=ids), pd.Series([1, 2, 3, 4], index=ids), neighbours
        )


# --- the job and the command -------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    from geo_violence.jobs.demo_data import make_demo_incidents

    path = tmp_path_factory.mktemp("demo") / "demo.csv"
    make_demo_incidents(seed=2).to_csv(path, index=False)
    return path


def test_compare_command_writes_every_output(demo_file, tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "compare",
            str(demo_file),
            "--before",
            "2024-01-01..2024-12-29",
            "--after",
            "2024-12-30..2025-12-28",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert names == [
        "manifest.json",
        "rejects.csv",
        "shift.csv",
        "shift.html",
        "shift.parquet",
        "shift.png",
        "unassigned.csv",
    ]
    table = pd.read_csv(tmp_path / "out" / "shift.csv", dtype={"unit_id": str})
    assert table.columns[:2].tolist() == ["unit_id", "name"]
    for column in (
        "count_before",
        "count_after",
        "rate_before",
        "rate_after",
        "rate_ratio",
        "rate_ratio_low",
        "rate_ratio_high",
        "p_value",
        "q_value",
        "share_before",
        "share_after",
        "share_p",
        "direction",
        "label",
    ):
        assert column in table.columns
    by_id = table.set_index("unit_id")["label"]
    assert by_id["32"] == "emerging" and by_id["8"] == "emerging"
    assert (by_id[["25", "26", "27", "23", "29"]] == "fading").all()
    page = (tmp_path / "out" / "shift.html").read_text()
    assert "Emerging: the rate rose" in page
    assert "<script src=" not in page and '<link rel="stylesheet" href=' not in page
    assert (tmp_path / "out" / "shift.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--before", "2024-06-01..2024-12-31", "--after", "2024-12-01..2025-06-30"], "overlap"),
        (["--before", "2024-06-01..2024-01-31", "--after", "2025-01-01..2025-06-30"], "empty"),
        (
            ["--before", "2023-01-01..2023-12-31", "--after", "2025-01-01..2025-06-30"],
            "not inside the data's dates",
        ),
        (["--before", "2024-01-01", "--after", "2025-01-01..2025-06-30"], "START..END"),
        (["--after", "2025-01-01..2025-06-30"], "--before is missing"),
        (
            [
                "--before-col",
                "x",
                "--before",
                "2024-01-01..2024-02-01",
                "--after",
                "2025-01-01..2025-02-01",
            ],
            "go with --counts",
        ),
    ],
)
def test_bad_periods_get_one_line_errors(demo_file, tmp_path, arguments, message):
    result = CliRunner().invoke(
        main, ["compare", str(demo_file), *arguments, "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_neither_or_both_sources_are_refused(demo_file, tmp_path):
    with pytest.raises(OptionError, match="not both or neither"):
        run_compare(None, tmp_path, before="2024-01-01..2024-02-01", after="2025-01-01..2025-02-01")
    with pytest.raises(OptionError, match="not both or neither"):
        run_compare(
            demo_file,
            tmp_path,
            counts=CountsSource("x.csv", "a", "b"),
            before="2024-01-01..2024-02-01",
            after="2025-01-01..2025-02-01",
        )


def test_aggregated_counts_work_and_mismatches_are_named(tmp_path):
    from geo_violence import load_units

    ids = load_units("community_areas").units.index
    table = pd.DataFrame({"area": ids, "y1": 5, "y2": 5})
    table.loc[table["area"] == "32", "y2"] = 40
    table.to_csv(tmp_path / "c.csv", index=False)
    run = run_compare(
        None, tmp_path / "out", counts=CountsSource(str(tmp_path / "c.csv"), "y1", "y2")
    )
    assert run.table.loc["32", "label"] == "emerging"
    assert run.rate_label == "per period"
    assert any("equally long" in note for note in run.notes)
    table.iloc[:-3].to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataError, match="missing from it: 75, 76, 77"):
        run_compare(
            None, tmp_path / "o2", counts=CountsSource(str(tmp_path / "short.csv"), "y1", "y2")
        )
    with pytest.raises(MissingColumnError, match="'area', 'y1', 'y2'"):
        run_compare(None, tmp_path / "o3", counts=CountsSource(str(tmp_path / "c.csv"), "y1", "y9"))
    repeated = pd.concat([table, table.iloc[[0]].assign(y1=99)])
    repeated.to_csv(tmp_path / "rep.csv", index=False)
    with pytest.raises(DataError, match="different counts"):
        run_compare(
            None, tmp_path / "o4", counts=CountsSource(str(tmp_path / "rep.csv"), "y1", "y2")
        )


def test_population_with_missing_and_zero_units_names_them_and_keeps_the_test(demo_file, tmp_path):
    from geo_violence import load_units

    ids = load_units("community_areas").units.index
    population = pd.DataFrame({"community_area_id": ids, "population_2020": 50_000})
    population.loc[population["community_area_id"] == "5", "population_2020"] = 0
    population = population[population["community_area_id"] != "6"]
    population.to_csv(tmp_path / "pop.csv", index=False)
    run = run_compare(
        demo_file,
        tmp_path / "out",
        before="2024-01-01..2024-12-29",
        after="2024-12-30..2025-12-28",
        cube_options=CubeOptions(population=str(tmp_path / "pop.csv")),
    )
    assert any("5, 6" in note for note in run.notes)
    assert run.table.loc[["5", "6"], "rate_before"].isna().all()
    assert run.table.loc[["5", "6"], "p_value"].notna().all()
    assert run.rate_label == "per 100,000 residents per year"
    assert run.table.loc["32", "rate_before"] == pytest.approx(
        run.table.loc["32", "count_before"] / (364 / 365.2425) / 50_000 * 100_000
    )


# --- real data ---------------------------------------------------------------------------------


def test_homicides_2015_19_against_2020_23_show_the_shift(shared_data, tmp_path):
    run = run_compare(
        shared_data / "homicides_2001_2024.csv",
        tmp_path,
        before="2015-01-01..2019-12-31",
        after="2020-01-01..2023-12-31",
        cube_options=CubeOptions(
            population=str(shared_data / "community_areas_population_2020.csv")
        ),
    )
    table = run.table
    loop, near_north, austin, englewood = "32", "8", "25", "68"
    for unit in (loop, near_north):
        # the README's yearly means: Loop 2.0 -> 5.5, Near North Side 4.2 -> 9.3
        assert 2.0 <= table.loc[unit, "rate_ratio"] <= 3.0
        assert table.loc[unit, "rate_ratio_low"] > 1
        assert table.loc[unit, "p_value"] < 0.01
        assert table.loc[unit, "direction"] == "rising"
        assert table.loc[unit, "label"] == "emerging"  # neither was a hot spot before
        assert table.loc[unit, "share_after"] > 1.5 * table.loc[unit, "share_before"]
    assert table.loc[loop, "count_before"] / 5 == pytest.approx(2.0, abs=0.05)
    assert table.loc[loop, "count_after"] / 4 == pytest.approx(5.5, abs=0.05)
    for unit in (austin, englewood):
        assert table.loc[unit, "share_after"] < table.loc[unit, "share_before"]
        assert table.loc[unit, "share_p"] < 0.05
        assert table.loc[unit, "rate_ratio"] < 1


def test_beats_2024_against_2025_from_the_aggregated_file(shared_data, tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "compare",
            "--counts",
            str(shared_data / "beats_violence_ytd_2024_2025.geojson"),
            "--before-col",
            "VIOLENT_CRIMES_YTD_2024",
            "--after-col",
            "VIOLENT_CRIMES_YTD_2025",
            "--before",
            "2024-01-01..2024-09-30",
            "--after",
            "2025-01-01..2025-09-30",
            "--units",
            "beats",
            "--units-file",
            str(shared_data / "police_beats.geojson"),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "shift.csv", dtype={"unit_id": str}).set_index("unit_id")
    assert len(table) == 275
    assert table["count_before"].sum() == 58_481 and table["count_after"].sum() == 52_070
    assert (table["label"] == "cooling").sum() > (table["label"] == "emerging").sum()
