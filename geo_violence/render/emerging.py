"""The map of emerging hot spot categories, in colours a reader of ArcGIS maps recognises."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from .choropleth import unit_map

#: Colour and one-sentence explanation of each category: reds for hot, blues for cold, darker
#: for the newer and stronger patterns.
CATEGORY_STYLE = {
    1: ("#67000d", "New hot spot: hot in the last step, never before."),
    2: ("#a50f15", "Consecutive hot spot: hot in an unbroken run of recent steps, not before."),
    3: ("#cb181d", "Intensifying hot spot: hot almost always, and getting hotter."),
    4: ("#ef3b2c", "Persistent hot spot: hot almost always, with no clear trend."),
    5: ("#fb6a4a", "Diminishing hot spot: hot almost always, but cooling."),
    6: ("#fc9272", "Sporadic hot spot: hot now and on and off before, never cold."),
    7: ("#fcbba1", "Oscillating hot spot: hot now, but cold at some earlier step."),
    8: ("#fee0d2", "Historical hot spot: hot almost always, but not in the last step."),
    0: ("#f7f7f7", "No pattern."),
    -8: ("#deebf7", "Historical cold spot: cold almost always, but not in the last step."),
    -7: ("#c6dbef", "Oscillating cold spot: cold now, but hot at some earlier step."),
    -6: ("#9ecae1", "Sporadic cold spot: cold now and on and off before, never hot."),
    -5: ("#6baed6", "Diminishing cold spot: cold almost always, but warming."),
    -4: ("#4292c6", "Persistent cold spot: cold almost always, with no clear trend."),
    -3: ("#2171b5", "Intensifying cold spot: cold almost always, and getting colder."),
    -2: ("#08519c", "Consecutive cold spot: cold in an unbroken run of recent steps."),
    -1: ("#08306b", "New cold spot: cold in the last step, never before."),
}


def emerging_map(
    units: gpd.GeoDataFrame, table: pd.DataFrame, *, title: str, path: str | Path
) -> Path:
    """Write the map of emerging hot spot categories (``table`` indexed like ``units``).

    Only the categories present are in the legend.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> table = pd.DataFrame({"category_code": 0, "category": "no pattern", "total": 1,
    ...                       "last_count": 0, "last_z": 0.0, "mk_tau": 0.0}, index=units.index)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "e.html"
    >>> out = emerging_map(units, table, title="T", path=path)
    >>> "No pattern." in out.read_text()
    True
    """
    codes = table["category_code"].astype(int)
    colours = codes.map(lambda code: CATEGORY_STYLE[code][0])
    present = set(codes)
    legend = [style for code, style in CATEGORY_STYLE.items() if code in present]
    details = pd.DataFrame(
        {
            "category": table["category"],
            "incidents": table["total"],
            "in the last step": table["last_count"],
            "last step's Gi* z": table["last_z"],
            "trend (Mann-Kendall tau)": table["mk_tau"],
        }
    )
    return unit_map(units, colours, legend=legend, title=title, details=details, path=path)
