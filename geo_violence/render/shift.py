"""The map of a period comparison: where violence rose or fell more than chance, and how."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .page import NO_DATA_COLOUR, MapContent, write_map
from .static import panels_png

#: Colour and one-sentence explanation of each label, in ColorBrewer's RdBu (colour-blind safe):
#: reds where the rate rose, blues where it fell, darker where the area was not a hot spot before.
LABEL_STYLE = {
    "emerging": ("#b2182b", "Emerging: the rate rose, in an area that was not a hot spot before."),
    "intensifying": ("#ef8a62", "Intensifying: the rate rose in an area already a hot spot."),
    "stable": ("#f7f7f7", "Stable: no change larger than chance."),
    "cooling": ("#67a9cf", "Cooling: the rate fell, in an area that was not a hot spot before."),
    "fading": ("#2166ac", "Fading: the rate fell in an area that was a hot spot before."),
}


def shift_content(
    table: pd.DataFrame, *, title: str, rate_label: str, subtitle: str = "", source: str = ""
) -> MapContent:
    """What the shift map shows, from a comparison table (``stats.shift.compare_periods``).

    Hover shows both rates and the rate ratio with its interval; the popup adds the p- and
    q-values, the shares of the city's total and the change cluster.

    Examples
    --------
    >>> table = pd.DataFrame({"label": ["emerging"], "count_before": [10], "count_after": [22],
    ...     "rate_before": [2.0], "rate_after": [5.5], "rate_ratio": [2.75],
    ...     "rate_ratio_low": [1.25], "rate_ratio_high": [6.5], "p_value": [0.007],
    ...     "q_value": [0.08], "share_before": [0.003], "share_after": [0.007],
    ...     "share_p": [0.03], "change_cluster": ["not significant"]}, index=["32"])
    >>> shift_content(table, title="T", rate_label="per year").hover.iloc[0].tolist()
    ['emerging', '2 | 5.5', '2.75 (1.25 to 6.5)']
    """
    colours = table["label"].map(lambda label: LABEL_STYLE[label][0]).fillna(NO_DATA_COLOUR)
    present = set(table["label"])
    legend = [style for label, style in LABEL_STYLE.items() if label in present]
    rates = [
        f"{_number(before)} | {_number(after)}"
        for before, after in zip(table["rate_before"], table["rate_after"], strict=True)
    ]
    ratios = rate_ratio_texts(table, "rate_ratio", "rate_ratio_low", "rate_ratio_high")
    hover = pd.DataFrame(
        {
            "change": table["label"],
            f"rate before | after ({rate_label})": rates,
            "rate ratio (95% interval)": ratios,
        },
        index=table.index,
    )
    popup = pd.DataFrame(
        {
            "events before | after": [
                f"{before:,} | {after:,}"
                for before, after in zip(table["count_before"], table["count_after"], strict=True)
            ],
            f"rate before | after ({rate_label})": rates,
            "rate ratio (95% interval)": ratios,
            "p | q (after correction)": [
                f"{p:.3g} | {q:.3g}"
                for p, q in zip(table["p_value"], table["q_value"], strict=True)
            ],
            "share of the city before | after (p)": [
                f"{before:.1%} | {after:.1%} ({p:.2g})"
                for before, after, p in zip(
                    table["share_before"], table["share_after"], table["share_p"], strict=True
                )
            ],
            "change cluster (local Moran)": table["change_cluster"],
        },
        index=table.index,
    )
    return MapContent(
        title=title,
        colours=colours,
        legend=legend,
        hover=hover,
        popup=popup,
        heading=table["label"].str.capitalize(),
        sentence=table["label"].map(lambda label: LABEL_STYLE[label][1]),
        subtitle=subtitle,
        source=source,
        legend_title="Change between the periods (red: rose, blue: fell)",
    )


def shift_map(
    units: gpd.GeoDataFrame,
    table: pd.DataFrame,
    *,
    title: str,
    rate_label: str,
    path: str | Path,
    subtitle: str = "",
    source: str = "",
    basemap: str = "none",
) -> Path:
    """Write the diverging map of a comparison table (see :func:`shift_content`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> table = pd.DataFrame({"label": "stable", "count_before": 1, "count_after": 1,
    ...     "rate_before": 1.0, "rate_after": 1.0, "rate_ratio": 1.0, "rate_ratio_low": 0.1,
    ...     "rate_ratio_high": 9.0, "p_value": 1.0, "q_value": 1.0, "share_before": 0.01,
    ...     "share_after": 0.01, "share_p": 1.0, "change_cluster": "not significant"},
    ...     index=units.index)
    >>> out = shift_map(units, table, title="T", rate_label="per year",
    ...                 path=pathlib.Path(tempfile.mkdtemp()) / "s.html")
    >>> "Stable: no change larger than chance." in out.read_text()
    True
    """
    content = shift_content(
        table, title=title, rate_label=rate_label, subtitle=subtitle, source=source
    )
    return write_map(units, content, path, basemap=basemap)


def shift_png(
    units: gpd.GeoDataFrame,
    table: pd.DataFrame,
    *,
    title: str,
    rate_label: str,
    path: str | Path,
) -> Path:
    """Write ``before | after | change`` side by side, for print: both rates on one scale."""
    colours = table["label"].map(lambda label: LABEL_STYLE[label][0]).fillna(NO_DATA_COLOUR)
    present = set(table["label"])
    return panels_png(
        units,
        rates={
            f"before ({rate_label})": table["rate_before"],
            f"after ({rate_label})": table["rate_after"],
        },
        categories=(
            "change",
            colours,
            [(c, t.split(":")[0]) for k, (c, t) in LABEL_STYLE.items() if k in present],
        ),
        title=title,
        path=path,
    )


def rate_ratio_texts(
    table: pd.DataFrame,
    ratio: str,
    low: str,
    high: str,
    *,
    suffix: str = "",
    missing: str | None = None,
) -> list[str]:
    """:func:`rate_ratio_text` of each row's ``ratio``, ``low`` and ``high`` columns, with
    ``suffix``; a missing ratio gives ``missing`` (by default, :func:`rate_ratio_text`'s words).

    Examples
    --------
    >>> table = pd.DataFrame({"r": [2.0, float("nan")], "l": [1.0, 0.0], "h": [4.0, 1.0]})
    >>> rate_ratio_texts(table, "r", "l", "h", suffix=" a year", missing="")
    ['2 (1 to 4) a year', '']
    """
    return [
        missing
        if missing is not None and not np.isfinite(value)
        else rate_ratio_text(value, lo, hi) + suffix
        for value, lo, hi in zip(table[ratio], table[low], table[high], strict=True)
    ]


def rate_ratio_text(ratio: float, low: float, high: float) -> str:
    """The rate ratio with its interval, as a reader sees it.

    Examples
    --------
    >>> rate_ratio_text(2.75, 1.25, 6.5), rate_ratio_text(float("inf"), 0.8, float("inf"))
    ('2.75 (1.25 to 6.5)', 'none before (0.8 to no upper bound)')
    >>> rate_ratio_text(float("nan"), float("nan"), float("nan"))
    'no event in either period'
    """
    if np.isnan(ratio):
        return "no event in either period"
    upper = "no upper bound" if np.isinf(high) else f"{high:.3g}"
    shown = "none before" if np.isinf(ratio) else f"{ratio:.3g}"
    return f"{shown} ({low:.3g} to {upper})"


def _number(value: float) -> str:
    return "no population" if not np.isfinite(value) else f"{value:,.3g}"
