"""The embed snippet in an article, in Chromium: the iframe takes the map's height (our snippet's
few lines, and Pym.js's own parent when npm can install it), follows a change of width or an
opened table, and readers without scripts see the PNG with its description."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip(
    "playwright.sync_api", reason="playwright is a test extra: pip install -e '.[test]'"
)

from browsing import needs_chromium, served

from geo_violence import load_units
from geo_violence.render import MapSeries, emerging_content, map_png, write_map
from geo_violence.render.embed import INITIAL_HEIGHT, write_embed
from geo_violence.render.page import map_description

pytestmark = needs_chromium


def article(snippet: str, head: str = "") -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width, initial-scale=1"><title>Article</title>{head}</head>'
        '<body style="margin:0 auto;max-width:900px;padding:0 10px"><main><h1>An article</h1>'
        f"<p>Before the map.</p>{snippet}<p id='after'>After the map.</p></main></body></html>"
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """An emerging map with its PNG, the snippet in an article, served on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("embed")
    units = load_units("community_areas").units
    rng = np.random.default_rng(3)
    codes = np.where(units.index.isin(["32", "8"]), 2, np.where(units.index == "25", 5, 0))
    names = {0: "no pattern", 2: "consecutive hot spot", 5: "diminishing hot spot"}
    counts = rng.poisson(2, size=(len(units), 30))
    table = pd.DataFrame(
        {
            "category_code": codes,
            "category": [names[c] for c in codes],
            "total": counts.sum(axis=1),
            "last_count": counts[:, -1],
            "last_z": 0.5,
            "last_p": 0.4,
            "mk_tau": 0.1,
            "mk_p": 0.5,
            "sen_slope": 0.0,
            "hot_fraction": 0.1,
        },
        index=units.index,
    )
    dates = [f"{d:%Y-%m-%d}" for d in pd.date_range("2025-01-06", periods=30, freq="7D")]
    series = MapSeries(dates, counts, bins=np.zeros(counts.shape))
    content = emerging_content(table, title="Emerging hot spots", series=series, subtitle="2025")
    write_map(units, content, folder / "emerging.html")
    map_png(units, content, folder / "emerging.png")
    description = map_description(units, content)
    write_embed(
        folder / "embed.html",
        "emerging.html",
        content.title,
        picture="emerging.png",
        description=description,
    )
    snippet = (folder / "embed.html").read_text(encoding="utf-8")
    (folder / "article.html").write_text(article(snippet), encoding="utf-8")
    with served(folder) as base:
        yield folder, base, description


def frame_height(page) -> int:
    return page.locator("iframe").evaluate("f => f.getBoundingClientRect().height")


def settle(page, previous: float | None = None) -> float:
    """The iframe's height once the map has told it (and it changed from ``previous``)."""
    page.wait_for_function(
        "([initial, previous]) => {"
        " const h = document.querySelector('iframe').getBoundingClientRect().height;"
        " return h !== initial && h !== previous; }",
        arg=[INITIAL_HEIGHT, previous],
    )
    page.wait_for_timeout(300)  # a last message after the layout settles
    return frame_height(page)


def content_height(page) -> int:
    return page.frames[1].evaluate("document.body.offsetHeight")


def test_the_iframe_takes_the_maps_height_and_follows_it(browser, site):
    _, base, _ = site
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.goto(base + "article.html")
    page.frame_locator("iframe").locator("path.leaflet-interactive").first.wait_for()
    height = settle(page)
    assert abs(height - content_height(page)) <= 1
    # no scrollbar inside the frame: all of the map page shows
    frame = page.frames[1]
    assert frame.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1")
    # the map keeps its shape: about 4:3 at this width, the title and the table toggle around it
    shown = frame.locator("#gv-map").bounding_box()
    assert abs(shown["height"] / shown["width"] - 0.75) < 0.02
    # opening the table makes the frame taller
    frame.locator("details.gv-table summary").click()
    taller = settle(page, height)
    assert taller > height + 500 and abs(taller - content_height(page)) <= 1
    # on a phone the frame follows the narrower page, and the article does not scroll sideways
    frame.locator("details.gv-table summary").click()
    closed = settle(page, taller)
    page.set_viewport_size({"width": 360, "height": 740})
    phone = settle(page, closed)
    assert abs(phone - content_height(page)) <= 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(site[0] / "article_phone.png"), full_page=True)
    context.close()


@pytest.fixture(scope="module")
def pym_script(tmp_path_factory) -> Path:
    """Pym.js's own script, from the npm registry (skipped without npm or the registry)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the Pym.js parent is not tried")
    cache = tmp_path_factory.mktemp("npm")
    done = subprocess.run(
        [npm, "install", "--prefix", str(cache), "--no-save", "--silent", "pym.js@1"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    script = cache / "node_modules" / "pym.js" / "dist" / "pym.v1.min.js"
    if done.returncode != 0 or not script.exists():
        pytest.skip(f"npm could not install pym.js: {done.stderr.strip()[:200]}")
    return script


def test_a_pym_js_parent_sizes_the_map_too(browser, site, pym_script):
    folder, base, _ = site
    shutil.copy(pym_script, folder / "pym.v1.min.js")
    (folder / "pym_article.html").write_text(
        article(
            '<div id="map-container"></div><script src="pym.v1.min.js"></script>'
            '<script>new pym.Parent("map-container", "emerging.html", '
            '{title: "Emerging hot spots"});</script>'
        ),
        encoding="utf-8",
    )
    context = browser.new_context(viewport={"width": 800, "height": 800})
    page = context.new_page()
    page.goto(base + "pym_article.html")
    page.frame_locator("iframe").locator("path.leaflet-interactive").first.wait_for()
    page.wait_for_function("document.querySelector('iframe').getAttribute('height') !== null")
    page.wait_for_timeout(300)
    height = int(page.locator("iframe").get_attribute("height").removesuffix("px"))
    assert abs(height - content_height(page)) <= 1 and height > 400
    context.close()


def test_without_scripts_the_article_shows_the_picture_and_its_description(browser, site):
    _, base, description = site
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "article.html")
    picture = page.locator("img[src='emerging.png']")
    picture.wait_for()
    assert picture.get_attribute("alt") == description
    assert "Of 77 units" in description and "consecutive hot spot" in description
    assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
    context.close()
