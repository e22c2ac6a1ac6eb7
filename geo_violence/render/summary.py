"""The weekly summary as one self-contained HTML page and as Markdown.

Every string from the data is escaped: ``html.escape`` for the page (the maps go in as sandboxed
``srcdoc`` iframes, escaped as attribute values), and :func:`markdown_text` for the Markdown,
whose renderers pass raw HTML through.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..outputs import write_atomically


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
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.meta { color: #555; margin: 0; }
.headlines { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.headline { border: 1px solid #ccc; border-radius: 6px; padding: 8px 12px; min-width: 180px; }
.headline .value { font-size: 1.6em; font-weight: 600; }
.headline .label, .headline .comparison { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
.map { position: relative; width: 100%; height: 0; padding-bottom: 75%; }
.map iframe { position: absolute; inset: 0; width: 100%; height: 100%; border: 1px solid #ccc; }
.note { color: #555; font-size: 0.9em; }
"""


def summary_html(summary: Summary, path: str | Path) -> Path:
    """Write the summary as one self-contained page (maps as sandboxed ``srcdoc`` iframes).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> summary = Summary("Weekly <summary>", "2025", "test", [("incidents", "3", "+1")])
    >>> page = summary_html(summary, pathlib.Path(tempfile.mkdtemp()) / "s.html").read_text()
    >>> "Weekly &lt;summary&gt;" in page, "<summary>" in page
    (True, False)
    """
    escape = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(summary.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(summary.title)}</h1>",
        f'<p class="meta">{escape(summary.period)}</p>',
        f'<p class="meta">Source: {escape(summary.source)}</p>',
    ]
    if summary.alarms:
        parts.append('<section class="alarms"><h2>Early warning</h2><ul>')
        parts.extend(f"<li>{escape(line)}</li>" for line in summary.alarms)
        parts.append("</ul></section>")
    parts.append('<div class="headlines">')
    for label, value, comparison in summary.headlines:
        parts.append(
            f'<div class="headline"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(value)}</div>'
            f'<div class="comparison">{escape(comparison)}</div></div>'
        )
    parts.append("</div>")
    for heading, file_name, page in summary.maps:
        parts.append(f"<h2>{escape(heading)}</h2>")
        parts.append(
            f'<div class="map"><iframe title="{escape(heading)}" sandbox="allow-scripts" '
            f'srcdoc="{escape(page, quote=True)}"></iframe></div>'
        )
        parts.append(f'<p class="note">Full page: {escape(file_name)}</p>')
    for heading, note, table in summary.tables:
        parts.append(f"<h2>{escape(heading)}</h2>")
        if note:
            parts.append(f'<p class="note">{escape(note)}</p>')
        parts.append(_html_table(table))
    if summary.notes:
        parts.append("<h2>How these numbers were made</h2><ul>")
        parts.extend(f"<li>{escape(note)}</li>" for note in summary.notes)
        parts.append("</ul>")
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
    """Text that Markdown shows as written: HTML escaped, table pipes and line breaks neutral.

    Examples
    --------
    >>> markdown_text('"O\\'Hare" & </script> | x')
    '&quot;O&#x27;Hare&quot; &amp; &lt;/script&gt; \\\\| x'
    """
    text = html.escape(str(value), quote=True).replace("|", "\\|")
    return " ".join(text.split())


def _html_table(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(column))}</th>" for column in table.columns)
    rows = [
        "<tr>" + "".join(f"<td>{html.escape(_cell(value))}</td>" for value in row) + "</tr>"
        for row in table.itertuples(index=False)
    ]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _markdown_table(table: pd.DataFrame) -> str:
    lines = [
        "| " + " | ".join(markdown_text(column) for column in table.columns) + " |",
        "|" + "---|" * len(table.columns),
    ]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(markdown_text(_cell(value)) for value in row) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
