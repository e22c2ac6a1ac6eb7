"""The backtest page: how much of what happened next each ranking captured, at a glance.

One self-contained HTML page (no script): for each number of units ``K``, a bar per ranking of
the mean share of next steps' incidents its top ``K`` held, with the 95% interval, the forecast
first and the ceilings marked; the forecast's interval coverage; and the same figures as tables,
so a screen reader reads what the bars show. Every string is escaped.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from ..outputs import write_atomically

BAR_COLOURS = {"forecast": "#b2182b", "baseline": "#67a9cf", "ceiling": "#bdbdbd"}
WIDTH, ROW, LABEL = 640, 26, 230


def backtest_page(
    summary: pd.DataFrame,
    *,
    top: list[int],
    title: str,
    subtitle: str,
    source: str,
    kinds: dict[str, str],
    path: str | Path,
) -> Path:
    """Write ``backtest.html`` from a backtest summary (:class:`~geo_violence.stats.backtest.
    Backtest`'s ``summary``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> summary = pd.DataFrame({"ranking": ["forecast", "last 4"], "metric": "capture_20",
    ...     "n_origins": 10, "mean": [0.17, 0.15], "ci_low": [0.16, 0.14],
    ...     "ci_high": [0.18, 0.16], "diff": [0.0, -0.02], "diff_se": [0.0, 0.005],
    ...     "diff_z": [float("nan"), -4.0]})
    >>> page = backtest_page(summary, top=[20], title="<T>", subtitle="s", source="x",
    ...     kinds={"forecast": "forecast", "last 4": "baseline"},
    ...     path=pathlib.Path(tempfile.mkdtemp()) / "b.html")
    >>> text = page.read_text()
    >>> "&lt;T&gt;" in text, "<T>" in text, "17.0%" in text
    (True, False, True)
    """
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        "<style>body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:760px;"
        "padding:12px;color:#222}svg{max-width:100%;height:auto}table{border-collapse:collapse;"
        "margin:8px 0 20px;font-size:14px}td,th{border-bottom:1px solid #ddd;padding:4px 8px;"
        "text-align:left}caption{text-align:left;font-weight:600;padding:4px 0}"
        ".note{color:#555}p{overflow-wrap:anywhere}.table{overflow-x:auto}"
        "</style></head><body><main>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="note">{esc(subtitle)}. Source: {esc(source)}.</p>',
        "<p>Each origin week, every ranking saw only the weeks before it; the bars are the mean "
        "share of the next steps' incidents that its top units held (95% interval over the "
        "origins). Ceilings rank by what actually happened, so no forecast can reach them.</p>",
    ]
    for k in top:
        rows = summary[summary["metric"] == f"capture_{k}"].reset_index(drop=True)
        if rows.empty:
            continue
        parts.append(f"<h2>Top {k}: share of next incidents captured</h2>")
        parts.append(_bars(rows, kinds, k))
        parts.append(_table(rows, kinds, k))
    coverage = summary[(summary["metric"] == "coverage") & summary["mean"].notna()]
    if not coverage.empty:
        parts.append("<h2>Prediction intervals</h2><ul>")
        for _, row in coverage.iterrows():
            parts.append(
                f"<li>{esc(str(row['ranking']))}: the intervals held the count of "
                f"{row['mean']:.1%} of unit-steps (95% interval {row['ci_low']:.1%} to "
                f"{row['ci_high']:.1%}).</li>"
            )
        parts.append("</ul>")
    parts.append("</main></body></html>")
    text = "\n".join(parts) + "\n"
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def _bars(rows: pd.DataFrame, kinds: dict[str, str], k: int) -> str:
    top = max(float(rows["ci_high"].max()), 1e-9)
    height = ROW * len(rows) + 10
    scale = (WIDTH - LABEL - 70) / top
    shapes = [
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="Share of next incidents captured by the top {k}, by ranking">'
    ]
    for i, row in rows.iterrows():
        y = 5 + i * ROW
        colour = BAR_COLOURS.get(kinds.get(str(row["ranking"]), "baseline"), "#67a9cf")
        width = max(float(row["mean"]) * scale, 1)
        low, high = LABEL + float(row["ci_low"]) * scale, LABEL + float(row["ci_high"]) * scale
        shapes += [
            f'<text x="{LABEL - 6}" y="{y + 16}" text-anchor="end" font-size="13">'
            f"{html.escape(str(row['ranking']))}</text>",
            f'<rect x="{LABEL}" y="{y + 4}" width="{width:.1f}" height="{ROW - 8}" '
            f'fill="{colour}"/>',
            f'<line x1="{low:.1f}" x2="{high:.1f}" y1="{y + ROW / 2}" y2="{y + ROW / 2}" '
            'stroke="#222" stroke-width="1.5"/>',
            f'<text x="{LABEL + width + 8:.1f}" y="{y + 16}" font-size="13">'
            f"{float(row['mean']):.1%}</text>",
        ]
    shapes.append("</svg>")
    return "".join(shapes)


def _table(rows: pd.DataFrame, kinds: dict[str, str], k: int) -> str:
    esc = html.escape
    lines = [
        f'<div class="table" tabindex="0" role="region" aria-label="Top {k}, as a table">'
        f"<table><caption>Top {k}: captured share, and the difference from the forecast"
        "</caption><thead><tr><th>ranking</th><th>kind</th><th>captured (95% interval)</th>"
        "<th>minus the forecast (standard error)</th></tr></thead><tbody>"
    ]
    for _, row in rows.iterrows():
        name = str(row["ranking"])
        diff = row.get("diff")
        difference = (
            f"{100 * diff:+.2f} points ({100 * row['diff_se']:.2f})"
            if pd.notna(diff) and name != "forecast"
            else ""
        )
        lines.append(
            f"<tr><td>{esc(name)}</td><td>{esc(kinds.get(name, ''))}</td>"
            f"<td>{row['mean']:.1%} ({row['ci_low']:.1%} to {row['ci_high']:.1%})</td>"
            f"<td>{esc(difference)}</td></tr>"
        )
    lines.append("</tbody></table></div>")
    return "".join(lines)
