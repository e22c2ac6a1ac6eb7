"""The map of rising and falling units: the labels in ``shift.html``'s colours, each unit's series
with its fitted trend in the popup."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .page import NO_DATA_COLOUR, MapContent, MapSeries
from .shift import LABEL_STYLE, rate_ratio_texts


def trends_content(
    table: pd.DataFrame,
    *,
    counts: np.ndarray,
    trend_line: np.ndarray,
    dates: list[str],
    step_name: str,
    rate_label: str,
    title: str,
    subtitle: str = "",
    source: str = "",
) -> MapContent:
    """What the trends map shows, from :func:`geo_violence.stats.trends.detect_trends`'s table.

    Hover: the label, the rate ratio per year with its interval, where the change began. The
    popup adds the unit's counts with its fitted trend (dashed), the rates of the first and
    last year, p and q, the change's interval, the unit against the city, and its neighbourhood.

    Examples
    --------
    >>> table = pd.DataFrame({"label": ["emerging"], "direction": ["rising"],
    ...     "rate_ratio_per_year": [1.5], "rate_ratio_low": [1.2], "rate_ratio_high": [1.9],
    ...     "p_value": [0.001], "q_value": [0.01], "change_start": [pd.Timestamp("2023-01-01")],
    ...     "change_start_low": [pd.Timestamp("2022-10-01")],
    ...     "change_start_high": [pd.Timestamp("2023-03-01")], "events": [40],
    ...     "rate_first_year": [4.0], "rate_last_year": [12.0],
    ...     "share_ratio_per_year": [1.4], "share_p_value": [0.01],
    ...     "versus_city": ["above the city"]}, index=["32"])
    >>> content = trends_content(table, counts=np.ones((1, 3)), trend_line=np.ones((1, 3)),
    ...     dates=["2023-01-01", "2023-02-01", "2023-03-01"], step_name="month",
    ...     rate_label="per year", title="T")
    >>> content.hover.iloc[0].tolist()
    ['emerging', '1.5 (1.2 to 1.9) a year', 'since 2023-01 (2022-10 to 2023-03)']
    """
    colours = table["label"].map(lambda label: LABEL_STYLE[label][0]).fillna(NO_DATA_COLOUR)
    present = set(table["label"])
    legend = [style for label, style in LABEL_STYLE.items() if label in present]
    ratios = rate_ratio_texts(
        table,
        "rate_ratio_per_year",
        "rate_ratio_low",
        "rate_ratio_high",
        suffix=" a year",
        missing="no event",
    )
    began = [
        _since(start, low, high)
        for start, low, high in zip(
            table["change_start"],
            table["change_start_low"],
            table["change_start_high"],
            strict=True,
        )
    ]
    hover = pd.DataFrame(
        {
            "change": table["label"],
            "rate ratio per year (95% interval)": ratios,
            "change began": began,
        },
        index=table.index,
    )
    popup = pd.DataFrame(
        {
            "events": table["events"],
            f"rate, first year | last year ({rate_label})": [
                f"{first:,.3g} | {last:,.3g}"
                for first, last in zip(
                    table["rate_first_year"], table["rate_last_year"], strict=True
                )
            ],
            "rate ratio per year (95% interval)": ratios,
            "p | q (after correction)": [
                f"{p:.3g} | {q:.3g}" if np.isfinite(p) else "not tested (no event)"
                for p, q in zip(table["p_value"], table["q_value"], strict=True)
            ],
            "change began": began,
            "share of the city, change per year (p)": [
                f"{ratio:.3g} ({p:.2g}): {versus}" if np.isfinite(ratio) else ""
                for ratio, p, versus in zip(
                    table["share_ratio_per_year"],
                    table["share_p_value"],
                    table["versus_city"],
                    strict=True,
                )
            ],
        },
        index=table.index,
    )
    if "pooled_direction" in table:
        ratios_pooled = rate_ratio_texts(
            table,
            "pooled_rate_ratio_per_year",
            "pooled_rate_ratio_low",
            "pooled_rate_ratio_high",
            suffix=" a year",
            missing="",
        )
        popup["with its neighbours"] = [
            f"{direction}, {text}" if text else ""
            for direction, text in zip(table["pooled_direction"], ratios_pooled, strict=True)
        ]
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
        legend_title="Change over the period (red: rising, blue: falling)",
        series=MapSeries(
            dates=dates,
            counts=counts,
            step_name=step_name,
            fitted=trend_line,
            fitted_label="fitted trend, the city's season taken out",
        ),
    )


def _since(start: object, low: object, high: object) -> str:
    """``since 2023-01 (2022-10 to 2023-03)``, or empty when no change was dated."""
    if start is None or pd.isna(start):
        return ""
    text = f"since {pd.Timestamp(start):%Y-%m}"
    if not (pd.isna(low) or pd.isna(high)):
        text += f" ({pd.Timestamp(low):%Y-%m} to {pd.Timestamp(high):%Y-%m})"
    return text
