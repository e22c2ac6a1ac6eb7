"""Benchmark the local statistics against esda, in the same run.

Measured on the police beats with the 2019 aggravated assaults (``../shared/data/chicago``
relative to the repository root, or ``$GEO_VIOLENCE_SHARED_DATA``):

- ``local_moran`` with 999 conditional permutations against ``esda.Moran_Local`` with 999;
- ``local_gi_star`` (analytic, and with 999 permutations) against ``esda.G_Local``.

Each time is the best of ``--repeats`` runs; the ratio is esda's time over ours (above 1: ours is
faster). Times are printed, never asserted. Run: ``python bench/bench_local.py``.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import esda
import pandas as pd
from common import DATA, assaults_by_beat, best_of

from geo_violence.stats import local_gi_star, local_moran


def beats_2019() -> tuple[pd.Series, object]:
    """Aggravated assaults of 2019 per beat, and the beats' queen neighbours."""
    cube, neighbours = assaults_by_beat(step="day", start="2019-01-01", end="2019-12-31")
    return pd.Series(cube.counts.sum(axis=1).astype(float), index=cube.unit_ids), neighbours


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not (DATA / "police_beats.geojson").exists():
        print(f"the shared Chicago data are not at {DATA}: nothing to measure")
        return 0
    warnings.simplefilter("ignore")
    values, neighbours = beats_2019()
    y = values.to_numpy()
    w_row, w_binary = neighbours.to_w("R"), neighbours.to_w("B")
    rows = [
        (
            "local_moran, 999 permutations vs esda.Moran_Local",
            best_of(args.repeats, lambda: local_moran(values, neighbours, seed=1)),
            best_of(
                args.repeats,
                lambda: esda.Moran_Local(y, w_row, transformation="r", permutations=999, seed=1),
            ),
        ),
        (
            "local_gi_star, analytic vs esda.G_Local (permutations=0)",
            best_of(args.repeats, lambda: local_gi_star(values, neighbours)),
            best_of(
                args.repeats,
                lambda: esda.G_Local(y, w_binary, transform="B", star=True, permutations=0),
            ),
        ),
        (
            "local_gi_star, 999 permutations vs esda.G_Local",
            best_of(
                args.repeats, lambda: local_gi_star(values, neighbours, permutations=999, seed=1)
            ),
            best_of(
                args.repeats,
                lambda: esda.G_Local(
                    y, w_binary, transform="B", star=True, permutations=999, seed=1
                ),
            ),
        ),
    ]
    print(f"{len(values)} beats, {int(values.sum()):,} aggravated assaults in 2019")
    print(f"{'stage':60} | {'ours (s)':>9} | {'esda (s)':>9} | {'ratio':>7}")
    print("-" * 95)
    for stage, ours, reference in rows:
        print(f"{stage:60} | {ours:9.4f} | {reference:9.4f} | {reference / ours:7.1f}")
    numba = "installed" if _has_numba() else "not installed (esda runs its pure-Python path)"
    print(f"numba: {numba}")
    return 0


def _has_numba() -> bool:
    import importlib.util

    return importlib.util.find_spec("numba") is not None


if __name__ == "__main__":
    sys.exit(main())
