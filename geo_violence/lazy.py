"""Public names imported on first use (PEP 562), for the packages whose ``__init__`` would
otherwise load numpy, pandas and scipy at ``import geo_violence`` or ``geo-violence --help``."""

from __future__ import annotations

import importlib


def load_lazily(package: str, modules: dict[str, str], name: str, namespace: dict) -> object:
    """The attribute ``name`` of ``package``: imported from its module in ``modules`` (relative
    to the package) and kept in ``namespace`` so the next lookup is direct.

    Examples
    --------
    >>> namespace = {}
    >>> load_lazily("geo_violence", {"STEPS": ".choices"}, "STEPS", namespace)
    ('week', 'month', 'day')
    >>> "STEPS" in namespace
    True
    """
    module = modules.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, package), name)
    namespace[name] = value
    return value
