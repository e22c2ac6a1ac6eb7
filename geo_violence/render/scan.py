"""The map of a space-time scan: the alarms' units outlined and filled, every unit's counts with
what its history and the city's level predicted."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .page import NO_DATA_COLOUR, MapContent, MapSeries

#: Fill of the units of an alarm (the strongest first), of a cluster that is not an alarm, and
#: of the rest.
ALARM_COLOURS = ("#b2182b", "#ef8a62", "#fddbc7")
NOT_ALARM = "#f0f0f0"
OUTLINE = "#000000"


def scan_content(
    clusters: pd.DataFrame,
    unit_ids: pd.Index,
    *,
    counts: np.ndarray,
    expected: np.ndarray,
    dates: list[str],
    step_name: str,
    alpha: float,
    title: str,
    subtitle: str = "",
    source: str = "",
) -> MapContent:
    """What the scan map shows, from :func:`~geo_violence.stats.scan.space_time_scan`'s
    ``clusters``.

    Units of an alarm (``p_value <= alpha``) are filled and outlined; hover gives the cluster,
    its p-value and how often chance would give one as strong; the popup draws the unit's
    counts with what the scan expected (its share of the city's incidents of each step).

    Examples
    --------
    >>> clusters = pd.DataFrame({"cluster_id": [1], "unit_ids": ["32;8"], "n_units": [2],
    ...     "start_date": ["2025-11-03"], "end_date": ["2025-12-28"], "observed": [40],
    ...     "expected": [8.0], "relative_risk": [5.4], "p_value": [0.001],
    ...     "recurrence_words": ["once in 19 years of weekly runs"]})
    >>> content = scan_content(clusters, pd.Index(["32", "8", "1"]), counts=np.ones((3, 2)),
    ...     expected=np.ones((3, 2)), dates=["a", "b"], step_name="week", alpha=0.05, title="T")
    >>> content.hover.loc["32"].tolist()[:2]
    ['alarm 1: 2 units since 2025-11-03', '40 observed, 8 expected (x5)']
    >>> content.outlines.dropna().index.tolist(), content.colours["1"] == NOT_ALARM
    (['32', '8'], True)
    """
    colours = pd.Series(NOT_ALARM, index=unit_ids, dtype=object)
    outlines = pd.Series(None, index=unit_ids, dtype=object)
    cluster_of = pd.Series("", index=unit_ids, dtype=object)
    figures = pd.Series("", index=unit_ids, dtype=object)
    chance = pd.Series("", index=unit_ids, dtype=object)
    legend: list[tuple[str, str]] = []
    alarms = 0
    for _, row in clusters.iterrows():
        members = [unit for unit in str(row["unit_ids"]).split(";") if unit in colours.index]
        alarm = row["p_value"] <= alpha
        kind = "alarm" if alarm else "cluster"
        colour = ALARM_COLOURS[min(alarms, 1)] if alarm else ALARM_COLOURS[2]
        alarms += int(alarm)
        for unit in members:
            if cluster_of[unit]:
                continue
            colours[unit] = colour
            if alarm:
                outlines[unit] = OUTLINE
            cluster_of[unit] = (
                f"{kind} {row['cluster_id']}: {row['n_units']} units since {row['start_date']}"
            )
            figures[unit] = (
                f"{row['observed']:,.0f} observed, {row['expected']:,.3g} expected "
                f"(x{row['observed'] / max(row['expected'], 1e-9):.2g})"
            )
            chance[unit] = f"p = {row['p_value']:.3g}: {row['recurrence_words']}"
    if alarms:
        legend.append(
            (
                ALARM_COLOURS[0],
                "Alarm: more incidents than the units' history and the "
                "city's level predict, more than chance gives (outlined).",
            )
        )
    if alarms > 1:
        legend.append((ALARM_COLOURS[1], "A further alarm, apart from the first."))
    if (clusters["p_value"] > alpha).any():
        legend.append(
            (
                ALARM_COLOURS[2],
                "The strongest clusters that are not alarms: chance "
                "gives as strong ones too often.",
            )
        )
    legend.append((NOT_ALARM, "In no cluster."))
    hover = pd.DataFrame(
        {"cluster": cluster_of, "incidents in its weeks": figures, "how unusual": chance}
    )
    hover.columns = ["cluster", f"incidents in its {step_name}s", "how unusual"]
    return MapContent(
        title=title,
        colours=colours.fillna(NO_DATA_COLOUR),
        legend=legend,
        hover=hover,
        subtitle=subtitle,
        source=source,
        outlines=outlines,
        legend_title="Clusters of the scan",
        series=MapSeries(
            dates=dates,
            counts=counts,
            step_name=step_name,
            fitted=expected,
            fitted_label="expected from the unit's history and the city's level",
        ),
    )
