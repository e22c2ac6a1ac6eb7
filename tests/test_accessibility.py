"""Every page the project writes, read as everyone reads it: axe-core's WCAG 2 A/AA rules (and its
best practices: landmarks, one h1, content in regions) at 1280 and 320 px in Chromium, no page
scrolling sideways, a table and a text summary on each map, the keyboard, touch targets, and the
pages' honest labels and colours.

axe-core is the copy that ``axe-playwright-python`` (a test extra) ships; it runs inside the page
through playwright, nothing is fetched.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip(
    "playwright.sync_api", reason="playwright is a test extra: pip install -e '.[test]'"
)

from browsing import needs_chromium, served

axe_package = pytest.importorskip(
    "axe_playwright_python", reason="axe-playwright-python is a test extra (it ships axe-core)"
)

from geo_violence.jobs import UnitOptions, run_demo, run_emerging  # noqa: E402
from geo_violence.jobs.demo_data import make_demo_incidents  # noqa: E402
from geo_violence.render.archive import ArchivedWeek, archive_html  # noqa: E402
from geo_violence.render.backtest import backtest_page  # noqa: E402
from geo_violence.render.embed import write_embed  # noqa: E402
from geo_violence.render.emerging import CATEGORY_STYLE  # noqa: E402
from geo_violence.render.shift import LABEL_STYLE  # noqa: E402

AXE = (Path(axe_package.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
WIDTHS = (1280, 320)
DEMO_MAPS = (
    "last_four_weeks.html",
    "hotspots.html",
    "emerging.html",
    "shift.html",
    "trends.html",
    "scan.html",
)
OTHER_PAGES = ("summary.html", "backtest.html", "embed_host.html", "index.html")

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def site(build_once):
    """The demo's pages, a backtest page, the embed snippet in a host page, and an H3 map of the
    demo incidents (``--units h3:9``), served on 127.0.0.1."""

    def build(folder: Path) -> None:
        run_demo(folder, seed=11)
        summary = pd.DataFrame(
            {
                "ranking": ["forecast", "last 52 weeks", "ceiling"],
                "metric": "capture_10",
                "n_origins": 52,
                "mean": [0.31, 0.28, 0.45],
                "ci_low": [0.29, 0.26, 0.43],
                "ci_high": [0.33, 0.30, 0.47],
                "diff": [0.0, -0.03, 0.14],
                "diff_se": [0.0, 0.01, 0.01],
                "diff_z": [float("nan"), -3.0, 14.0],
            }
        )
        backtest_page(
            summary,
            top=[10],
            title="Backtest of the demo's rankings, weeks 2024-01-01 to 2025-12-28",
            subtitle="52 origins",
            source="synthetic incidents",
            kinds={"forecast": "forecast", "last 52 weeks": "baseline", "ceiling": "ceiling"},
            path=folder / "backtest.html",
        )
        write_embed(folder / "embed.html", "emerging.html", "Emerging hot spots")
        snippet = (folder / "embed.html").read_text(encoding="utf-8")
        (folder / "embed_host.html").write_text(
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            'content="width=device-width, initial-scale=1"><title>An article</title></head><body>'
            "<main><h1>An article with a map</h1><p>Text before the map.</p>"
            f"{snippet}<p>Text after the map.</p></main></body></html>",
            encoding="utf-8",
        )
        weeks = [
            ArchivedWeek(
                f"2025-W{week:02d}",
                f"2025-12-{week - 30:02d}",
                f"2025-12-{week - 24:02d}",
                {
                    layer: {"incidents": 312, "hot_units": 9, "alarms": 1, "rising_units": None}
                    for layer in ("community_areas", "beats")
                },
                {"community_areas": "summary.html"},
            )
            for week in (50, 51, 52)
        ]
        archive_html(weeks, folder / "index.html", title="Weekly hot spot runs")  # runs/index.html
        h3 = folder / "h3"
        h3.mkdir()
        make_demo_incidents(seed=11).to_csv(h3 / "demo.csv", index=False)
        run_emerging(h3 / "demo.csv", h3, unit_options=UnitOptions(units="h3:9"))

    folder = build_once("a11y", build)
    with served(folder) as base:
        yield folder, base


@pytest.fixture
def open_page(browser, site):
    contexts = []

    def visit(name: str, width: int = 1280):
        context = browser.new_context(viewport={"width": width, "height": 800})
        contexts.append(context)
        base = site[1]
        context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith(base) else route.abort()
            ),
        )
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.goto(base + name)
        page.wait_for_load_state("load")
        if name.endswith(".html") and page.locator("#gv-map").count():
            page.wait_for_selector("html.gv-ready")
        page.errors = errors
        return page

    yield visit
    for context in contexts:
        context.close()


def axe_violations(page) -> list[str]:
    page.evaluate(AXE)
    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    result = page.evaluate("options => axe.run(document, options)", options)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
    ]


def sideways(page) -> int:
    """How far the page scrolls sideways, in pixels."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", [*DEMO_MAPS, *OTHER_PAGES])
def test_every_page_passes_axe_and_never_scrolls_sideways(open_page, name, width):
    page = open_page(name, width)
    if page.locator("details.gv-table").count():
        page.locator("details.gv-table summary").click()  # the table too
        page.wait_for_selector("table.gv-data")
    assert axe_violations(page) == []
    assert sideways(page) <= 0
    assert page.errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_the_h3_map_passes_axe_and_fits_a_phone(open_page, site, width):
    page = open_page("h3/emerging.html", width)
    assert page.locator("path.leaflet-interactive").count() > 5000
    assert axe_violations(page) == []
    assert sideways(page) <= 0
    assert page.errors == []


@pytest.mark.parametrize("name", DEMO_MAPS)
def test_each_map_has_a_summary_and_a_table_of_its_units_with_the_popups_figures(open_page, name):
    page = open_page(name)
    summary = page.locator("#gv-summary").inner_text()
    assert "Of 77 units" in summary
    assert page.locator("#gv-map").get_attribute("aria-describedby") == "gv-summary"
    page.locator("details.gv-table summary").click()
    page.wait_for_selector("table.gv-data")
    rows = page.locator("table.gv-data tbody tr")
    assert rows.count() == 77
    headers = page.locator("table.gv-data thead th").all_inner_texts()
    # the figures of the Loop's popup are in its row of the table
    loop = page.locator("table.gv-data tbody tr", has=page.locator("th", has_text="Loop"))
    row_text = loop.first.inner_text()
    shape = page.locator("path.leaflet-interactive").nth(31)
    shape.click()
    popup = page.locator(".gv-popup")
    popup.wait_for()
    for label in popup.locator(".gv-rows th").all_inner_texts():
        assert label in headers
    for value in popup.locator(".gv-rows td").all_inner_texts():
        assert value in row_text


def test_units_take_the_focus_enter_opens_their_popup_and_escape_closes_it(open_page):
    page = open_page("emerging.html")
    focused = ""
    for _ in range(12):  # the skip link, the map, the zoom buttons, then the units
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.getAttribute('class') || ''")
        if "leaflet-interactive" in focused:
            break
    assert "leaflet-interactive" in focused
    name = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert name
    assert page.locator(".gv-hover").count() == 1  # the focused unit shows its figures
    page.keyboard.press("Enter")
    popup = page.locator(".gv-popup")
    popup.wait_for()
    assert name.split(":")[0] == popup.locator(".gv-popup-name").inner_text()
    assert page.evaluate("document.activeElement.classList.contains('gv-popup')")
    page.keyboard.press("Escape")
    popup.wait_for(state="detached")
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == name
    page.keyboard.press("Tab")  # on to the next unit
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") != name


def test_a_skip_link_leads_past_the_units_to_the_table(open_page):
    page = open_page("hotspots.html")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "gv-skip"
    box = page.locator(".gv-skip").bounding_box()
    assert box["x"] >= 0 and box["height"] >= 44  # visible once focused
    page.keyboard.press("Enter")
    page.wait_for_selector("table.gv-data")
    assert page.locator("details.gv-table").get_attribute("open") is not None
    assert page.locator("table.gv-data tbody tr").count() == 77


@pytest.mark.parametrize("width", WIDTHS)
def test_touch_targets_are_at_least_44_px(open_page, width):
    page = open_page("emerging.html", width)
    page.locator("path.leaflet-interactive").nth(31).click()
    page.locator(".gv-popup").wait_for()
    controls = page.locator(
        "button, input, summary, select, .leaflet-bar a, a.leaflet-popup-close-button"
    )
    assert controls.count() >= 7
    for position in range(controls.count()):
        control = controls.nth(position)
        box = control.bounding_box()
        label = control.evaluate("e => e.outerHTML.slice(0, 80)")
        # (a box placed at a fractional position may measure 43.999996: chromium lays out in
        # 1/64 px, and a bounding box is a float of that)
        assert box["width"] >= 44 - 1 / 64 and box["height"] >= 44 - 1 / 64, label


def test_on_a_phone_the_legend_and_the_title_cover_nothing(open_page):
    page = open_page("emerging.html", 320)
    title = page.locator(".gv-title").bounding_box()
    legend = page.locator(".gv-legend").bounding_box()
    shown = page.locator("#gv-map").bounding_box()
    assert title["y"] + title["height"] <= shown["y"] + 1  # the title above the map
    assert legend["y"] >= shown["y"] + shown["height"] - 1  # the legend below it


def test_a_popup_hides_the_hover_tooltip(open_page):
    page = open_page("shift.html")
    shapes = page.locator("path.leaflet-interactive")
    shapes.nth(31).hover()
    page.locator(".gv-hover").wait_for()
    shapes.nth(31).click()
    page.locator(".gv-popup").wait_for()
    shapes.nth(30).hover()
    assert page.locator(".leaflet-tooltip-pane").evaluate("e => getComputedStyle(e).display") == (
        "none"
    )


def test_the_hotspot_map_shows_the_lisa_cluster_on_hover(open_page):
    page = open_page("hotspots.html")
    page.locator("path.leaflet-interactive").nth(31).hover()
    hover = page.locator(".gv-hover")
    hover.wait_for()
    assert "LISA cluster" in hover.inner_text()


def test_dates_never_break_across_lines(open_page):
    page = open_page("shift.html", 320)
    dates = page.locator(".gv-title .gv-nowrap")
    assert dates.count() >= 4
    for position in range(dates.count()):
        assert dates.nth(position).evaluate("e => e.getClientRects().length") == 1


def test_the_sparkline_ends_where_the_period_ends(open_page):
    page = open_page("emerging.html")
    subtitle = page.locator(".gv-title-sub").inner_text()
    page.locator("path.leaflet-interactive").nth(31).click()
    caption = page.locator(".gv-spark-caption").inner_text()
    assert subtitle.endswith("2025-12-28") and "to 2025-12-28" in caption


def test_the_counts_legend_says_its_sentence_once_and_splits_the_top(open_page, site):
    page = open_page("last_four_weeks.html")
    assert page.locator(".gv-legend-title").inner_text() == "Incidents in the last 4 weeks"
    rows = page.locator(".gv-legend-row").all_inner_texts()
    assert all("incidents" not in row for row in rows)
    table = pd.read_csv(site[0] / "hotspots.csv")
    top = rows[-1].split(" to ")
    # the planted downtown areas (about 48 in 4 weeks) are not in one class with the background
    assert int(top[0]) > table["count"].quantile(0.9)


def test_fading_is_blue_on_every_map_and_diminishing_is_not_like_sporadic(site):
    folder, _ = site
    fading_codes = {5, 8}
    cool = {LABEL_STYLE["fading"][0], LABEL_STYLE["cooling"][0]}
    assert {CATEGORY_STYLE[code][0] for code in fading_codes} == cool
    assert all("fad" in CATEGORY_STYLE[code][1] for code in fading_codes)
    warm = {CATEGORY_STYLE[code][0] for code in (1, 2, 3, 4, 6, 7)}
    assert not warm & cool
    page = (folder / "emerging.html").read_text(encoding="utf-8")
    assert "blue where it fades" in page


def test_units_with_no_incident_of_their_own_are_striped_and_named_so(open_page, site):
    folder, _ = site
    emerging = pd.read_csv(folder / "h3" / "emerging.csv", dtype={"unit_id": str})
    hot = emerging[emerging["neighbours_only"]]
    assert (hot["category_code"] > 0).all() and (hot["own_events_when_hot"] == 0).all()
    page = open_page("h3/emerging.html")
    legend = page.locator(".gv-legend").inner_text()
    if hot.empty:
        pytest.skip("no hot cell without an incident of its own in this run")
    assert "neighbours only" in legend
    striped = page.locator("path.leaflet-interactive[fill^='url(#gv-hatch']")
    assert striped.count() == len(hot)
    striped.first.focus()
    assert "neighbours only" in page.evaluate("document.activeElement.getAttribute('aria-label')")


def test_the_summary_reads_as_words(site):
    folder, _ = site
    markdown = (folder / "summary.md").read_text(encoding="utf-8")
    page = (folder / "summary.html").read_text(encoding="utf-8")
    assert "&#x27;" not in markdown and "city's season" in markdown
    tables = "".join(re.findall(r"<table>.*?</table>", page, flags=re.S))
    for text in (markdown, tables):
        assert "rate_ratio" not in text and "p_value" not in text
        assert not re.search(r"\de-\d", text)  # no 1e-26
    for text in (markdown, page):
        assert "Chicago77.shp" not in text and "Chicago community areas (libpysal)" in text
    assert "rate ratio (after / before)" in markdown and "< 0.001" in markdown
