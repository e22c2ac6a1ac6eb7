"""Static maps (PNG) for print and slides, drawn with matplotlib from the same tables."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..outputs import write_atomically
from .page import HATCHED, NO_DATA_COLOUR, SIMPLIFY_FEET, MapContent

#: Width of one panel, in inches; the figure is as wide as its panels.
PANEL_INCHES = 4.2
DPI = 150


def panels_png(
    units: gpd.GeoDataFrame,
    *,
    rates: dict[str, pd.Series],
    categories: tuple[str, pd.Series, list[tuple[str, str]]] | None,
    title: str,
    path: str | Path,
) -> Path:
    """Write side-by-side maps: sequential panels sharing one colour scale, then a category panel.

    Parameters
    ----------
    units : geopandas.GeoDataFrame
        Units indexed by ``unit_id`` with ``geometry`` (working CRS: feet, so the map is not
        distorted).
    rates : dict of str to pandas.Series
        Panel title to values (indexed like ``units``), drawn on one shared scale.
    categories : (str, pandas.Series, list of (colour, label)), optional
        A last panel: its title, a colour per unit, and its legend.
    title : str
        The figure's title.
    path : str or Path
        The PNG to write.

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> values = pd.Series(np.arange(77.0), index=units.index)
    >>> out = panels_png(units, rates={"a": values, "b": values[::-1]}, categories=None,
    ...                  title="T", path=pathlib.Path(tempfile.mkdtemp()) / "p.png")
    >>> out.read_bytes()[:4] == b"\\x89PNG"
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    shapes = units.geometry.simplify(SIMPLIFY_FEET, preserve_topology=True)
    n_panels = len(rates) + (categories is not None)
    figure, axes = plt.subplots(
        1, n_panels, figsize=(PANEL_INCHES * n_panels, PANEL_INCHES * 1.25), squeeze=False
    )
    axes = axes[0]
    for axis in axes:  # first: drawing ticks that are never shown took most of the time
        axis.set_axis_off()
    finite = np.concatenate([np.asarray(v, dtype=float) for v in rates.values()] or [[]])
    finite = finite[np.isfinite(finite)]
    top = float(np.quantile(finite, 0.98)) if len(finite) else 1.0
    for axis, (label, values) in zip(axes, rates.items(), strict=False):
        frame = gpd.GeoDataFrame(
            {"value": values.reindex(units.index).astype(float)}, geometry=shapes
        )
        frame.plot(
            column="value",
            ax=axis,
            cmap="YlOrRd",
            vmin=0,
            vmax=top or 1.0,
            edgecolor="#555555",
            linewidth=0.2,
            legend=True,
            legend_kwds={"orientation": "horizontal", "shrink": 0.7, "pad": 0.02},
            missing_kwds={"color": NO_DATA_COLOUR},
        )
        axis.set_title(label, fontsize=10)
    if categories is not None:
        label, colours, legend = categories
        axis = axes[-1]
        colours = colours.reindex(units.index).fillna(NO_DATA_COLOUR).astype(str)
        hatched = colours.str.startswith(HATCHED).to_numpy()
        gpd.GeoSeries(shapes[~hatched]).plot(
            ax=axis, color=colours[~hatched].to_list(), edgecolor="#555555", linewidth=0.2
        )
        if hatched.any():  # striped: a unit whose class comes from its neighbours only
            gpd.GeoSeries(shapes[hatched]).plot(
                ax=axis,
                facecolor="#ffffff",
                edgecolor=colours[hatched].str.slice(len(HATCHED)).to_list(),
                hatch="////",
                linewidth=0.2,
            )
        axis.legend(
            handles=[_patch(Patch, c, t) for c, t in legend],
            loc="lower left",
            fontsize=7,
            frameon=True,
        )
        axis.set_title(label, fontsize=10)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()

    def save(temporary: Path) -> None:
        figure.savefig(temporary, format="png", dpi=DPI, metadata={"Software": None})

    try:
        return write_atomically(path, save)
    finally:
        plt.close(figure)


def _patch(patch_class, colour: str, label: str):
    """A legend patch: filled, or striped for a ``"hatched #rrggbb"`` colour."""
    if colour.startswith(HATCHED):
        base = colour[len(HATCHED) :]
        return patch_class(facecolor="#ffffff", edgecolor=base, hatch="////", label=label)
    return patch_class(facecolor=colour, edgecolor="#555555", label=label)


def map_png(units: gpd.GeoDataFrame, content: MapContent, path: str | Path) -> Path:
    """Write one map's colours and legend as a PNG, for print and slides.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from geo_violence import load_units
    >>> units = load_units("community_areas").units
    >>> content = MapContent("T", pd.Series("#b2182b", index=units.index),
    ...     [("#b2182b", "Hot spot: all of them")], pd.DataFrame(index=units.index))
    >>> out = map_png(units, content, pathlib.Path(tempfile.mkdtemp()) / "m.png")
    >>> out.read_bytes()[:4] == b"\\x89PNG"
    True
    """
    legend = [(colour, label.split(":")[0].rstrip(".")) for colour, label in content.legend]
    title = content.title if not content.subtitle else f"{content.title}\n{content.subtitle}"
    return panels_png(
        units,
        rates={},
        categories=("", content.colours, legend),
        title=title,
        path=path,
    )
