"""The map of local hot spots: Gi* classes, with the LISA cluster on hover and in the popup."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .emerging import NEIGHBOURS_ONLY_SENTENCE, neighbours_only, neighbours_only_style
from .page import BIN_COLOURS, HATCHED, NO_DATA_COLOUR, MapContent, MapSeries, write_map

#: Gi* classes as ArcGIS bins them: hot in reds, cold in purples (blue means fading on every map
#: here), colour-blind safe.
GI_CLASS_STYLE = {
    3: (BIN_COLOURS[6], "Hot spot, 99% confidence: far more incidents around it than chance."),
    2: (BIN_COLOURS[5], "Hot spot, 95% confidence."),
    1: (BIN_COLOURS[4], "Hot spot, 90% confidence."),
    0: (BIN_COLOURS[3], "Not significant: no more or fewer than chance would give."),
    -1: (BIN_COLOURS[2], "Cold spot, 90% confidence."),
    -2: (BIN_COLOURS[1], "Cold spot, 95% confidence."),
    -3: (BIN_COLOURS[0], "Cold spot, 99% confidence: far fewer incidents around it."),
}
#: A unit left out of the statistics (an island with ``--islands drop``).
NOT_TESTED_STYLE = (NO_DATA_COLOUR, "Not tested: no neighbour.")


def hotspot_content(
    table: pd.DataFrame,
    *,
    title: str,
    subtitle: str = "",
    source: str = "",
    series: MapSeries | None = None,
) -> MapContent:
    """What the hot spot map shows, from a hot spot table (``stats.hotspots.hotspot_table``).

    Examples
    --------
    >>> table = pd.DataFrame({"count": [4], "gi_z": [3.2], "gi_q": [0.004], "gi_class": [3],
    ...                       "lisa_cluster": ["HH"]}, index=pd.Index(["32"], name="unit_id"))
    >>> content = hotspot_content(table, title="T")
    >>> content.heading.tolist(), content.colours.tolist()
    (['Hot spot, 99% confidence'], ['#b2182b'])
    """
    style = table["gi_class"].map(
        lambda value: NOT_TESTED_STYLE if pd.isna(value) else GI_CLASS_STYLE[int(value)]
    )
    classes = pd.to_numeric(table["gi_class"], errors="coerce").fillna(0).astype(int)
    alone = neighbours_only(table, classes, "count")
    colours = pd.Series(
        [(HATCHED if lone else "") + pair[0] for pair, lone in zip(style, alone, strict=True)],
        index=table.index,
    )
    headings = style.map(lambda pair: pair[1].split(":")[0].rstrip("."))
    headings = headings.where(~alone, headings + " (neighbours only)")
    hover = pd.DataFrame({"incidents": table["count"], "Gi* class": headings})
    if "rate" in table:
        hover.insert(1, "rate per 100,000", table["rate"])
    hover["LISA cluster"] = table["lisa_cluster"]
    popup = hover.drop(columns="Gi* class").assign(
        **{"Gi* z": table["gi_z"], "q (after correction)": table["gi_q"]}
    )
    popup = popup[[c for c in popup.columns if c != "LISA cluster"] + ["LISA cluster"]]
    legend = []
    for value, row in GI_CLASS_STYLE.items():
        legend.append(row)
        if (alone & (classes == value) & table["gi_class"].notna()).any():
            legend.append(neighbours_only_style(*row))
    if table["gi_class"].isna().any():
        legend.append(NOT_TESTED_STYLE)
    sentence = pd.Series(
        np.where(alone, NEIGHBOURS_ONLY_SENTENCE.strip(), ""), index=table.index, dtype=object
    )
    return MapContent(
        title=title,
        colours=colours,
        legend=legend,
        hover=hover,
        popup=popup,
        heading=headings,
        sentence=sentence,
        subtitle=subtitle,
        source=source,
        series=series,
        legend_title="Gi* hot and cold spots (red: hot, purple: cold)",
    )


def hotspot_map(
    units: gpd.GeoDataFrame,
    table: pd.DataFrame,
    *,
    title: str,
    path: str | Path,
    subtitle: str = "",
    source: str = "",
    basemap: str = "none",
) -> Path:
    """Write the Gi* class map of a hot spot table (see :func:`hotspot_content`).

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
    content = hotspot_content(table, title=title, subtitle=subtitle, source=source)
    return write_map(units, content, path, basemap=basemap)
