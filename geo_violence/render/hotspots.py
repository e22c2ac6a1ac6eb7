"""The map of local hot spots: Gi* classes, with LISA clusters on hover."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from .choropleth import NO_DATA_COLOUR, unit_map

#: Gi* classes as ArcGIS bins them, in a diverging red-blue scheme that is colour-blind safe.
GI_CLASS_STYLE = {
    3: ("#b2182b", "Hot spot, 99% confidence"),
    2: ("#ef8a62", "Hot spot, 95% confidence"),
    1: ("#fddbc7", "Hot spot, 90% confidence"),
    0: ("#f7f7f7", "Not significant"),
    -1: ("#d1e5f0", "Cold spot, 90% confidence"),
    -2: ("#67a9cf", "Cold spot, 95% confidence"),
    -3: ("#2166ac", "Cold spot, 99% confidence"),
}
#: A unit left out of the statistics (an island with ``--islands drop``).
NOT_TESTED_STYLE = (NO_DATA_COLOUR, "Not tested: no neighbour")


def hotspot_map(
    units: gpd.GeoDataFrame, table: pd.DataFrame, *, title: str, path: str | Path
) -> Path:
    """Write the Gi* class map of a hot spot table (see ``stats.hotspots.hotspot_table``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> table = pd.DataFrame({"count": 1, "gi_z": 0.0, "gi_q": 1.0, "gi_class": 0,
    ...                       "lisa_cluster": "not significant"}, index=units.index)
    >>> out = hotspot_map(units, table, title="T", path=pathlib.Path(tempfile.mkdtemp()) / "h.html")
    >>> "Not significant" in out.read_text()
    True
    """
    style = table["gi_class"].map(
        lambda value: NOT_TESTED_STYLE if pd.isna(value) else GI_CLASS_STYLE[int(value)]
    )
    colours = style.map(lambda pair: pair[0])
    details = pd.DataFrame(
        {
            "incidents": table["count"],
            "Gi* class": style.map(lambda pair: pair[1]),
            "Gi* z": table["gi_z"],
            "q (after correction)": table["gi_q"],
            "LISA cluster": table["lisa_cluster"],
        }
    )
    if "rate" in table:
        details.insert(1, "rate per 100,000", table["rate"])
    legend = list(GI_CLASS_STYLE.values())
    if table["gi_class"].isna().any():
        legend.append(NOT_TESTED_STYLE)
    return unit_map(units, colours, legend=legend, title=title, details=details, path=path)
