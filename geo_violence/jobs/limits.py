"""Sizes a run cannot afford, refused before any work: permutations whose arrays would not fit in
this machine's memory."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import OptionError

#: Bytes of the arrays a permutation costs per item drawn for and per value of its pool: the
#: simulated sums and the comparisons with the observed value (about 3 x 8 bytes an item), and
#: the random orderings of the pool (8 bytes a value).
BYTES_PER_ITEM = 24
BYTES_PER_POOL_VALUE = 8


def physical_memory() -> int:
    """This machine's memory in bytes (or the control group's limit, when lower).

    Examples
    --------
    >>> physical_memory() > 2**28
    True
    """
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return total


def check_permutations(option: str, permutations: int, *, items: int, pool: int) -> None:
    """Refuse ``permutations`` whose arrays cannot fit in memory, saying the size they need.

    Parameters
    ----------
    option : str
        The option's name, for the message (``--permutations``).
    permutations : int
        Permutations asked for (0: none, always fine).
    items : int
        Values each permutation draws a neighbourhood for (units, or unit-steps of a cube).
    pool : int
        Values the neighbourhoods are drawn from.

    Raises
    ------
    OptionError
        The permutations would need more than this machine's memory.

    Examples
    --------
    >>> check_permutations("--permutations", 999, items=77, pool=77)
    >>> check_permutations("--permutations", 10**12, items=77, pool=77)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geo_violence.errors.OptionError: --permutations 1,000,000,000,000 would need about ... GB \
of memory ...
    """
    if permutations <= 0:
        return
    per_permutation = BYTES_PER_ITEM * items + BYTES_PER_POOL_VALUE * pool
    need = permutations * per_permutation
    have = physical_memory()
    if need <= have:
        return
    raise OptionError(
        f"{option} {permutations:,} would need about {need / 1e9:,.0f} GB of memory for "
        f"{items:,} values (this machine has {have / 1e9:,.0f} GB): use at most "
        f"{max(1, have // per_permutation):,}"
    )
