"""The fetch jobs: a catalogue layer's boundaries into the cache (crimes go through
:func:`geo_violence.sources.portal.pull_crimes` directly)."""

from __future__ import annotations

from pathlib import Path

from ..errors import OptionError
from ..sources.cache import fetch_boundaries
from ..units.catalogue import catalogue


def run_fetch_boundaries(layer: str, *, base_url: str, timeout: float = 60.0) -> Path:
    """Download a catalogue layer's GeoJSON from the portal into the cache, with its sha256.

    Parameters
    ----------
    layer : str
        A catalogue layer with a portal dataset (``beats``, ``districts``, ``wards``,
        ``community_areas``).
    base_url : str
        The portal (``https://data.cityofchicago.org``, or a local stand-in).
    timeout : float
        Seconds to wait for an answer.

    Returns
    -------
    Path
        The cached file; ``load_units(layer)`` reads it from then on.

    Examples
    --------
    >>> run_fetch_boundaries("nowhere", base_url="http://127.0.0.1:9")
    Traceback (most recent call last):
    ...
    geo_violence.errors.OptionError: 'layer' was 'nowhere' but is expected to be in [...]
    """
    layers = catalogue()
    if layer not in layers or not layers[layer].portal_id:
        known = sorted(name for name, spec in layers.items() if spec.portal_id)
        raise OptionError.expected("layer", layer, known)
    return fetch_boundaries(layer, layers[layer].portal_id, base_url=base_url, timeout=timeout)
