"""Benchmark the heaviest map: the emerging map of the 275 beats with 521 weeks of bins.

Writes it from the 2010-2019 aggravated assaults (``../shared/data/chicago``), prints its size
against the same data in the plain encoding the pages used before (GeoJSON outlines, each unit's
labelled popup rows, the counts as JSON lists), and how long Debian's chromium (headless, through
playwright, every request but the file blocked) takes to open it and draw every beat, best of a
few loads. Run: ``python bench/bench_maps.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from common import DATA, assaults_by_beat

from geo_violence import load_units
from geo_violence.columns import MAP_CRS
from geo_violence.jobs import Job, StageOptions
from geo_violence.jobs.emerging import EMERGING_FILES, EMERGING_MAP, emerging_of, write_emerging
from geo_violence.render.page import DEGREE_PRECISION, SIMPLIFY_FEET, _text
from geo_violence.stats.emerging import EmergingOptions

CHROMIUM = "/usr/bin/chromium"
LOADS = 5


def open_time(browser, url: str, n_units: int) -> float:
    """Seconds from navigation to every unit drawn, best of ``LOADS``."""
    best = float("inf")
    for _ in range(LOADS):
        context = browser.new_context(viewport={"width": 1000, "height": 800})
        context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith("file:") else route.abort()
            ),
        )
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function(
            f"document.querySelectorAll('path.leaflet-interactive').length >= {n_units}"
        )
        best = min(best, time.perf_counter() - start)
        context.close()
    return best


def plain_bytes(units, table, bins: np.ndarray, counts: np.ndarray) -> int:
    """The bytes of the same map's data in the plain encoding: the baseline."""
    shapes = units.geometry.simplify(SIMPLIFY_FEET, preserve_topology=True).to_crs(MAP_CRS)
    geometry = shapely.set_precision(shapes.to_numpy(), DEGREE_PRECISION)
    features = gpd.GeoDataFrame({"i": np.arange(len(units))}, geometry=geometry, crs=MAP_CRS)
    rows = [
        {"name": str(name), "popup": [[str(c), _text(v)] for c, v in row.items()]}
        for name, (_, row) in zip(units["name"], table.iterrows(), strict=True)
    ]
    codes = np.where(np.isnan(bins), ord("x"), np.nan_to_num(bins) + 3 + ord("0"))
    payload = {
        "features": json.loads(features.to_json(drop_id=True)),
        "units": rows,
        "counts": counts.astype(int).tolist(),
        "bins": ["".join(map(chr, row)) for row in codes.astype(np.int64)],
    }
    return len(json.dumps(payload, separators=(",", ":")).encode("utf-8"))


def main() -> int:
    if not (DATA / "police_beats.geojson").exists():
        print(f"the shared Chicago data are not at {DATA}")
        return 1
    from playwright.sync_api import sync_playwright

    cube, _ = assaults_by_beat()
    layer = load_units("beats", units_file=DATA / "police_beats.geojson")
    job = Job(
        "bench",
        Path(tempfile.mkdtemp()),
        StageOptions(),
        files=EMERGING_FILES,
        maps=[EMERGING_MAP],
        row_reports=False,
    )
    options = EmergingOptions()
    _, result, table, bins = emerging_of(job, layer.units, cube, options=options)
    started = time.perf_counter()
    write_emerging(
        job,
        layer.units,
        table,
        bins,
        cube=cube,
        result=result,
        title="Emerging hot spots (Police beats)",
        subtitle="bench",
        source="assaults",
        options=options,
    )
    written = time.perf_counter() - started
    page = job.folder / EMERGING_MAP
    size = page.stat().st_size
    tested = np.where(np.isnan(result.z), np.nan, result.bins)
    baseline = plain_bytes(layer.units, table, tested, cube.counts)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        seconds = open_time(browser, page.as_uri(), cube.n_units)
        browser.close()
    print(f"emerging map, {cube.n_units} beats x {cube.n_steps} weeks of bins")
    print(f"  written in {written:.2f} s (with the tables)")
    print(f"  size {size / 2**20:.2f} MB (goal < 2 MB)")
    print(
        f"  the data alone in the plain encoding: {baseline / 2**20:.2f} MB; the whole page is "
        f"{size / baseline:.2f}x that"
    )
    print(f"  opens and draws every beat in {seconds:.2f} s, best of {LOADS} (goal < 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
