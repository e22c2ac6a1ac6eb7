"""The planner's archive: ``runs/index.html``, every published week with its headline numbers.

One self-contained page (no script): a table with a row per week, newest first, and for each
layer the incidents of the week, the hot units, the early-warning alarms and the rising units,
each week linking to its summaries. Every string from data is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..outputs import write_atomically

#: The headline figures of a layer, in the order the archive shows them, with their headers.
FIGURES = (
    ("incidents", "Incidents in the week"),
    ("hot_units", "Hot spot units in the week"),
    ("alarms", "Early-warning alarms"),
    ("rising_units", "Units rising over the years"),
)


@dataclass(frozen=True)
class ArchivedWeek:
    """One published week: its name (``2024-W16``), days, and per layer its figures and the
    summary's path relative to the archive page."""

    week: str
    first_day: str
    last_day: str
    layers: dict[str, dict[str, int | None]] = field(default_factory=dict)
    summaries: dict[str, str] = field(default_factory=dict)


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1a1a1a; line-height: 1.45; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 0.25rem; }
p { margin: 0.25rem 0 1rem; color: #404040; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.95rem; }
caption { text-align: left; font-weight: 600; padding: 0.5rem 0; }
th, td { padding: 0.4rem 0.6rem; border-bottom: 1px solid #d0d0d0; text-align: right;
  vertical-align: top; }
th[scope="row"], thead th:first-child { text-align: left; }
td.links { text-align: left; }
a { color: #0b57a4; display: inline-block; min-height: 44px; line-height: 44px; }
"""


def archive_html(weeks: Sequence[ArchivedWeek], path: str | Path, *, title: str) -> Path:
    """Write the archive page of ``weeks`` (shown newest first), replacing it atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> week = ArchivedWeek("2024-W16", "2024-04-15", "2024-04-21",
    ...     {"beats": {"incidents": 12, "hot_units": 3, "alarms": 0, "rising_units": None}},
    ...     {"beats": "2024-W16/beats/summary.html"})
    >>> page = archive_html([week], pathlib.Path(tempfile.mkdtemp()) / "index.html",
    ...                     title="Weekly <runs>").read_text()
    >>> "Weekly &lt;runs&gt;" in page, 'href="2024-W16/beats/summary.html"' in page
    (True, True)
    """
    escape = html.escape
    ordered = sorted(weeks, key=lambda week: week.week, reverse=True)
    layers = sorted({layer for week in ordered for layer in week.layers})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{len(ordered)} published week{'s' if len(ordered) != 1 else ''}, newest first. "
        "Hot spot units: Gi* hot spots (the unit and its neighbours) in the week's last step. "
        "Alarms: clusters the early-warning scan calls unlikely by chance. Rising units: units "
        "whose incidents rose over the trend's months, after the correction for testing "
        "many units.</p>",
    ]
    for layer in layers:
        title = escape(_layer_title(layer))
        # a table wider than a phone scrolls in its own box, which the keyboard can reach
        parts.append(f'<div class="scroll" tabindex="0" role="region" aria-label="{title}">')
        parts.append(f"<table><caption>{title}</caption><thead><tr>")
        parts.append('<th scope="col">Week</th>')
        parts.extend(f'<th scope="col">{escape(header)}</th>' for _, header in FIGURES)
        parts.append('<th scope="col">Summary</th></tr></thead><tbody>')
        for week in ordered:
            figures = week.layers.get(layer)
            if figures is None:
                continue
            parts.append(
                f'<tr><th scope="row">{escape(week.week)}<br>'
                f"<small>{escape(week.first_day)} to {escape(week.last_day)}</small></th>"
            )
            parts.extend(f"<td>{_figure(figures.get(name))}</td>" for name, _ in FIGURES)
            summary = week.summaries.get(layer)
            link = (
                f'<a href="{escape(summary, quote=True)}">summary of {escape(week.week)}</a>'
                if summary
                else "none"
            )
            parts.append(f'<td class="links">{link}</td></tr>')
        parts.append("</tbody></table></div>")
    if not layers:
        parts.append("<p>No week has been published yet.</p>")
    parts.append("</main></body></html>")
    text = "\n".join(parts)
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def _figure(value: int | None) -> str:
    return "not computed" if value is None else f"{int(value):,}"


def _layer_title(layer: str) -> str:
    """``community_areas`` as "Community areas"."""
    return layer.replace("_", " ").capitalize()
