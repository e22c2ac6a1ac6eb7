"""The size budget of a map a newsroom embeds: under 2 MB for the emerging map of the 275 police
beats over 523 weeks, and for the ~6,000 H3 cells of resolution 9 over the city (it was 8.9 MB).
The inputs are synthetic (the real beats' outlines when the shared data are there); the real
homicides on H3 cells are checked too when present."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo_violence import load_units
from geo_violence.jobs import CubeOptions, UnitOptions, run_emerging
from geo_violence.render import MapSeries, emerging_map

BUDGET = 2 * 2**20


def synthetic_emerging(units, n_steps: int, rate: float, seed: int = 0):
    """An emerging table, weekly counts and Gi* bins of the shape the job writes, random."""
    rng = np.random.default_rng(seed)
    n = len(units)
    counts = rng.poisson(rate, size=(n, n_steps))
    bins = np.zeros((n, n_steps))
    hot = rng.random(n) < 0.1
    bins[hot] = rng.choice([0, 1, 2, 3], size=(hot.sum(), n_steps), p=[0.4, 0.2, 0.2, 0.2])
    codes = np.where(hot, rng.choice([1, 2, 4, 5, 6, 8], size=n), 0)
    names = {
        0: "no pattern",
        1: "new hot spot",
        2: "consecutive hot spot",
        4: "persistent hot spot",
    }
    names |= {5: "diminishing hot spot", 6: "sporadic hot spot", 8: "historical hot spot"}
    table = pd.DataFrame(
        {
            "category_code": codes,
            "category": [names[code] for code in codes],
            "total": counts.sum(axis=1),
            "last_count": counts[:, -1],
            "last_z": rng.normal(size=n),
            "last_p": rng.random(n),
            "mk_tau": rng.uniform(-0.5, 0.5, n),
            "mk_p": rng.random(n),
            "sen_slope": rng.normal(0, 0.01, n),
            "hot_fraction": (bins > 0).mean(axis=1),
            "recent_hot_share": rng.random(n),
            "last_hot_run": rng.integers(0, 10, n),
            "recent_rate_ratio": rng.lognormal(0, 0.5, n),
            "recent_rate_ratio_low": rng.lognormal(-1, 0.3, n),
            "recent_rate_ratio_high": rng.lognormal(1, 0.3, n),
        },
        index=units.index,
    )
    dates = [f"{day:%Y-%m-%d}" for day in pd.date_range("2010-01-04", periods=n_steps, freq="7D")]
    return table, MapSeries(dates=dates, counts=counts, bins=bins, step_name="week")


def test_the_map_of_275_beats_over_523_weeks_is_under_2_mb(tmp_path, shared_data):
    units = load_units("beats", units_file=shared_data / "police_beats.geojson").units
    assert len(units) == 275
    table, series = synthetic_emerging(units, 523, rate=2.0)
    path = emerging_map(units, table, title="Beats", series=series, path=tmp_path / "m.html")
    assert path.stat().st_size < BUDGET


def test_the_map_of_6000_h3_cells_is_under_2_mb(tmp_path):
    pytest.importorskip("h3", reason="the h3 package makes the cells")
    units = load_units("h3:9").units
    assert len(units) > 6000
    table, series = synthetic_emerging(units, 260, rate=0.02)
    path = emerging_map(units, table, title="H3", series=series, path=tmp_path / "m.html")
    assert path.stat().st_size < BUDGET


def test_the_readme_h3_map_of_the_homicides_is_under_2_mb(tmp_path, shared_data):
    pytest.importorskip("h3", reason="the h3 package makes the cells")
    run_emerging(
        shared_data / "homicides_2001_2024.csv",
        tmp_path,
        unit_options=UnitOptions(units="h3:9"),
        cube_options=CubeOptions(start="2019-01-07", end="2023-12-31"),
    )
    assert (tmp_path / "emerging.html").stat().st_size < BUDGET
