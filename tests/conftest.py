"""Shared fixtures: the real Chicago files (skipped with a reason when absent) and small layers."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
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


@pytest.fixture(scope="session")
def build_once(tmp_path_factory) -> Callable[[str, Callable[[Path], object]], Path]:
    """``build_once(name, build)``: a folder built by ``build(folder)`` once per test run and
    shared by every xdist worker (each worker would otherwise build its own copy of a costly
    module fixture: a demo site, a published week). The first worker to ask builds it under a
    file lock; the others wait and reuse it. Use it only for folders the tests read or copy."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own

    def build_or_reuse(name: str, build: Callable[[Path], object]) -> Path:
        folder = root / f"shared-{name}"
        with open(root / f"shared-{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not (root / f"shared-{name}.done").exists():
                shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way
                folder.mkdir()
                build(folder)
                (root / f"shared-{name}.done").touch()
        return folder

    return build_or_reuse


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by playwright, one per test module (see ``browsing.py``)."""
    from browsing import CHROMIUM

    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is a test extra: pip install -e '.[test]'"
    )
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


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
