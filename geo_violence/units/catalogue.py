"""The boundary catalogue: the Chicago layers this package knows by name.

The ``boundaries/`` folder holds one TOML file per layer saying which field is the id, which the
name, the CRS, the portal dataset and the column of the crimes export that records the layer's
code, so a known layer needs no field options (see ``boundaries/README.md``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LayerSpec:
    """One entry of the boundary catalogue (see ``boundaries/README.md``).

    Examples
    --------
    >>> catalogue()["beats"].id_field
    'BEAT_NUM'
    """

    key: str
    title: str
    id_field: str
    name_field: str | None = None
    name_format: str | None = None
    name_case: str | None = None
    crs: str | None = None
    recorded_column: str | None = None
    portal_dataset: str | None = None
    portal_id: str | None = None
    embedded: str | None = None


def catalogue_folder() -> Path:
    """The folder of the boundary catalogue: inside the installed package, or the repository's.

    Examples
    --------
    >>> (catalogue_folder() / "beats.toml").exists()
    True
    """
    package = Path(__file__).resolve().parent.parent
    packaged = package / "boundaries"
    if packaged.is_dir():
        return packaged
    return package.parent / "boundaries"


def catalogue() -> dict[str, LayerSpec]:
    """The known layers by name.

    Examples
    --------
    >>> sorted(catalogue())
    ['beats', 'community_areas', 'districts', 'wards']
    """
    layers = {}
    for path in sorted(catalogue_folder().glob("*.toml")):
        with path.open("rb") as handle:
            entry = tomllib.load(handle)
        layers[path.stem] = LayerSpec(key=path.stem, **entry)
    return layers
