"""Leaflet's script and stylesheet, read at run time from the installed ``xstatic-leaflet``
package and inlined, so a page works offline and in a sandboxed iframe (no CDN).

``xstatic-leaflet`` ships Leaflet itself (1.9.3); the maps need nothing else (no jQuery,
Bootstrap or icon fonts: they are for markers and widgets we do not use).
"""

from __future__ import annotations

import base64
import functools
import re
from pathlib import Path

import xstatic.pkg.leaflet as xstatic_leaflet

_IMAGE_URL = re.compile(r"url\((?:['\"])?images/([\w.-]+\.png)(?:['\"])?\)")


def _leaflet_folder() -> Path:
    return Path(xstatic_leaflet.BASE_DIR)


@functools.cache
def leaflet_javascript() -> str:
    """Leaflet's minified script, safe to put inside a ``<script>`` element.

    Examples
    --------
    >>> "L.version" in leaflet_javascript() or "version" in leaflet_javascript()
    True
    """
    text = (_leaflet_folder() / "leaflet.js").read_text(encoding="utf-8")
    return text.replace("</script", "<\\/script")


@functools.cache
def leaflet_stylesheet() -> str:
    """Leaflet's stylesheet with its images embedded as data URIs.

    Examples
    --------
    >>> "images/" in leaflet_stylesheet()
    False
    """
    folder = _leaflet_folder()
    text = (folder / "leaflet.css").read_text(encoding="utf-8")

    def embed(match: re.Match) -> str:
        image = (folder / "images" / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(image).decode('ascii')})"

    return _IMAGE_URL.sub(embed, text).replace("</style", "<\\/style")
