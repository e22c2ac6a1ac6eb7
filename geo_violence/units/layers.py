"""Stage 2, units: a layer name, a polygon file or a grid becomes units indexed by ``unit_id``.

Known layers are read as :mod:`.catalogue` describes them; a layer downloaded once
(``geo-violence fetch boundaries``) is read from the cache; grids cover the city limit (the union
of the embedded community areas) or the polygons of a file.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from ..codes import as_text, natural_order
from ..columns import GEOMETRY, NAME, UNIT_ID, WORKING_CRS
from ..errors import InputFileError, MissingColumnError, OptionError, UnitsError
from ..sources.cache import cached_boundaries
from .catalogue import LayerSpec, catalogue
from .grids import grid_units, is_grid_spec

logger = logging.getLogger(__name__)

_POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass
class UnitLayer:
    """What :func:`load_units` gives.

    Attributes
    ----------
    units : geopandas.GeoDataFrame
        Indexed by ``unit_id`` (text, as written in the source), with ``name`` and ``geometry``
        (polygons in the working CRS), one row per unit, ids in natural order.
    title : str
        What the layer is called ("Police beats", or the file's name).
    recorded_column : str or None
        The portal crimes column that records this layer's code (``Beat``...), if known.
    source : str
        The file read (or ``package:path`` of an embedded one).
    notes : list of str
        Repairs and merges a user should know about.
    """

    units: gpd.GeoDataFrame
    title: str
    recorded_column: str | None
    source: str
    notes: list[str] = field(default_factory=list)


def load_units(
    units: str | Path = "community_areas",
    *,
    units_file: str | Path | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    crs: str | None = None,
    extent: tuple[float, float, float, float] | None = None,
) -> UnitLayer:
    """Load a units layer by catalogue name, from any polygon file, or as a grid.

    ``grid:SIZE`` (square cells of SIZE feet) and ``h3:RES`` (H3 hexagons) cover the city limit,
    or the polygons of ``units_file`` when given; with ``:extent`` they cover ``extent`` (the
    incidents' bounds) instead (see :mod:`geo_violence.units.grids`).

    Ids are kept as text exactly as written (beat ``"0111"`` stays ``"0111"``). Several polygons
    under one id become one multipart unit; invalid geometries are repaired with ``make_valid``;
    units with no geometry at all are left out. Each of these is said in
    :attr:`UnitLayer.notes`.

    Parameters
    ----------
    units : str or Path
        A catalogue name (``community_areas``, ``beats``, ``districts``, ``wards``) or a path to a
        GeoJSON, Shapefile, GeoPackage or GeoParquet file of polygons.
    units_file : str or Path, optional
        The file of a catalogue layer (``units="beats", units_file="police_beats.geojson"``).
        Not needed for ``community_areas``, which the libpysal package ships.
    id_field, name_field : str, optional
        Override the catalogue's fields; ``id_field`` is required for a file outside it.
    crs : str, optional
        The CRS of a file that does not record its own.
    extent : tuple, optional
        ``(x_min, y_min, x_max, y_max)`` of the incidents (working CRS), for a grid with
        ``:extent``.

    Returns
    -------
    UnitLayer

    Examples
    --------
    >>> layer = load_units("community_areas")
    >>> len(layer.units), layer.units.crs.to_epsg(), layer.units.loc["32", "name"]
    (77, 3435, 'Loop')
    """
    if is_grid_spec(str(units)):
        clip = city_limit() if units_file is None else None
        if units_file is not None:
            shapes = _read_polygons(Path(units_file))
            if shapes.crs is None:
                shapes = shapes.set_crs(crs or WORKING_CRS)
            clip = shapely.union_all(shapes.to_crs(WORKING_CRS).geometry.to_numpy())
        frame, title = grid_units(str(units), clip=clip, extent=extent)
        note = f"{title}: {len(frame):,} cells"
        logger.info(note)
        return UnitLayer(
            units=frame, title=title, recorded_column=None, source=str(units), notes=[note]
        )
    layers = catalogue()
    spec: LayerSpec | None = layers.get(str(units))
    if spec is None:
        path = Path(units)
        looks_like_file = path.suffix != "" or path.exists()
        if not looks_like_file:
            raise OptionError.expected("units", str(units), [*sorted(layers), "a polygon file"])
        if units_file is not None:
            raise OptionError("--units-file goes with a catalogue layer name, not a file path")
        if id_field is None:
            fields = _field_names(path)
            raise OptionError(
                f"{str(path)!r} is not a catalogue layer: name its id field with --id-field "
                f"(fields present: {', '.join(map(repr, fields))})"
            )
        spec = LayerSpec(key=path.stem, title=path.stem, id_field=id_field)
        source = path
    else:
        source = _layer_source(spec, units_file)
    spec = replace(spec, id_field=id_field or spec.id_field)
    if name_field:  # the user's own name field is used as it is written
        spec = replace(spec, name_field=name_field, name_format=None, name_case=None)

    frame = _read_polygons(source)
    present = [column for column in frame.columns if column != frame.geometry.name]
    if not id_field:  # a catalogue layer: the portal's current exports spell fields in lower case
        spec = replace(spec, id_field=_same_field(spec.id_field, present))
        if spec.name_field and not name_field:
            spec = replace(spec, name_field=_same_field(spec.name_field, present))
    if spec.id_field not in frame.columns:
        raise MissingColumnError(spec.id_field, present, "the id field (--id-field)")
    if spec.name_field and spec.name_field not in frame.columns:
        raise MissingColumnError(spec.name_field, present, "the name field (--name-field)")
    frame = _with_crs(frame, spec, crs, source)
    notes: list[str] = []
    units_frame = _tidy(frame, spec, notes)
    for note in notes:
        logger.info(note)
    return UnitLayer(
        units=units_frame,
        title=spec.title,
        recorded_column=spec.recorded_column,
        source=str(source),
        notes=notes,
    )


def city_limit() -> shapely.Geometry:
    """The city limit: the union of the embedded community areas (working CRS).

    Examples
    --------
    >>> round(city_limit().area / 5280**2)  # square miles
    231
    """
    return shapely.union_all(load_units("community_areas").units.geometry.to_numpy())


def _same_field(name: str, present: list[str]) -> str:
    """``name`` as the file spells it, matching without regard to case (else ``name``)."""
    if name in present:
        return name
    return next((field for field in present if field.casefold() == name.casefold()), name)


def _layer_source(spec: LayerSpec, units_file: str | Path | None) -> Path:
    if units_file is not None:
        return Path(units_file)
    cached = cached_boundaries(spec.key)
    if cached is not None and not spec.embedded:
        return cached
    if spec.embedded:
        package, _, inner = spec.embedded.partition(":")
        # the package's folder without importing it (libpysal takes most of a second to import)
        found = importlib.util.find_spec(package)
        folders = list(found.submodule_search_locations or []) if found is not None else []
        embedded = Path(folders[0]).joinpath(inner) if folders else Path(package, inner)
        if not embedded.exists():
            raise InputFileError(
                f"the embedded {spec.key} file {spec.embedded!r} is missing from the installed "
                f"{package} package; reinstall it, or give --units-file"
            )
        return embedded
    dataset = f" (the portal's {spec.portal_dataset!r})" if spec.portal_dataset else ""
    raise OptionError(
        f"the {spec.key} layer has no embedded file: give its file with --units-file{dataset}, "
        f"or download it once with: geo-violence fetch boundaries {spec.key}"
    )


def _field_names(path: Path) -> list[str]:
    frame = _read_polygons(path, rows=1)
    return [column for column in frame.columns if column != frame.geometry.name]


def _read_polygons(path: Path, rows: int | None = None) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputFileError(f"units file {str(path)!r} does not exist")
    try:
        if path.suffix.lower() in {".parquet", ".geoparquet"}:
            frame = gpd.read_parquet(path)
            return frame if rows is None else frame.head(rows)
        return gpd.read_file(path, rows=rows)
    except Exception as error:  # pyogrio and GDAL raise many kinds for an unreadable file
        raise InputFileError(f"cannot read units file {str(path)!r}: {error}") from error


def _with_crs(
    frame: gpd.GeoDataFrame, spec: LayerSpec, crs: str | None, source: Path
) -> gpd.GeoDataFrame:
    declared = crs or spec.crs
    try:
        if frame.crs is None:
            if declared is None:
                raise OptionError(
                    f"units file {str(source)!r} does not record its CRS: give it with "
                    "--units-crs (crs= in Python; --crs is the incidents'), for example "
                    "EPSG:3435 for Illinois East feet"
                )
            frame = frame.set_crs(declared)
        elif crs is not None and CRS.from_user_input(crs) != frame.crs:
            raise OptionError(
                f"units file {str(source)!r} records CRS {frame.crs.to_string()} but --units-crs "
                f"says {crs}; leave --units-crs out to use the file's"
            )
    except CRSError as error:
        raise OptionError(f"'crs' was {declared!r}, which is not a known CRS: {error}") from None
    return frame.to_crs(WORKING_CRS)


def _tidy(frame: gpd.GeoDataFrame, spec: LayerSpec, notes: list[str]) -> gpd.GeoDataFrame:
    """One valid polygonal unit per id, with a name, in natural id order."""
    geometry = frame.geometry.to_numpy()
    ids = as_text(frame[spec.id_field])
    names = _names(frame, spec, ids)

    missing_id = ids.eq("").to_numpy()
    if missing_id.any():
        notes.append(f"{int(missing_id.sum())} polygons with an empty id were left out")
    empty = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    if (empty & ~missing_id).any():
        left_out = sorted(set(ids[empty & ~missing_id]))
        notes.append(f"units with no geometry were left out: {', '.join(left_out)}")
    keep = ~missing_id & ~empty
    ids, names, geometry = ids[keep], names[keep], geometry[keep]
    if len(ids) == 0:
        raise UnitsError(f"the units layer {spec.title!r} has no polygon with an id")

    invalid = ~shapely.is_valid(geometry)
    if invalid.any():
        repaired = sorted(set(ids[invalid]))
        geometry = geometry.copy()
        geometry[invalid] = [_polygonal_part(shapely.make_valid(g)) for g in geometry[invalid]]
        notes.append(
            f"{int(invalid.sum())} invalid geometries repaired with make_valid (units "
            f"{', '.join(repaired)})"
        )
        emptied = shapely.is_empty(geometry)
        if emptied.any():
            notes.append(
                "units with no area left after repair were left out: "
                + ", ".join(sorted(set(ids[emptied])))
            )
            ids, names, geometry = ids[~emptied], names[~emptied], geometry[~emptied]
    kinds = set(shapely.get_type_id(geometry).tolist())
    if not kinds <= {3, 6}:
        raise UnitsError(
            f"the units layer {spec.title!r} must hold polygons; it holds "
            f"{sorted({shapely.GeometryType(k).name for k in kinds})}"
        )

    table = pd.DataFrame({UNIT_ID: ids.to_numpy(), NAME: names.to_numpy(), GEOMETRY: geometry})
    counts = table.groupby(UNIT_ID, sort=False).size()
    multi = counts[counts > 1]
    if len(multi):
        notes.append(
            "several polygons under one id were joined into one multipart unit: "
            + ", ".join(f"{unit} ({n} polygons)" for unit, n in multi.items())
        )
        merged = table.groupby(UNIT_ID, sort=False).agg(
            {NAME: "first", GEOMETRY: lambda parts: shapely.union_all(np.asarray(parts))}
        )
        table = merged.reset_index()
    units = gpd.GeoDataFrame(table, geometry=GEOMETRY, crs=WORKING_CRS).set_index(UNIT_ID)
    return units.iloc[natural_order(units.index)]


def _names(frame: gpd.GeoDataFrame, spec: LayerSpec, ids: pd.Series) -> pd.Series:
    names = as_text(frame[spec.name_field]) if spec.name_field else ids.copy()
    if spec.name_case == "title":
        names = names.str.title()
    if spec.name_format:
        names = pd.Series(
            [spec.name_format.format(id=i, name=n) for i, n in zip(ids, names, strict=True)],
            dtype=object,
        )
    return names.where(names != "", ids)


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a repaired geometry (make_valid may add lines or points)."""
    parts = [part for part in shapely.get_parts(geometry) if part.geom_type in _POLYGONAL]
    if not parts:
        return shapely.MultiPolygon()
    return shapely.union_all(parts)
