"""The weekly summary as one self-contained HTML page and as Markdown.

Every string from the data is escaped: ``html.escape`` for the page (the maps go in as sandboxed
``srcdoc`` iframes, escaped as attribute values), and :func:`markdown_text` for the Markdown,
whose renderers pass raw HTML through.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..outputs import write_atomically
from .embed import HOST_SCRIPT, INITIAL_HEIGHT
from .page import html_with_dates

#: How the summary's tables name the columns of the tables they come from.
COLUMN_HEADERS = {
    "name": "name",
    "label": "change",
    "count_before": "incidents before",
    "count_after": "incidents after",
    "rate_before": "rate before",
    "rate_after": "rate after",
    "rate_ratio": "rate ratio (after / before)",
    "p_value": "p-value",
    "q_value": "q-value (after correction)",
    "watch_reason": "why to watch",
    "recent_incidents": "recent incidents",
    "category": "category",
}
#: Columns holding p- or q-values: shown as "< 0.001" below a thousandth.
_ENTITY = re.compile(r"&(?=#?\w+;)")
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_P_COLUMN = re.compile(r"(^|_)(p|q)(_value)?$|^(p|q)_")


@dataclass
class Summary:
    """What the weekly summary says.

    Attributes
    ----------
    title : str
    period : str
        The dates the analyses cover.
    source : str
        Where the data come from.
    headlines : list of (label, value, comparison)
        The headline numbers, each with its comparison against the previous steps.
    tables : list of (heading, note, table)
        Tables to show, each with a sentence saying how to read it.
    maps : list of (heading, file name, html)
        Interactive maps to embed (self-contained pages).
    notes : list of str
        How the numbers were made (the score, the corrections).
    alarms : list of str
        The early-warning scan's alarms, one sentence each, or the sentence saying there is
        none: the page opens with them. Empty when no scan was run.
    """

    title: str
    period: str
    source: str
    headlines: list[tuple[str, str, str]]
    tables: list[tuple[str, str, pd.DataFrame]] = field(default_factory=list)
    maps: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)


_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
  margin: 0 auto; max-width: 1000px; padding: 16px; }
main { display: block; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
p, li { overflow-wrap: anywhere; }
.nowrap, .gv-nowrap { white-space: nowrap; }
.meta { color: #555; margin: 0; }
.headlines { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; padding: 0;
  list-style: none; }
.headline { border: 1px solid #ccc; border-radius: 6px; padding: 8px 12px; min-width: 0;
  flex: 1 1 200px; }
.headline .value { font-size: 1.6em; font-weight: 600; }
.headline .label, .headline .comparison { color: #555; font-size: 0.9em; }
.table { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.number, th.number { text-align: right; white-space: nowrap; }
.map iframe { display: block; width: 100%; border: 1px solid #ccc; box-sizing: border-box; }
.note { color: #555; font-size: 0.9em; }
"""


def summary_html(summary: Summary, path: str | Path) -> Path:
    """Write the summary as one self-contained page (maps as sandboxed ``srcdoc`` iframes that
    take their content's height).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> summary = Summary("Weekly <summary>", "2025", "test", [("incidents", "3", "+1")])
    >>> page = summary_html(summary, pathlib.Path(tempfile.mkdtemp()) / "s.html").read_text()
    >>> "Weekly &lt;summary&gt;" in page, "<summary>" in page, "<main>" in page
    (True, False, True)
    """
    escape = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(summary.title)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>{html_with_dates(summary.title)}</h1>",
        f'<p class="meta">{html_with_dates(summary.period)}</p>',
        f'<p class="meta">Source: {html_with_dates(summary.source)}</p>',
    ]
    if summary.alarms:
        parts.append('<section class="alarms"><h2>Early warning</h2><ul>')
        parts.extend(f"<li>{html_with_dates(line)}</li>" for line in summary.alarms)
        parts.append("</ul></section>")
    parts.append('<h2 class="headlines-title">This week in numbers</h2><ul class="headlines">')
    for label, value, comparison in summary.headlines:
        parts.append(
            f'<li class="headline"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(value)}</div>'
            f'<div class="comparison">{html_with_dates(comparison)}</div></li>'
        )
    parts.append("</ul>")
    for heading, file_name, page in summary.maps:
        parts.append(f"<h2>{html_with_dates(heading)}</h2>")
        parts.append(
            f'<div class="map"><iframe title="{escape(heading)}" data-geo-violence '
            f'sandbox="allow-scripts" scrolling="no" style="height:{INITIAL_HEIGHT}px" '
            f'srcdoc="{escape(page, quote=True)}"></iframe></div>'
        )
        parts.append(f'<p class="note">Full page: {escape(file_name)}</p>')
    for heading, note, table in summary.tables:
        parts.append(f"<h2>{html_with_dates(heading)}</h2>")
        if note:
            parts.append(f'<p class="note">{html_with_dates(note)}</p>')
        parts.append(_html_table(table, heading))
    if summary.notes:
        parts.append("<h2>How these numbers were made</h2><ul>")
        parts.extend(f"<li>{html_with_dates(note)}</li>" for note in summary.notes)
        parts.append("</ul>")
    parts.append("</main>")
    parts.append(HOST_SCRIPT)
    parts.append("</body></html>")
    text = "\n".join(parts)
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def summary_markdown(summary: Summary, path: str | Path) -> Path:
    """Write the summary as Markdown (tables, headline numbers, the maps' file names).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> summary = Summary("Weekly", "2025", "test", [("incidents", "3", "+1")],
    ...     tables=[("Units", "", pd.DataFrame({"name": ["<img src=x>", "a|b"]}))])
    >>> text = summary_markdown(summary, pathlib.Path(tempfile.mkdtemp()) / "s.md").read_text()
    >>> "&lt;img src=x&gt;" in text, "a\\\\|b" in text
    (True, True)
    """
    lines = [
        f"# {markdown_text(summary.title)}",
        "",
        markdown_text(summary.period),
        "",
        f"Source: {markdown_text(summary.source)}",
        "",
    ]
    if summary.alarms:
        lines += ["## Early warning", ""]
        lines += [f"- {markdown_text(line)}" for line in summary.alarms]
        lines.append("")
    for label, value, comparison in summary.headlines:
        lines.append(
            f"- **{markdown_text(label)}**: {markdown_text(value)} ({markdown_text(comparison)})"
        )
    for heading, file_name, _ in summary.maps:
        lines += ["", f"Map, {markdown_text(heading)}: `{markdown_text(file_name)}`"]
    for heading, note, table in summary.tables:
        lines += ["", f"## {markdown_text(heading)}", ""]
        if note:
            lines += [markdown_text(note), ""]
        lines.append(_markdown_table(table))
    if summary.notes:
        lines += ["", "## How these numbers were made", ""]
        lines += [f"- {markdown_text(note)}" for note in summary.notes]
    text = "\n".join(lines) + "\n"
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def markdown_text(value: object) -> str:
    """Text that Markdown shows as written and never runs as HTML: a ``<`` that could open a tag,
    an ``&`` that could start an entity and every ``>`` escaped; quotes, a lone ``&`` and
    ``< 0.001`` left as they read; table pipes and line breaks neutral.

    Examples
    --------
    >>> print(markdown_text('"O' + "'" + 'Hare" & </script> | x < 0.001 &amp;'))
    "O'Hare" & &lt;/script&gt; \\| x < 0.001 &amp;amp;
    """
    text = _ENTITY.sub("&amp;", str(value))
    text = _TAG_OPEN.sub("&lt;", text).replace(">", "&gt;").replace("|", "\\|")
    return " ".join(text.split())


def column_header(column: object) -> str:
    """A column's name as a reader sees it.

    Examples
    --------
    >>> column_header("rate_ratio"), column_header("p_value"), column_header("share_of_city")
    ('rate ratio (after / before)', 'p-value', 'share of city')
    """
    text = str(column)
    return COLUMN_HEADERS.get(text, text.replace("_", " "))


def cell_text(column: object, value: object) -> str:
    """A cell as a reader sees it: p- and q-values as "< 0.001" or two digits, other numbers with
    three significant digits (thousands separated), missing values empty.

    Examples
    --------
    >>> cell_text("p_value", 1e-26), cell_text("p_value", 0.0123), cell_text("rate_ratio", 13.71)
    ('< 0.001', '0.012', '13.7')
    >>> cell_text("count_after", 1234), cell_text("x", float("nan")), cell_text("x", 0.5)
    ('1,234', '', '0.5')
    """
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if np.isnan(value):
            return ""
        if _P_COLUMN.search(str(column)):
            return "< 0.001" if value < 0.001 else f"{value:.2g}"
        if np.isinf(value):
            return "infinite"
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    return str(value)


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _html_table(table: pd.DataFrame, heading: str) -> str:
    numeric = [_is_number(table[column]) for column in table.columns]
    kinds = [' class="number"' if number else "" for number in numeric]
    head = "".join(
        f'<th scope="col"{kind}>{html.escape(column_header(column))}</th>'
        for column, kind in zip(table.columns, kinds, strict=True)
    )
    rows = [
        "<tr>"
        + "".join(
            f"<td{kind}>{html_with_dates(cell_text(column, value))}</td>"
            for column, value, kind in zip(table.columns, row, kinds, strict=True)
        )
        + "</tr>"
        for row in table.itertuples(index=False)
    ]
    if not rows:
        rows = [f'<tr><td colspan="{max(len(table.columns), 1)}">None.</td></tr>']
    label = html.escape(heading, quote=True)
    return (
        f'<div class="table" tabindex="0" role="region" aria-label="{label}">'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _markdown_table(table: pd.DataFrame) -> str:
    lines = [
        "| " + " | ".join(markdown_text(column_header(column)) for column in table.columns) + " |",
        "|" + "---|" * len(table.columns),
    ]
    for row in table.itertuples(index=False):
        cells = [markdown_text(cell_text(c, v)) for c, v in zip(table.columns, row, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    if table.empty:
        lines.append("| None. |" + " |" * (len(table.columns) - 1))
    return "\n".join(lines)
