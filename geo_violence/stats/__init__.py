"""Stage 4, statistics: tidy tables from values and neighbours."""

from .local import local_gi_star, local_moran
from .significance import FDR_METHODS, adjust_p, gi_classes, lisa_clusters

__all__ = [
    "FDR_METHODS",
    "adjust_p",
    "gi_classes",
    "lisa_clusters",
    "local_gi_star",
    "local_moran",
]
