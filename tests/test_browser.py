"""The maps in a real browser: Debian's chromium driven by playwright, every request outside the
served folder blocked. Screenshots go to ``tests/screenshots/`` (look at them)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip(
    "playwright.sync_api", reason="playwright is a test extra: pip install -e '.[test]'"
)

from browsing import needs_chromium, served

from geo_violence import load_units
from geo_violence.jobs import (
    CubeOptions,
    MapOptions,
    UnitOptions,
    run_compare,
    run_emerging,
    run_hotspots,
    run_report,
)
from geo_violence.jobs.demo_data import make_demo_incidents

SCREENSHOTS = Path(__file__).parent / "screenshots"
HOSTILE = {"32": "<img src=x onerror=alert(1)>", "8": '"O\'Hare" & </script>'}
MAPS = ("emerging.html", "hotspots.html", "shift.html")

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def site(build_once):
    """A run folder built from the demo incidents over community areas, two of them renamed with
    hostile names, served over HTTP on 127.0.0.1."""

    def build(folder: Path) -> None:
        units = load_units("community_areas").units.copy()
        for unit_id, name in HOSTILE.items():
            units.loc[unit_id, "name"] = name
        units.reset_index().to_file(folder / "units.geojson", driver="GeoJSON")
        make_demo_incidents(seed=5).to_csv(folder / "demo.csv", index=False)
        unit_options = UnitOptions(
            units=str(folder / "units.geojson"), id_field="unit_id", name_field="name"
        )
        maps = MapOptions(png=True, embed=True)
        run_emerging(folder / "demo.csv", folder, unit_options=unit_options, map_options=maps)
        run_hotspots(
            folder / "demo.csv",
            folder,
            unit_options=unit_options,
            cube_options=CubeOptions(start="2025-12-01", end="2025-12-28"),
            overwrite=True,
        )
        run_compare(
            folder / "demo.csv",
            folder,
            before="2024-01-01..2024-12-29",
            after="2024-12-30..2025-12-28",
            unit_options=unit_options,
            overwrite=True,
        )
        run_report(folder)
        (folder / "host.html").write_text(
            '<!DOCTYPE html><html><body style="margin:0"><iframe sandbox="allow-scripts" '
            'src="emerging.html" style="width:960px;height:720px;border:0"></iframe></body></html>',
            encoding="utf-8",
        )

    folder = build_once("browser-site", build)
    with served(folder) as base:
        yield folder, base


class Visit:
    """A page with everything it did recorded: errors, dialogs, requests blocked."""

    def __init__(self, browser, base: str, name: str) -> None:
        self.base = base
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.blocked: list[str] = []
        self.context = browser.new_context(viewport={"width": 1000, "height": 800})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", self._dialog)
        self.page.goto(base + name)

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(self.base) or url.startswith(("about:", "data:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / name))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser, site):
    opened: list[Visit] = []

    def open_page(name: str) -> Visit:
        opened.append(Visit(browser, site[1], name))
        return opened[-1]

    yield open_page
    for page in opened:
        page.close()


def fills(frame) -> list[str]:
    return frame.locator("path.leaflet-interactive").evaluate_all(
        "paths => paths.map(p => p.getAttribute('fill'))"
    )


@pytest.mark.parametrize("name", MAPS)
def test_each_map_draws_one_shape_per_unit_offline_and_without_errors(visit, name):
    page = visit(name)
    page.page.wait_for_selector("path.leaflet-interactive")
    assert page.page.locator("path.leaflet-interactive").count() == 77
    assert page.page.locator(".gv-title-main").inner_text()
    assert page.page.locator(".gv-legend-row").count() >= 2
    page.screenshot(f"{Path(name).stem}.png")
    assert page.errors == [] and page.dialogs == []
    assert page.blocked == []  # the page fetched nothing but itself


def test_the_slider_recolours_the_units_and_play_moves_it(visit):
    page = visit("emerging.html").page
    page.wait_for_selector(".gv-slider")
    categories = fills(page)
    page.locator(".gv-slider").fill("60")
    assert page.locator(".gv-date").inner_text() == "week of 2025-02-24"
    week_60 = fills(page)
    assert week_60 != categories
    page.locator(".gv-slider").fill("100")
    assert fills(page) != week_60
    assert "Gi* of the week of 2025-12-01" in page.locator(".gv-legend").inner_text()
    page.locator(".gv-slider").fill("10")
    page.locator(".gv-play").click()  # plays on from week 10
    page.wait_for_timeout(1200)
    assert 10 < int(page.locator(".gv-slider").input_value()) < 103
    page.locator(".gv-play").click()  # pause
    page.locator(".gv-back").click()
    assert fills(page) == categories


def test_a_click_opens_a_popup_with_the_category_sparkline_and_last_week(visit):
    page = visit("emerging.html")
    page.page.locator("path.leaflet-interactive").nth(31).click()  # unit 32, the Loop
    popup = page.page.locator(".gv-popup")
    popup.wait_for()
    assert popup.locator(".gv-popup-name").inner_text() == HOSTILE["32"]
    assert popup.locator(".gv-popup-heading").inner_text().endswith("hot spot")
    assert popup.locator("svg.gv-spark polyline").count() == 1
    text = popup.inner_text()
    assert "last week's Gi* z" in text and "trend of the z-scores" in text
    page.page.wait_for_timeout(400)
    page.screenshot("emerging_popup.png")
    assert page.errors == [] and page.dialogs == []


def test_the_map_works_inside_a_sandboxed_iframe(visit):
    page = visit("host.html")
    # in view first: a frame out of view may be drawn only when it comes into view
    page.page.locator("iframe[sandbox='allow-scripts']").scroll_into_view_if_needed()
    frame = page.page.frame_locator("iframe[sandbox='allow-scripts']")
    frame.locator("path.leaflet-interactive").first.wait_for()
    assert frame.locator("path.leaflet-interactive").count() == 77
    before = fills(frame)
    frame.locator(".gv-slider").fill("30")
    assert fills(frame) != before
    frame.locator("path.leaflet-interactive").nth(31).click()
    frame.locator(".gv-popup").wait_for()
    assert frame.locator(".gv-popup-name").inner_text() == HOSTILE["32"]
    page.page.wait_for_timeout(400)  # the popup's fade-in, for the screenshot
    page.screenshot("sandboxed_iframe.png")
    assert page.errors == [] and page.dialogs == [] and page.blocked == []


def test_a_map_laid_out_only_later_still_draws_its_units(visit, site):
    # a frame that has no size when its script runs (hidden, or not laid out yet on a busy
    # machine) must draw once it gets one: Leaflet keeps the first size it reads, so a map that
    # once looked at a 0 x 0 container stayed empty (seen as a flaky summary test under load)
    folder, _ = site
    (folder / "hidden_host.html").write_text(
        '<!DOCTYPE html><html lang="en"><body style="margin:0"><iframe id="later" '
        'sandbox="allow-scripts" src="emerging.html" style="display:none;width:800px;'
        'height:600px;border:0"></iframe></body></html>',
        encoding="utf-8",
    )
    page = visit("hidden_host.html").page
    page.wait_for_load_state("load")
    frame = page.frame_locator("#later")
    frame.locator(".gv-ready").wait_for(state="attached")  # its script has run, unseen
    assert frame.locator("path.leaflet-interactive").count() == 0
    page.locator("#later").evaluate("element => { element.style.display = 'block'; }")
    frame.locator("path.leaflet-interactive").first.wait_for(timeout=10_000)
    assert frame.locator("path.leaflet-interactive").count() == 77


def test_names_appear_when_zoomed_in_and_the_basemap_is_optional(visit, site):
    from geo_violence.render import hotspot_content, write_map

    page = visit("hotspots.html").page
    page.wait_for_selector("path.leaflet-interactive")
    assert page.locator(".gv-label").count() == 0  # the whole city: no names
    for _ in range(3):
        page.locator(".leaflet-control-zoom-in").click()
        page.wait_for_timeout(350)
    assert page.locator(".gv-label").count() > 0
    assert page.locator(".leaflet-tile").count() == 0  # no basemap by default
    # with a basemap: tiles are requested (blocked here) and the attribution is on the map
    folder, _ = site
    table = pd.read_csv(folder / "hotspots.csv", dtype={"unit_id": str}).set_index("unit_id")
    units = load_units("community_areas").units
    write_map(units, hotspot_content(table, title="T"), folder / "osm.html", basemap="osm")
    osm = visit("osm.html")
    osm.page.wait_for_selector("path.leaflet-interactive")
    osm.page.wait_for_timeout(300)
    assert "OpenStreetMap" in osm.page.locator(".leaflet-control-attribution").inner_text()
    assert osm.blocked and all("tile.openstreetmap.org" in url for url in osm.blocked)


@pytest.mark.parametrize("name", [*MAPS, "summary.html"])
def test_hostile_names_show_as_text_and_no_script_runs(visit, name):
    page = visit(name)
    page.page.wait_for_load_state("load")
    page.page.wait_for_timeout(300)
    frames = page.page.frames
    for frame in frames:
        assert frame.locator("img[src='x']").count() == 0
    if name == "summary.html":
        text = page.page.locator("body").inner_text()
        assert HOSTILE["32"] in text  # the top of the outreach table
        maps = [frame for frame in frames if frame != page.page.main_frame]
        assert len(maps) == 3
        for frame in maps:
            # a frame below the fold may be drawn only when it comes into view
            frame.frame_element().scroll_into_view_if_needed()
            frame.locator("path.leaflet-interactive").first.wait_for(state="attached")
            assert frame.locator("path.leaflet-interactive").count() == 77
    else:
        shapes = page.page.locator("path.leaflet-interactive")
        for position, unit_id in ((31, "32"), (7, "8")):
            shapes.nth(position).hover()
            tooltip = page.page.locator(".gv-hover").last
            tooltip.wait_for()
            assert tooltip.locator("strong").inner_text() == HOSTILE[unit_id]
    page.page.wait_for_timeout(300)
    assert page.dialogs == [], "a script from the data ran"
    assert page.errors == []
    assert page.blocked == []


def test_every_text_output_carries_the_names_as_text(site):
    folder, _ = site
    for name in ("emerging.csv", "hotspots.csv", "shift.csv", "deploy.csv"):
        text = (folder / name).read_text(encoding="utf-8")
        assert "<img src=x onerror=alert(1)>" in text, name  # data files keep the data
    markdown = (folder / "summary.md").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in markdown and "<img" not in markdown
    for name in (*MAPS, "summary.html", "embed.html"):
        page = (folder / name).read_text(encoding="utf-8")
        assert "<img src=x" not in page and '</script>"' not in page, name
    embed = (folder / "embed.html").read_text(encoding="utf-8")
    assert 'sandbox="allow-scripts"' in embed and 'src="emerging.html?childId=' in embed
    assert '<noscript><img src="emerging.png" alt="' in embed  # the picture for no scripts
    assert (folder / "emerging.png").read_bytes()[:4] == b"\x89PNG"
