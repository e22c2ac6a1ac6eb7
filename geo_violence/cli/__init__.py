"""Stage 7, the command line: ``geo-violence``, a thin click layer over :mod:`geo_violence.jobs`.

:mod:`.app` is the group (logging, errors as one line), :mod:`.options` the shared options,
:mod:`.commands` the analyses and :mod:`.fetch` the downloads.
"""

from . import commands, fetch  # noqa: F401 - registers the commands on the group
from .app import main

__all__ = ["main"]
