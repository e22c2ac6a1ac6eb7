"""Units that do not depend on administrative lines: square cells (``grid:1000``) or H3
hexagons (``h3:9``), laid over the city limit or over the incidents' extent.

``grid:SIZE`` cells are SIZE feet square in the working CRS (EPSG:3435), aligned on multiples of
SIZE, clipped to the city limit (the union of the embedded community areas, or of a clip file's
polygons); ``grid:SIZE:extent`` covers the incidents' bounding box instead, unclipped. ``h3:RES``
takes every H3 cell of resolution RES that overlaps the city limit (or the extent), whole. Every
analysis runs on them unchanged: they are an ordinary units layer.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..columns import MAP_CRS, NAME, UNIT_ID, WORKING_CRS
from ..errors import OptionError

_SPEC = re.compile(r"^(grid|h3):([0-9.]+)(?::(extent))?$")
#: The most cells a grid may have (beyond it the statistics would not be worth reading).
MAX_CELLS = 200_000


def is_grid_spec(units: str) -> bool:
    """Whether ``--units`` asks for a grid (``grid:1000``, ``h3:9``, ``...:extent``).

    Examples
    --------
    >>> is_grid_spec("grid:1000"), is_grid_spec("h3:9:extent"), is_grid_spec("beats")
    (True, True, False)
    """
    return bool(_SPEC.match(str(units)))


def needs_extent(units: str) -> bool:
    """Whether the grid covers the incidents' extent (so the incidents are read first)."""
    found = _SPEC.match(str(units))
    return bool(found and found.group(3))


def grid_units(
    units: str,
    *,
    clip: shapely.Geometry | None = None,
    extent: tuple[float, float, float, float] | None = None,
) -> tuple[gpd.GeoDataFrame, str]:
    """The cells a grid spec names, as a units table (``unit_id``, ``name``, geometry).

    Parameters
    ----------
    units : str
        ``grid:SIZE`` (feet), ``h3:RES`` (0-15), either with ``:extent``.
    clip : shapely geometry, optional
        The area to cover (working CRS); required unless the spec ends in ``:extent``
        (:func:`geo_violence.load_units` passes the city limit).
    extent : tuple, optional
        ``(x_min, y_min, x_max, y_max)`` of the incidents (working CRS), for ``:extent``.

    Returns
    -------
    (geopandas.GeoDataFrame, str)
        The units and the layer's title.

    Examples
    --------
    >>> from geo_violence.units.layers import city_limit
    >>> cells, title = grid_units("grid:5000", clip=city_limit())
    >>> title, len(cells) > 200, cells.index[0]
    ('Grid of 5,000-ft cells', True, 'r0000c0017')
    """
    found = _SPEC.match(str(units))
    if not found:
        raise OptionError.expected("units", units, ["grid:SIZE", "h3:RES", "...:extent"])
    kind, value, over_extent = found.groups()
    if over_extent:
        if extent is None:
            raise OptionError(f"{units!r} covers the incidents' extent, which is not known here")
        area = shapely.box(*extent)
    else:
        if clip is None:
            raise OptionError(f"{units!r} needs the area it covers (clip), which is not known here")
        area = clip
    if kind == "grid":
        size = float(value)
        frame = _squares(area, size, clip=not over_extent)
        title = f"Grid of {size:,.0f}-ft cells"
    else:
        resolution = int(float(value))
        if not 0 <= resolution <= 15:
            raise OptionError(f"h3 resolution must be 0 to 15; it was {value}")
        frame = _hexagons(area, resolution)
        title = f"H3 cells, resolution {resolution}"
    if len(frame) == 0:
        raise OptionError(f"{units!r} gives no cell over the area")
    return frame, title


def _squares(area: shapely.Geometry, size: float, *, clip: bool) -> gpd.GeoDataFrame:
    if size <= 0:
        raise OptionError(f"grid cells must be larger than 0 ft; it was {size}")
    x_min, y_min, x_max, y_max = area.bounds
    first_column, first_row = np.floor(x_min / size), np.floor(y_min / size)
    n_cells = (np.ceil(x_max / size) - first_column) * (np.ceil(y_max / size) - first_row)
    if not n_cells <= MAX_CELLS:  # counted before any array is made: a tiny size is refused at once
        smallest = np.sqrt((x_max - x_min) * (y_max - y_min) / MAX_CELLS)
        raise OptionError(
            f"grid:{size:g} gives {n_cells:,.0f} cells, more than {MAX_CELLS:,}: choose larger "
            f"cells (at least about {np.ceil(smallest):,.0f} ft)"
        )
    columns = np.arange(first_column, np.ceil(x_max / size))
    rows = np.arange(first_row, np.ceil(y_max / size))
    column_grid, row_grid = np.meshgrid(columns, rows)
    x0, y0 = column_grid.ravel() * size, row_grid.ravel() * size
    boxes = shapely.box(x0, y0, x0 + size, y0 + size)
    if clip:
        shapely.prepare(area)
        keep = shapely.intersects(area, boxes) & ~shapely.touches(area, boxes)
        boxes = shapely.intersection(boxes[keep], area)
        kept_rows = (row_grid.ravel()[keep] - first_row).astype(int)
        kept_columns = (column_grid.ravel()[keep] - first_column).astype(int)
        boxes = shapely.make_valid(boxes)
        boxes = np.array([_polygonal(shape) for shape in boxes], dtype=object)
    else:
        kept_rows = (row_grid.ravel() - first_row).astype(int)
        kept_columns = (column_grid.ravel() - first_column).astype(int)
    ids = [f"r{row:04d}c{column:04d}" for row, column in zip(kept_rows, kept_columns, strict=True)]
    frame = gpd.GeoDataFrame(
        {
            NAME: [
                f"Cell {row}-{column}" for row, column in zip(kept_rows, kept_columns, strict=True)
            ]
        },
        geometry=list(boxes),
        index=pd.Index(ids, name=UNIT_ID),
        crs=WORKING_CRS,
    )
    return frame[~frame.geometry.is_empty]


def _polygonal(shape: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a clipped cell (a clip can leave lines or points where it grazes)."""
    if shape.geom_type in ("Polygon", "MultiPolygon"):
        return shape
    parts = [part for part in getattr(shape, "geoms", []) if part.geom_type == "Polygon"]
    return shapely.MultiPolygon(parts) if parts else shapely.Polygon()


def _hexagons(area: shapely.Geometry, resolution: int) -> gpd.GeoDataFrame:
    import h3

    expected = _expected_hexagons(area, resolution)
    if expected > MAX_CELLS:  # estimated before computing: finer would take minutes, or memory
        coarser = max(
            (r for r in range(resolution) if _expected_hexagons(area, r) <= MAX_CELLS), default=0
        )
        raise OptionError(
            f"h3:{resolution} gives about {expected:,.0f} cells over the area, more than "
            f"{MAX_CELLS:,}: choose a coarser resolution (h3:{coarser} gives about "
            f"{_expected_hexagons(area, coarser):,.0f})"
        )
    outline = gpd.GeoSeries([area], crs=WORKING_CRS).to_crs(MAP_CRS).iloc[0]
    # every cell that overlaps the area, not only those whose centre is in it
    shape = h3.geo_to_h3shape(outline)
    cells = sorted(h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap"))
    if len(cells) > MAX_CELLS:
        raise OptionError(
            f"h3:{resolution} gives {len(cells):,} cells, more than {MAX_CELLS:,}: choose a "
            "coarser resolution"
        )
    shapes = [
        shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]) for cell in cells
    ]
    frame = gpd.GeoDataFrame(
        {NAME: [f"H3 {cell}" for cell in cells]},
        geometry=shapes,
        index=pd.Index(cells, name=UNIT_ID),
        crs=MAP_CRS,
    )
    return frame.to_crs(WORKING_CRS)


def _expected_hexagons(area: shapely.Geometry, resolution: int) -> float:
    """About how many H3 cells of a resolution cover an area (working CRS, US feet): its area
    over the cells' mean area, plus a ring of cells along its outline.

    Examples
    --------
    >>> from geo_violence.units.layers import city_limit
    >>> 4_000 < _expected_hexagons(city_limit(), 9) < 12_000
    True
    """
    import h3

    square_km = area.area * (1200 / 3937) ** 2 / 1e6
    edge_km = h3.average_hexagon_edge_length(resolution, unit="km")
    perimeter_km = area.length * 1200 / 3937 / 1000
    return square_km / h3.average_hexagon_area(resolution, unit="km^2") + perimeter_km / edge_km
