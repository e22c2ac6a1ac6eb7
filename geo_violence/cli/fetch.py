"""``geo-violence fetch``: the portal's crimes into a store, a layer's boundaries into the cache."""

from __future__ import annotations

from pathlib import Path

import click

from ..choices import CRIMES_DATASET, DEFAULT_BASE_URL
from .app import Group, logger, main
from .options import COUNT, split_values


@main.group(cls=Group)
def fetch() -> None:
    """Download from the city's data portal: crimes into a store, boundaries into the cache."""


@fetch.command("crimes")
@click.option("--since", required=True, help="First day of the records kept, YYYY-MM-DD.")
@click.option(
    "--types", multiple=True, help="Primary types to keep (HOMICIDE,...); all when not given."
)
@click.option(
    "--out",
    "store",
    type=click.Path(path_type=Path),
    required=True,
    help="The Parquet store, kept and updated between pulls.",
)
@click.option(
    "--base-url",
    default=DEFAULT_BASE_URL,
    show_default=True,
    help="The open data portal (Socrata) to read from.",
)
@click.option(
    "--dataset",
    default=CRIMES_DATASET,
    show_default=True,
    help="The portal's dataset id (4x4) of the crimes.",
)
@click.option(
    "--page-size",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="Records asked for per request.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds to wait for an answer.",
)
@click.option(
    "--retries",
    type=COUNT,
    default=5,
    show_default=True,
    help="Tries again this many times, waiting longer each time, when the portal fails.",
)
def fetch_crimes(since, types, store, base_url, dataset, page_size, timeout, retries) -> None:
    """New, corrected and deleted records since the last pull ("Crimes - 2001 to Present").

    The app token, if any, is read from the GEO_VIOLENCE_APP_TOKEN environment variable.
    Exit status 2 when the portal is unavailable, 3 when its records changed shape.
    """
    from ..sources.portal import FetchOptions, pull_crimes  # here: --help stays fast

    result = pull_crimes(
        store,
        since=since,
        types=split_values(types),
        options=FetchOptions(
            base_url=base_url,
            dataset=dataset,
            page_size=page_size,
            timeout=timeout,
            retries=retries,
        ),
    )
    logger.info(
        "%s: %d records (%d fetched, %d replaced, %d deleted; newest update %s)",
        store,
        result.records,
        result.fetched,
        result.replaced,
        result.deleted,
        result.last_updated,
    )


@fetch.command("boundaries")
@click.argument("layer", type=click.Choice(["beats", "districts", "wards", "community_areas"]))
@click.option(
    "--base-url",
    default=DEFAULT_BASE_URL,
    show_default=True,
    help="The open data portal (Socrata) to read from.",
)
def fetch_boundaries_command(layer: str, base_url: str) -> None:
    """Store a layer's GeoJSON in the cache (GEO_VIOLENCE_CACHE moves it), with its sha256,
    so that --units LAYER works with no file option."""
    from ..jobs.fetch import run_fetch_boundaries  # here: --help stays fast

    path = run_fetch_boundaries(layer, base_url=base_url)
    logger.info("stored %s", path)
