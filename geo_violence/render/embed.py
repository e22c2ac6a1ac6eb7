"""The snippet a newsroom pastes into an article: a responsive, sandboxed iframe of a map."""

from __future__ import annotations

import html
from pathlib import Path

from ..outputs import write_atomically

#: Height over width of the embedded map (portrait-friendly on phones, wide enough on desktops).
ASPECT = 0.75


def embed_snippet(map_file: str, title: str, *, aspect: float = ASPECT) -> str:
    """HTML for a responsive iframe of ``map_file`` that keeps its aspect ratio at any width.

    The iframe is sandboxed with ``allow-scripts`` only: the map needs nothing else (it fetches
    nothing, stores nothing and opens no window).

    Examples
    --------
    >>> snippet = embed_snippet("emerging.html", 'Hot spots "2025"')
    >>> 'sandbox="allow-scripts"' in snippet, 'title="Hot spots &quot;2025&quot;"' in snippet
    (True, True)
    """
    source = html.escape(map_file, quote=True)
    label = html.escape(title, quote=True)
    return (
        f'<div class="geo-violence-embed" style="position:relative;width:100%;height:0;'
        f'padding-bottom:{aspect * 100:.2f}%;overflow:hidden">\n'
        f'  <iframe src="{source}" title="{label}" sandbox="allow-scripts" loading="lazy" '
        'style="position:absolute;top:0;left:0;width:100%;height:100%;border:0"></iframe>\n'
        "</div>\n"
    )


def write_embed(path: str | Path, map_file: str, title: str) -> Path:
    """Write ``embed.html``: the snippet, with a comment saying where the map file must go.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = write_embed(pathlib.Path(tempfile.mkdtemp()) / "embed.html", "m.html", "T")
    >>> "<iframe" in out.read_text()
    True
    """
    text = (
        f"<!-- geo_violence: paste into a page; publish {html.escape(map_file)} beside it (or "
        "change src to where it is served). -->\n" + embed_snippet(map_file, title)
    )
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
