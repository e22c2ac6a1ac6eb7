"""Start-up: ``import geo_violence`` and ``geo-violence --help`` load none of the heavy libraries
(their time is measured in ``bench/bench_startup.py``, never asserted here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numpy", "pandas", "scipy", "numba", "folium", "geopandas", "libpysal", "pyarrow", "dask")

PROBE = """
import sys
{setup}
heavy = sorted(name for name in {heavy!r} if name in sys.modules)
print("loaded:" + ",".join(heavy))
"""


def loaded_after(setup: str) -> list[str]:
    code = PROBE.format(setup=setup, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    line = done.stdout.strip().splitlines()[-1]
    return [name for name in line.removeprefix("loaded:").split(",") if name]


@pytest.mark.parametrize(
    "setup",
    [
        "import geo_violence",
        "import geo_violence.cli",
        "from geo_violence.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass",
        "from geo_violence.cli import main\n"
        "try:\n    main(['emerging', '--help'])\nexcept SystemExit:\n    pass",
    ],
    ids=["import", "import cli", "--help", "emerging --help"],
)
def test_start_up_loads_no_heavy_library(setup):
    assert loaded_after(setup) == []


def test_a_public_name_still_imports_on_first_use():
    assert "numpy" in loaded_after("import geo_violence\ngeo_violence.emerging_hotspots")
    import geo_violence

    assert callable(geo_violence.emerging_hotspots) and geo_violence.__version__
    assert set(geo_violence.__all__) <= set(dir(geo_violence))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        geo_violence.nothing  # noqa: B018


def test_counting_loads_no_statistics_map_or_cluster_library(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("when,lon,lat\n2024-01-03 10:00,-87.6298,41.8781\n")
    run = (
        "from geo_violence.cli import main\n"
        f"try:\n    main(['-q', 'counts', {str(path)!r}, '--time-col', 'when', '--x-col', 'lon',"
        f" '--y-col', 'lat', '--start', '2024-01-01', '--end', '2024-01-07', '--out',"
        f" {str(tmp_path / 'out')!r}])\nexcept SystemExit:\n    pass"
    )
    loaded = loaded_after(run)
    assert {"numpy", "pandas", "pyarrow", "geopandas"} <= set(loaded)  # it did count
    assert (tmp_path / "out" / "counts.parquet").exists()
    assert not {"scipy", "numba", "folium", "libpysal", "dask"} & set(loaded)
