"""Start-up time: ``import geo_violence`` and ``geo-violence --help`` against loading the whole
public API (what every command paid before the imports became lazy), median of 7 fresh processes.

Run: ``python bench/bench_startup.py``. Issue 21's goal: both under 0.5 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 7
CASES = {
    "import geo_violence": "import geo_violence",
    "geo-violence --help": (
        "from geo_violence.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    ),
    "geo-violence emerging --help": (
        "from geo_violence.cli import main\n"
        "try:\n    main(['emerging', '--help'])\nexcept SystemExit:\n    pass"
    ),
}
#: The baseline: every public name loaded, as ``import geo_violence`` did before.
EAGER = "import geo_violence\nfor name in geo_violence.__all__:\n    getattr(geo_violence, name)"


def seconds(code: str) -> float:
    """Median wall time of ``python -c code`` in fresh processes."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    eager = seconds(EAGER)
    bare = seconds("pass")
    print(f"python itself: {bare:.3f} s; the whole API loaded (baseline): {eager:.3f} s")
    print("| what | seconds | baseline / ours | goal |")
    print("|---|---|---|---|")
    for name, code in CASES.items():
        ours = seconds(code)
        verdict = "met" if ours < 0.5 else "NOT met"
        print(f"| {name} | {ours:.3f} | {eager / ours:.1f}x | < 0.5 s: {verdict} |")


if __name__ == "__main__":
    main()
