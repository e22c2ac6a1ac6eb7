"""Shared fixtures: the real Chicago files (skipped with a reason when absent) and small layers."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

SHARED_DATA = Path(
    os.environ.get(
        "GEO_VIOLENCE_SHARED_DATA",
        Path(__file__).resolve().parents[2] / "shared" / "data" / "chicago",
    )
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real Chicago files; tests that need it skip, saying why, when it is absent."""
    if not (SHARED_DATA / "homicides_2001_2024.csv").exists():
        pytest.skip(
            f"the shared Chicago data are not at {SHARED_DATA} (set GEO_VIOLENCE_SHARED_DATA)"
        )
    return SHARED_DATA


@pytest.fixture
def grid_units() -> gpd.GeoDataFrame:
    """Four 1000-ft squares in a 2x2 block (ids 1..4, row by row from the south-west), in the
    working CRS, around a point inside Chicago; unit 5 is a square with a hole, to the east."""
    x0, y0 = 1_170_000.0, 1_900_000.0
    squares = [
        shapely.box(x0, y0, x0 + 1000, y0 + 1000),
        shapely.box(x0 + 1000, y0, x0 + 2000, y0 + 1000),
        shapely.box(x0, y0 + 1000, x0 + 1000, y0 + 2000),
        shapely.box(x0 + 1000, y0 + 1000, x0 + 2000, y0 + 2000),
        shapely.box(x0 + 3000, y0, x0 + 4000, y0 + 1000).difference(
            shapely.box(x0 + 3400, y0 + 400, x0 + 3600, y0 + 600)
        ),
    ]
    return gpd.GeoDataFrame(
        {"name": [f"Square {i}" for i in range(1, 6)]},
        geometry=squares,
        index=pd.Index(["1", "2", "3", "4", "5"], name="unit_id"),
        crs="EPSG:3435",
    )


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    """Write a small CSV from a header line and row lines."""
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path
