"""The user's cache folder: boundary files downloaded from the portal, with their sha256.

``GEO_VIOLENCE_CACHE`` moves it; by default it is ``$XDG_CACHE_HOME/geo_violence`` (or
``~/.cache/geo_violence``). Each layer is ``boundaries/KEY.geojson`` beside ``KEY.json``, which
records where it came from, when, and its sha256: a file that no longer matches its hash is not
used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from pathlib import Path

from ..errors import InputFileError
from ..outputs import file_lock, write_atomically
from .portal import FetchOptions, PortalClient, SourceUnavailableError

logger = logging.getLogger(__name__)

CACHE_VARIABLE = "GEO_VIOLENCE_CACHE"


def cache_folder() -> Path:
    """Where downloads are kept.

    Examples
    --------
    >>> import os
    >>> os.environ["GEO_VIOLENCE_CACHE"] = "/tmp/gv-cache"
    >>> str(cache_folder())
    '/tmp/gv-cache'
    >>> del os.environ["GEO_VIOLENCE_CACHE"]
    """
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "geo_violence"


def cached_boundaries(key: str) -> Path | None:
    """The cached file of a layer when it is there and matches its recorded sha256."""
    folder = cache_folder() / "boundaries"
    path, record = folder / f"{key}.geojson", folder / f"{key}.json"
    if not path.exists() or not record.exists():
        return None
    try:
        expected = json.loads(record.read_text(encoding="utf-8"))["sha256"]
    except (OSError, ValueError, KeyError):
        logger.warning("the cache record %s is unreadable: not using %s", record, path)
        return None
    if _sha256(path.read_bytes()) != expected:
        logger.warning("%s no longer matches its sha256: fetch it again", path)
        return None
    return path


def store_boundaries(key: str, body: bytes, url: str) -> Path:
    """Keep a downloaded layer in the cache with its sha256 and origin."""
    try:
        geojson = json.loads(body)
    except ValueError as error:
        raise InputFileError(f"{url} did not return GeoJSON ({error})") from error
    if not isinstance(geojson, dict) or not geojson.get("features"):
        raise InputFileError(f"{url} returned no features")
    folder = cache_folder() / "boundaries"
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / f".{key}.lock", what=f"storing the {key} boundaries"):
        return _store(folder, key, body, url, len(geojson["features"]))


def _store(folder: Path, key: str, body: bytes, url: str, features: int) -> Path:
    """Write the layer and its record (holding the layer's lock: the two always match)."""
    path = write_atomically(
        folder / f"{key}.geojson", lambda temporary: temporary.write_bytes(body)
    )
    record = {
        "url": url,
        "sha256": _sha256(body),
        "bytes": len(body),
        "features": features,
        "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    text = json.dumps(record, indent=1)
    write_atomically(folder / f"{key}.json", lambda temporary: temporary.write_text(text))
    return path


def fetch_boundaries(key: str, dataset: str, *, base_url: str, timeout: float = 60.0) -> Path:
    """Download a layer's GeoJSON from the portal's ``dataset`` into the cache under ``key``.

    :func:`geo_violence.jobs.fetch.run_fetch_boundaries` looks the dataset up in the catalogue.

    Raises
    ------
    SourceUnavailableError
        The portal did not answer, or returned an empty body.
    InputFileError
        The body is not GeoJSON with features.
    """
    client = PortalClient(FetchOptions(base_url=base_url, dataset=dataset, timeout=timeout))
    url = client.resource_url({"$limit": 100_000}).replace(".json?", ".geojson?")
    body = client.get_bytes(url)
    if not body:
        raise SourceUnavailableError(f"{url} returned an empty body")
    return store_boundaries(key, body, url)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
