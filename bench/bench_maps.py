"""Benchmark the heaviest map: the emerging map of the 275 beats with 521 weeks of bins.

Writes it from the 2010-2019 aggravated assaults (``../shared/data/chicago``), prints its size and
how long Debian's chromium (headless, through playwright, every request but the file blocked)
takes to open it and draw every beat, best of a few loads. Run: ``python bench/bench_maps.py``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import DATA, assaults_by_beat

from geo_violence import load_units
from geo_violence.jobs import Job, StageOptions
from geo_violence.jobs.emerging import EMERGING_FILES, EMERGING_MAP, emerging_of, write_emerging
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
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        seconds = open_time(browser, page.as_uri(), cube.n_units)
        browser.close()
    print(f"emerging map, {cube.n_units} beats x {cube.n_steps} weeks of bins")
    print(f"  written in {written:.2f} s (with the tables)")
    print(f"  size {size / 2**20:.2f} MB (goal < 5 MB)")
    print(f"  opens and draws every beat in {seconds:.2f} s, best of {LOADS} (goal < 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
