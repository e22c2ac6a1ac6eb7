"""The snippet a newsroom pastes into an article: a sandboxed iframe of a map that takes the
height of its content, with a static picture for readers without scripts.

The map page, when it runs in an iframe, posts its height to the host page in the messages of
Pym.js (NPR's protocol, which many newsroom CMSs already answer)::

    "pymxPYMx" + id + "xPYMxheightxPYMx" + pixels

``id`` is the iframe's ``childId`` query parameter (empty without one); the page sends it when it
loads, whenever its height changes (a table opened, the width changed) and in answer to Pym's
``width`` messages. A host that already uses Pym.js (``new pym.Parent(id, "emerging.html")``)
needs nothing more; any other host needs the few lines of :data:`HOST_SCRIPT`, which the snippet
carries: they set the height of the iframe whose window sent the message (a sandboxed page has no
origin to check; its window is what identifies it).
"""

from __future__ import annotations

import html
from pathlib import Path

from ..outputs import write_atomically

#: Height of the iframe until the map tells its own, in pixels.
INITIAL_HEIGHT = 560
#: The host page's side: resize each ``iframe[data-geo-violence]`` to the height its page posts.
HOST_SCRIPT = (
    "<script>(function () {\n"
    "  if (window.geoViolenceHost) return;\n"
    "  window.geoViolenceHost = true;\n"
    '  window.addEventListener("message", function (event) {\n'
    '    if (typeof event.data !== "string") return;\n'
    "    var match = /^pymxPYMx.*xPYMxheightxPYMx(\\d+)$/.exec(event.data);\n"
    "    if (!match) return;\n"
    '    var frames = document.querySelectorAll("iframe[data-geo-violence]");\n'
    "    for (var i = 0; i < frames.length; i++) {\n"
    "      if (frames[i].contentWindow === event.source) {\n"
    '        frames[i].style.height = match[1] + "px";\n'
    "      }\n"
    "    }\n"
    "  });\n"
    "})();</script>\n"
)


def embed_snippet(
    map_file: str,
    title: str,
    *,
    picture: str | None = None,
    description: str = "",
    child_id: str = "geo-violence-map",
) -> str:
    """HTML of a sandboxed iframe of ``map_file`` that takes its content's height.

    The iframe is sandboxed with ``allow-scripts`` only: the map needs nothing else (it fetches
    nothing, stores nothing and opens no window). Readers without scripts see ``picture`` (a PNG
    of the map) with ``description`` as its alternative text, or the description and a link.

    Examples
    --------
    >>> snippet = embed_snippet("emerging.html", 'Hot spots "2025"', picture="emerging.png",
    ...                         description="2 hot spots")
    >>> 'sandbox="allow-scripts"' in snippet, 'title="Hot spots &quot;2025&quot;"' in snippet
    (True, True)
    >>> '<noscript><img src="emerging.png" alt="2 hot spots"' in snippet
    True
    """
    source = html.escape(f"{map_file}?childId={child_id}", quote=True)
    label = html.escape(title, quote=True)
    alt = html.escape(description or title, quote=True)
    if picture is not None:
        fallback = (
            f'<img src="{html.escape(picture, quote=True)}" alt="{alt}" '
            'style="display:block;width:100%;height:auto">'
        )
    else:
        fallback = f'<p>{alt} <a href="{html.escape(map_file, quote=True)}">Open the map</a>.</p>'
    return (
        '<div class="geo-violence-embed">\n'
        f'  <iframe src="{source}" title="{label}" data-geo-violence sandbox="allow-scripts" '
        f'loading="lazy" scrolling="no" style="display:block;width:100%;height:{INITIAL_HEIGHT}px;'
        'border:0"></iframe>\n'
        f"  <noscript>{fallback}</noscript>\n"
        "</div>\n" + HOST_SCRIPT
    )


def write_embed(
    path: str | Path,
    map_file: str,
    title: str,
    *,
    picture: str | None = None,
    description: str = "",
) -> Path:
    """Write ``embed.html``: the snippet, with a comment saying where the map file must go.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = write_embed(pathlib.Path(tempfile.mkdtemp()) / "embed.html", "m.html", "T")
    >>> text = out.read_text()
    >>> "<iframe" in text, "xPYMxheightxPYMx" in text
    (True, True)
    """
    files = html.escape(map_file) + (f" and {html.escape(picture)}" if picture else "")
    text = (
        f"<!-- geo_violence: paste into a page; publish {files} beside it (or change src to "
        "where it is served). The map posts its height (Pym.js's messages) and the script below "
        "sizes the iframe to it; a page that uses Pym.js already may leave the script out. -->\n"
        + embed_snippet(map_file, title, picture=picture, description=description)
    )
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
