"""Stage 3, the cube: counts of assigned incidents per unit and step, zeros kept.

:mod:`.counts` builds the cube (:class:`~geo_violence.cube.counts.Cube`) in memory,
:mod:`.periods` parses and checks ``START..END`` periods, :mod:`.scale` counts files beyond
memory (streamed in batches, or on a dask cluster) into the same cube.
"""
