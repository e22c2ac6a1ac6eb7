"""Stage 2, units: polygons indexed by ``unit_id``, which unit each point is in, and neighbours.

:mod:`.catalogue` names the Chicago layers; :mod:`.layers` loads a layer, a file or a grid
(:mod:`.grids`: square cells and H3); :mod:`.locate` is the exact point location with its edge
rule, :mod:`.polygon_grid` the grid that speeds it up, :mod:`.assign` gives incidents their unit
(or lists them as unassigned); :mod:`.neighbours` builds the spatial weights (the one place
libpysal is called).
"""
