"""Benchmark the emerging hot spot analysis, in one run.

1. The Gi* stage on the 275 beats x 523 weeks of the 2010-2019 aggravated assaults
   (``../shared/data/chicago`` relative to the repository root, or ``$GEO_VIOLENCE_SHARED_DATA``)
   against the obvious baseline: ``esda.G_Local`` called week by week (K = 0, window "step", where
   the two agree to 1e-10).
2. The whole analysis (Gi*, FDR, Mann-Kendall with Sen's slope, categories) on that cube, and on
   ``--units`` synthetic units (10,000 by default) x 520 weeks on a k-nearest-neighbour graph, with
   the default options (exact count p-values, the trend corrected for the time window) against
   the analysis as it was (normal p-values, plain Mann-Kendall).
3. The whole analysis with 999 permutations on the beats (``--skip-permutations`` to leave out).
4. When the ``bench`` extra is installed (``pip install -e ".[bench]"``), ``pyehsa`` (a Python
   port of R's sfdep) on the last 10 weeks of the beats cube (``--pyehsa-steps``; 10 is the
   fewest the analysis takes) with the same K = 1 and the same number of permutations
   (``--pyehsa-permutations``, 49 by default), against ours with those permutations: a cube
   pyehsa finishes in about a minute. Its time grows with the permutations and much faster than
   the weeks (on this 2-core machine: 10 weeks in 22 s with 19 permutations and 103 s with 99;
   16 weeks in 9.5 minutes with 99; the whole cube did not finish in 15 minutes).

Times are printed, never asserted: ratio is the baseline's time over ours. Run:
``python bench/bench_emerging.py``.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import esda
import numpy as np
import pandas as pd
from common import DATA, assaults_by_beat, best_of
from scipy import sparse

from geo_violence.stats.emerging import EmergingOptions, emerging_hotspots, space_time_gi_star

#: The analysis as it was before issue 15: normal p-values, Mann-Kendall without correction.
BEFORE = EmergingOptions(p_values="normal", trend_correction="none")


def synthetic(n_units: int, n_steps: int, seed: int = 0):
    """Poisson counts on random points with 6 nearest neighbours (symmetrised)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 1, (n_units, 2))
    from scipy.spatial import cKDTree

    _, nearest = cKDTree(xy).query(xy, k=7)
    rows = np.repeat(np.arange(n_units), 6)
    adjacency = sparse.csr_array(
        (np.ones(rows.size), (rows, nearest[:, 1:].ravel())), shape=(n_units, n_units)
    )
    adjacency = ((adjacency + adjacency.T) > 0).astype(float)
    counts = rng.poisson(2.0, (n_units, n_steps)).astype(float)
    return counts, sparse.csr_array(adjacency), pd.Index(np.arange(n_units).astype(str))


def esda_week_loop(counts: np.ndarray, w) -> np.ndarray:
    """The baseline: esda's G_Local, one week at a time."""
    return np.column_stack(
        [
            esda.G_Local(counts[:, t], w, transform="B", star=True, permutations=0).Zs
            for t in range(counts.shape[1])
        ]
    )


def pyehsa_on_cube(cube, layer, permutations: int):
    """Run pyehsa's whole analysis on our cube: it builds its own queen weights from the shapes."""
    import geopandas as gpd
    from pyehsa import EmergingHotspotAnalysis

    table = cube.to_frame()
    table["step_start"] = table["step_start"].dt.tz_localize(None)
    shapes = layer.units.geometry
    frame = gpd.GeoDataFrame(
        table.rename(columns={"unit_id": "region_id", "step_start": "time_period"}),
        geometry=shapes.reindex(table["unit_id"]).to_numpy(),
        crs=layer.units.crs,
    ).to_crs("EPSG:4326")
    frame["value"] = frame["count"].astype(float)
    return EmergingHotspotAnalysis.emerging_hotspot_analysis(
        frame, "region_id", "time_period", "value", k=1, nsim=permutations
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=520)
    parser.add_argument("--skip-permutations", action="store_true")
    parser.add_argument("--pyehsa-permutations", type=int, default=49)
    parser.add_argument(
        "--pyehsa-steps",
        type=int,
        default=10,
        help="run the pyehsa comparison on the last N weeks only (0: the whole cube, which pyehsa "
        "does not finish in 15 minutes)",
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows: list[tuple[str, str, float, float | None]] = []
    if (DATA / "police_beats.geojson").exists():
        cube, neighbours = assaults_by_beat()
        counts = cube.counts.astype(float)
        shape = f"{counts.shape[0]} x {counts.shape[1]}"
        w = neighbours.to_w("B")
        ours = best_of(
            5, lambda: space_time_gi_star(counts, neighbours.matrix, time_window=0, window="step")
        )
        baseline = best_of(1, lambda: esda_week_loop(counts, w))
        z = space_time_gi_star(counts, neighbours.matrix, time_window=0, window="step")
        gap = np.nanmax(np.abs(z - esda_week_loop(counts, w)))
        rows.append(
            (f"Gi* stage vs esda G_Local week loop (max |dz| {gap:.1e})", shape, ours, baseline)
        )
        rows.append(
            (
                "Gi* stage, K=1, window cube",
                shape,
                best_of(5, lambda: space_time_gi_star(counts, neighbours.matrix)),
                None,
            )
        )
        rows.append(
            (
                "whole analysis, defaults vs normal p + plain MK",
                shape,
                best_of(3, lambda: emerging_hotspots(counts, neighbours.matrix, cube.unit_ids)),
                best_of(
                    3,
                    lambda: emerging_hotspots(
                        counts, neighbours.matrix, cube.unit_ids, options=BEFORE
                    ),
                ),
            )
        )
        if not args.skip_permutations:
            options = EmergingOptions(permutations=999, seed=1)
            rows.append(
                (
                    "whole analysis, 999 permutations",
                    shape,
                    best_of(
                        1,
                        lambda: emerging_hotspots(
                            counts, neighbours.matrix, cube.unit_ids, options=options
                        ),
                    ),
                    None,
                )
            )
        try:
            import pyehsa  # noqa: F401
        except ImportError:
            print("pyehsa is not installed (pip install -e '.[bench]'): its row is left out")
        else:
            import logging

            from geo_violence import load_units

            logging.disable(logging.INFO)  # pyehsa logs every step at INFO
            layer = load_units("beats", units_file=DATA / "police_beats.geojson")
            n_perm = args.pyehsa_permutations
            options = EmergingOptions(permutations=n_perm, seed=1)
            part = cube.last_steps(args.pyehsa_steps) if args.pyehsa_steps else cube
            part_counts = part.counts.astype(float)
            rows.append(
                (
                    f"whole analysis, {n_perm} permutations vs pyehsa (sfdep port)",
                    f"{part.n_units} x {part.n_steps}",
                    best_of(
                        1,
                        lambda: emerging_hotspots(
                            part_counts, neighbours.matrix, part.unit_ids, options=options
                        ),
                    ),
                    best_of(1, lambda: pyehsa_on_cube(part, layer, n_perm)),
                )
            )
    else:
        print(f"the shared Chicago data are not at {DATA}: the beats rows are left out")
    counts, adjacency, ids = synthetic(args.units, args.steps)
    rows.append(
        (
            "whole analysis (synthetic knn), defaults vs normal p + plain MK",
            f"{args.units} x {args.steps}",
            best_of(3, lambda: emerging_hotspots(counts, adjacency, ids)),
            best_of(3, lambda: emerging_hotspots(counts, adjacency, ids, options=BEFORE)),
        )
    )
    print(f"{'stage':66} | {'cube':>12} | {'ours (s)':>9} | {'baseline (s)':>12} | ratio")
    print("-" * 114)
    for stage, shape, ours, baseline in rows:
        ratio = f"{baseline / ours:8.2f}" if baseline else "       -"
        base = f"{baseline:12.3f}" if baseline else f"{'-':>12}"
        print(f"{stage:66} | {shape:>12} | {ours:9.4f} | {base} | {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
