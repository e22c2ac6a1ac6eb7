"""Gi* and local Moran's I: against esda, a hand-worked lattice, planted patterns, and the
false-positive rate on data with no pattern."""

from __future__ import annotations

import esda
import numpy as np
import pandas as pd
import pytest
from scipy import sparse, stats

from geo_violence import DataError, assign_units, build_cube, load_units, read_incidents
from geo_violence.stats import adjust_p, gi_classes, local_gi_star, local_moran
from geo_violence.units.neighbours import Neighbours, build_weights


def lattice(rows: int, cols: int, rook: bool = False) -> Neighbours:
    """Contiguity on a rows x cols lattice (queen by default), ids '0'.. row by row."""
    n = rows * cols
    dense = np.zeros((n, n))
    for r in range(rows):
        for c in range(cols):
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    if (dr, dc) == (0, 0) or (rook and dr and dc):
                        continue
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < rows and 0 <= cc < cols:
                        dense[r * cols + c, rr * cols + cc] = 1
    return Neighbours(sparse.csr_array(dense), pd.Index([str(i) for i in range(n)]), "queen")


def test_gi_star_on_a_3x3_lattice_matches_the_closed_form_by_hand():
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9])
    result = local_gi_star(pd.Series(x, index=[str(i) for i in range(9)]), lattice(3, 3))
    n, mean = 9, 5.0
    s = np.sqrt(((x - mean) ** 2).mean())  # population sd: sqrt(60/9)
    # corner 0: itself, 1, 3 and 4 -> sum 12, W = 4
    corner = (12 - mean * 4) / (s * np.sqrt((n * 4 - 16) / (n - 1)))
    # edge 1: itself, 0, 2, 3, 4, 5 -> sum 21, W = 6
    edge = (21 - mean * 6) / (s * np.sqrt((n * 6 - 36) / (n - 1)))
    assert s == pytest.approx(np.sqrt(60 / 9))
    assert result.loc["0", "gi_z"] == pytest.approx(corner, abs=1e-12)
    assert result.loc["0", "gi_z"] == pytest.approx(-8 / (np.sqrt(60 / 9) * np.sqrt(20 / 8)))
    assert result.loc["1", "gi_z"] == pytest.approx(edge, abs=1e-12)
    assert np.isnan(result.loc["4", "gi_z"])  # the centre's neighbourhood is every unit
    assert result.loc["8", "gi_z"] == pytest.approx(-result.loc["0", "gi_z"])
    p = result["gi_p"].to_numpy()
    assert p[0] == pytest.approx(2 * stats.norm.sf(abs(corner)))


@pytest.fixture(scope="module")
def real_cases(shared_data):
    """(values, neighbours) for the beats (assaults of 2019) and community areas (homicides
    of 2023)."""
    assaults = read_incidents(
        shared_data / "aggravated_assaults_2010_2019.csv.gz",
        time_col="date",
        x_col="longitude",
        y_col="latitude",
        crs="EPSG:4326",
    )
    homicides = read_incidents(shared_data / "homicides_2001_2024.csv")
    cases = {}
    for key, read, layer, start, end in (
        (
            "beats",
            assaults,
            load_units("beats", units_file=shared_data / "police_beats.geojson"),
            "2019-01-01",
            "2019-12-31",
        ),
        ("community_areas", homicides, load_units("community_areas"), "2023-01-01", "2023-12-31"),
    ):
        assigned = assign_units(read.incidents, layer.units).incidents
        cube = build_cube(assigned, layer.units, step="day", start=start, end=end)
        values = pd.Series(cube.counts.sum(axis=1).astype(float), index=cube.unit_ids)
        cases[key] = (values, build_weights(layer.units))
    return cases


@pytest.mark.parametrize("case", ["beats", "community_areas"])
def test_gi_star_equals_esda_on_real_data(real_cases, case):
    values, neighbours = real_cases[case]
    ours = local_gi_star(values, neighbours)
    reference = esda.G_Local(
        values.to_numpy(), neighbours.to_w("B"), transform="B", star=True, permutations=0
    )
    np.testing.assert_allclose(ours["gi_z"], reference.Zs, rtol=0, atol=1e-10)
    # esda's p_norm is one-sided: ours is two-sided
    np.testing.assert_allclose(ours["gi_p"], 2 * stats.norm.sf(np.abs(reference.Zs)), atol=1e-12)


@pytest.mark.parametrize("case", ["beats", "community_areas"])
def test_local_moran_equals_esda_on_real_data(real_cases, case):
    values, neighbours = real_cases[case]
    ours = local_moran(values, neighbours, permutations=999, seed=11)
    reference = esda.Moran_Local(
        values.to_numpy(), neighbours.to_w("R"), transformation="r", permutations=0
    )
    np.testing.assert_allclose(ours["lisa_i"], reference.Is, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(ours["lisa_quadrant"], reference.q)
    # permutation p-values: the same distribution (not the same draws) as a plain reference of
    # esda's conditional permutations, folded as esda folds them (esda's own permutations
    # compile numba kernels for a minute or more in every test worker)
    x = values.to_numpy(dtype=float)
    z = (x - x.mean()) / x.std()
    n = len(z)
    matrix = neighbours.matrix.toarray() > 0
    rng = np.random.default_rng(12)
    reference_p = np.empty(n)
    for i in range(n):
        others = np.delete(z, i)
        k = int(matrix[i].sum())
        order = rng.random((999, n - 1)).argsort(axis=1)[:, :k]
        simulated = (n - 1) / n * z[i] * others[order].mean(axis=1)
        observed = (n - 1) / n * z[i] * z[matrix[i]].mean()
        larger = int((simulated >= observed).sum())
        larger = min(larger, 999 - larger)
        reference_p[i] = min(1.0, 2 * (larger + 1) / 1000)
    assert stats.ks_2samp(ours["lisa_p"], reference_p).pvalue > 0.01
    close = np.abs(ours["lisa_p"].to_numpy() - reference_p) < 0.1
    assert close.mean() > 0.9
    rerun = local_moran(values, neighbours, permutations=999, seed=11)
    pd.testing.assert_frame_equal(ours, rerun)


def folded_permutation_p(values: np.ndarray, adjacency, permutations: int, seed: int):
    """A plain reference for Gi*'s conditional permutations, written like esda's rule: keep a
    unit's own value, draw its neighbours' count from the others without replacement, and fold
    the share of random neighbourhood sums at or beyond the observed one (Gi*'s z is an
    increasing function of that sum for a given unit). Twice the folded p, at most 1."""
    rng = np.random.default_rng(seed)
    matrix = adjacency.toarray() > 0
    n = len(values)
    result = np.empty(n)
    for i in range(n):
        others = np.delete(values, i)
        k = int(matrix[i].sum())
        order = rng.random((permutations, n - 1)).argsort(axis=1)[:, :k]
        simulated = values[i] + others[order].sum(axis=1)
        observed = values[i] + values[matrix[i]].sum()
        larger = int((simulated >= observed).sum())
        larger = min(larger, permutations - larger)
        result[i] = min(1.0, 2 * (larger + 1) / (permutations + 1))
    return result


@pytest.mark.parametrize("case", ["beats", "community_areas"])
def test_gi_star_permutation_p_values_agree_with_a_plain_reference(real_cases, case):
    """esda's G_Local draws the same null (checked here before, at one numba compilation of a
    minute a test worker); this reference in plain numpy follows its folding rule."""
    values, neighbours = real_cases[case]
    ours = local_gi_star(values, neighbours, permutations=999, seed=3)
    reference = folded_permutation_p(values.to_numpy(), neighbours.matrix, 999, seed=4)
    assert stats.ks_2samp(ours["gi_p"], reference).pvalue > 0.01
    assert (np.abs(ours["gi_p"].to_numpy() - reference) < 0.1).mean() > 0.9
    rerun = local_gi_star(values, neighbours, permutations=999, seed=3)
    pd.testing.assert_frame_equal(ours, rerun)


def test_a_planted_cluster_is_found_hot_with_the_right_units():
    neighbours = lattice(10, 10)
    rng = np.random.default_rng(5)
    x = rng.poisson(5, 100).astype(float)
    planted = ["44", "45", "54", "55"]
    x[[int(u) for u in planted]] = 30
    values = pd.Series(x, index=neighbours.unit_ids)
    gi = local_gi_star(values, neighbours)
    hot = gi_classes(gi["gi_z"], adjust_p(gi["gi_p"].to_numpy(), "bh"))
    hot_units = set(neighbours.unit_ids[hot > 0])
    assert set(planted) <= hot_units
    assert hot_units <= {
        "33",
        "34",
        "35",
        "36",
        "43",
        "46",
        "53",
        "56",
        "63",
        "64",
        "65",
        "66",
        *planted,
    }
    # 9999 permutations: with 999 the smallest two-sided p (0.002) times 100 units over 4
    # discoveries is exactly 0.05, the resolution limit that resolution_note() warns about
    lisa = local_moran(values, neighbours, permutations=9999, seed=2)
    q = adjust_p(lisa["lisa_p"].to_numpy(), "bh")
    assert all(lisa.loc[u, "lisa_quadrant"] == 1 and q[int(u)] < 0.05 for u in planted)


def test_false_positive_rates_on_data_with_no_pattern():
    """200 seeded simulations of independent Poisson counts on a 15x15 lattice."""
    neighbours = lattice(15, 15)
    rng = np.random.default_rng(2024)
    any_after_fdr, per_unit = [], []
    for _ in range(200):
        values = pd.Series(rng.poisson(20, 225).astype(float), index=neighbours.unit_ids)
        p = local_gi_star(values, neighbours)["gi_p"].to_numpy()
        any_after_fdr.append((adjust_p(p, "bh") < 0.05).any())
        per_unit.append((p < 0.05).mean())
    family_rate = np.mean(any_after_fdr)
    unit_rate = np.mean(per_unit)
    print(f"Gi*: {family_rate:.1%} of runs with any unit after BH, {unit_rate:.2%} per unit")
    # BH controls the chance of any false discovery at alpha when nothing is there
    assert family_rate <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 200)
    assert 0.03 < unit_rate < 0.07


def test_bad_values_have_their_own_messages():
    neighbours = lattice(3, 3)
    ids = neighbours.unit_ids
    with pytest.raises(DataError, match="same value"):
        local_gi_star(pd.Series(4.0, index=ids), neighbours)
    with pytest.raises(DataError, match="undefined"):
        local_moran(pd.Series([1.0, np.nan, *range(7)], index=ids), neighbours)
    two = Neighbours(
        sparse.csr_array(np.array([[0, 1], [1, 0]], dtype=float)), pd.Index(["a", "b"]), "rook"
    )
    with pytest.raises(DataError, match="at least 3 units"):
        local_gi_star(pd.Series([1.0, 2.0], index=["a", "b"]), two)


def test_lisa_false_positive_rate_is_near_alpha_not_twice_it():
    neighbours = lattice(15, 15)
    rng = np.random.default_rng(7)
    per_unit, any_after_fdr = [], []
    for run in range(60):
        values = pd.Series(rng.poisson(20, 225).astype(float), index=neighbours.unit_ids)
        p = local_moran(values, neighbours, permutations=199, seed=run)["lisa_p"].to_numpy()
        per_unit.append((p < 0.05).mean())
        any_after_fdr.append((adjust_p(p, "bh") < 0.05).any())
    print(
        f"LISA: {np.mean(any_after_fdr):.1%} of runs with any unit after BH, "
        f"{np.mean(per_unit):.2%} per unit"
    )
    assert 0.03 < np.mean(per_unit) < 0.07
    assert np.mean(any_after_fdr) <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 60)
