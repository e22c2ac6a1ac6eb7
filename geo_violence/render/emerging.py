"""The map of emerging hot spot categories, in colours a reader of ArcGIS maps recognises, with
the week slider over the Gi* bins and each unit's weekly counts in its popup."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..stats.emerging import recent_text
from .page import HATCHED, MapContent, MapSeries, write_map
from .shift import rate_ratio_texts

#: Colour and one-sentence explanation of each category, in the colours every map here uses:
#: warm (reds, oranges) where violence concentrates, darker for the newer and stronger patterns;
#: blue where a hot spot is fading (diminishing, historical: the blues of ``shift.html``'s
#: "fading" and "cooling"); purple where few incidents cluster (cold spots). Diminishing (blue)
#: and sporadic (orange) are never confused.
CATEGORY_STYLE = {
    1: ("#67000d", "New hot spot: hot in the last step, never before."),
    2: ("#a50f15", "Consecutive hot spot: hot in an unbroken run of recent steps, not before."),
    3: ("#cb181d", "Intensifying hot spot: hot almost always, and getting hotter."),
    4: ("#ef3b2c", "Persistent hot spot: hot almost always, with no clear trend."),
    6: ("#fd8d3c", "Sporadic hot spot: hot now and on and off before, never cold."),
    7: ("#fdd0a2", "Oscillating hot spot: hot now, but cold at some earlier step."),
    5: ("#2166ac", "Diminishing hot spot, fading: hot almost always, but cooling."),
    8: ("#67a9cf", "Historical hot spot, faded: hot almost always before, not in the last step."),
    0: ("#f7f7f7", "No pattern."),
    -8: ("#efedf5", "Historical cold spot: cold almost always, but not in the last step."),
    -7: ("#dadaeb", "Oscillating cold spot: cold now, but hot at some earlier step."),
    -6: ("#bcbddc", "Sporadic cold spot: cold now and on and off before, never hot."),
    -5: ("#9e9ac8", "Diminishing cold spot: cold almost always, but warming."),
    -4: ("#807dba", "Persistent cold spot: cold almost always, with no clear trend."),
    -3: ("#6a51a3", "Intensifying cold spot: cold almost always, and getting colder."),
    -2: ("#54278f", "Consecutive cold spot: cold in an unbroken run of recent steps."),
    -1: ("#3f007d", "New cold spot: cold in the last step, never before."),
}
#: The lead's suffix of a category whose unit has no incident of its own in the period.
NEIGHBOURS_ONLY = " (neighbours only)"
#: What the legend's colours say, above its classes.
LEGEND_TITLE = (
    "Category: red where violence concentrates, blue where it fades, purple where it stays low"
)


def neighbours_only_style(colour: str, label: str) -> tuple[str, str]:
    """The legend row of a class's units that have no incident of their own: striped.

    Examples
    --------
    >>> colour, label = neighbours_only_style("#a50f15", "Consecutive hot spot: hot in a run.")
    >>> colour, label.split(":")[0]
    ('hatched #a50f15', 'Consecutive hot spot (neighbours only, striped)')
    """
    name = label.split(":")[0].rstrip(".").split(",")[0]
    return (
        HATCHED + colour,
        f"{name}{NEIGHBOURS_ONLY[:-1]}, striped): no incident of its own; its neighbours make "
        "it one.",
    )


def emerging_content(
    table: pd.DataFrame,
    *,
    title: str,
    series: MapSeries | None = None,
    subtitle: str = "",
    source: str = "",
    recent_steps: int | None = None,
) -> MapContent:
    """What the emerging map shows, from ``emerging.csv``'s table indexed by unit id.

    With ``recent_steps`` (the analysis's recent window) and the table's ``recent_hot_share``,
    ``last_hot_run`` and ``recent_rate_ratio`` columns, the popup says in words what the rules
    may call sporadic: "hot in 7 of the last 8 weeks, the last 3 in a row", and the rate of
    those weeks against the ones before.

    Only the categories present are in the legend.

    Examples
    --------
    >>> table = pd.DataFrame({"category_code": [2], "category": ["consecutive hot spot"],
    ...     "total": [40], "last_count": [9], "last_z": [4.1], "last_p": [0.0001],
    ...     "mk_tau": [0.3], "mk_p": [0.001], "sen_slope": [0.02], "hot_fraction": [0.1]},
    ...     index=pd.Index(["32"], name="unit_id"))
    >>> content = emerging_content(table, title="T")
    >>> content.sentence.tolist()
    ['Consecutive hot spot: hot in an unbroken run of recent steps, not before.']
    """
    codes = table["category_code"].astype(int)
    alone = neighbours_only(table, codes, "total")
    colours = pd.Series(
        [
            (HATCHED if lone else "") + CATEGORY_STYLE[code][0]
            for code, lone in zip(codes, alone, strict=True)
        ],
        index=table.index,
    )
    categories = pd.Series(
        [
            text + (NEIGHBOURS_ONLY if lone and not text.endswith(NEIGHBOURS_ONLY) else "")
            for text, lone in zip(table["category"].astype(str), alone, strict=True)
        ],
        index=table.index,
    )
    legend = []
    for code, style in CATEGORY_STYLE.items():
        if (codes[~alone] == code).any():
            legend.append(style)
        if (codes[alone] == code).any():
            legend.append(neighbours_only_style(*style))
    step = series.step_name if series is not None else "step"
    trend = [
        _trend_text(tau, p, slope)
        for tau, p, slope in zip(table["mk_tau"], table["mk_p"], table["sen_slope"], strict=True)
    ]
    hover = pd.DataFrame(
        {
            "category": categories,
            "incidents": table["total"],
            f"last {step}": table["last_count"],
        }
    )
    popup = pd.DataFrame(
        {
            "incidents, all steps": table["total"],
            f"incidents, last {step}": table["last_count"],
            f"last {step}'s Gi* z": table["last_z"],
            f"last {step}'s p": table["last_p"],
            f"share of {step}s hot": table["hot_fraction"].map(
                lambda v: "" if pd.isna(v) else f"{v:.0%}"
            ),
            "trend of the z-scores": trend,
        },
        index=table.index,
    )
    if recent_steps and {"recent_hot_share", "last_hot_run"} <= set(table.columns):
        popup[f"the last {recent_steps} {step}s"] = [
            recent_text(share, run, recent_steps, step)
            for share, run in zip(table["recent_hot_share"], table["last_hot_run"], strict=True)
        ]
    if "recent_rate_ratio" in table.columns:
        popup["their rate against the steps before (95% interval)"] = rate_ratio_texts(
            table,
            "recent_rate_ratio",
            "recent_rate_ratio_low",
            "recent_rate_ratio_high",
            missing="",
        )
    return MapContent(
        title=title,
        colours=colours,
        legend=legend,
        hover=hover,
        popup=popup,
        heading=categories.str.capitalize(),
        sentence=pd.Series(
            [
                CATEGORY_STYLE[code][1] + (NEIGHBOURS_ONLY_SENTENCE if lone else "")
                for code, lone in zip(codes, alone, strict=True)
            ],
            index=table.index,
        ),
        subtitle=subtitle,
        source=source,
        series=series,
        legend_title=LEGEND_TITLE,
    )


def emerging_map(
    units: gpd.GeoDataFrame,
    table: pd.DataFrame,
    *,
    title: str,
    path: str | Path,
    series: MapSeries | None = None,
    subtitle: str = "",
    source: str = "",
    basemap: str = "none",
) -> Path:
    """Write the map of emerging hot spot categories (``table`` indexed like ``units``).

    With ``series`` (weekly counts and Gi* bins), popups show each unit's weekly counts as a
    sparkline and a slider steps through the weeks, recolouring the units by each week's bin.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> table = pd.DataFrame({"category_code": 0, "category": "no pattern", "total": 1,
    ...     "last_count": 0, "last_z": 0.0, "last_p": 1.0, "mk_tau": 0.0, "mk_p": 1.0,
    ...     "sen_slope": 0.0, "hot_fraction": 0.0}, index=units.index)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "e.html"
    >>> out = emerging_map(units, table, title="T", path=path)
    >>> "No pattern." in out.read_text()
    True
    """
    content = emerging_content(table, title=title, series=series, subtitle=subtitle, source=source)
    return write_map(units, content, path, basemap=basemap)


#: Said of a unit called a hot spot whose own incidents are none: its neighbours make it one.
NEIGHBOURS_ONLY_SENTENCE = (
    " No incident of its own in the period: its neighbours' incidents make it one (a hot "
    "region, not a hot place)."
)


def neighbours_only(table: pd.DataFrame, codes: pd.Series, count_column: str) -> pd.Series:
    """Whether each unit is a hot spot only through its neighbours: its category says so (the
    suffix " (neighbours only)"), or it is hot with no incident of its own.

    Examples
    --------
    >>> table = pd.DataFrame({"category": ["consecutive hot spot", "new hot spot (neighbours only)",
    ...     "consecutive hot spot"], "total": [4, 0, 0]})
    >>> neighbours_only(table, pd.Series([2, 1, 2]), "total").tolist()
    [False, True, True]
    """
    hot = codes.to_numpy() > 0
    said = (
        table["category"].astype(str).str.endswith(NEIGHBOURS_ONLY).to_numpy()
        if "category" in table
        else np.zeros(len(table), dtype=bool)
    )
    none_own = (
        (pd.to_numeric(table[count_column], errors="coerce").fillna(0) == 0).to_numpy()
        if count_column in table
        else np.zeros(len(table), dtype=bool)
    )
    return pd.Series(said | (hot & none_own), index=table.index)


def _trend_text(tau: float, p: float, slope: float) -> str:
    """Mann-Kendall's verdict in words.

    Examples
    --------
    >>> _trend_text(0.31, 0.001, 0.012)
    'rising (tau 0.31, p 0.001; Sen slope 0.012 a step)'
    >>> _trend_text(-0.02, 0.6, -0.001)
    'no significant trend (tau -0.02, p 0.6)'
    """
    if not np.isfinite(tau):
        return "not tested"
    if p <= 0.05:
        word = "rising" if tau > 0 else "falling"
        return f"{word} (tau {tau:.2f}, p {p:.2g}; Sen slope {slope:.2g} a step)"
    return f"no significant trend (tau {tau:.2f}, p {p:.2g})"
