"""Stage 3, the cube: counts of assigned incidents per unit and step, zeros kept.

:mod:`.counts` builds the cube (:class:`~geo_violence.cube.counts.Cube`) in memory,
:mod:`.periods` parses and checks ``START..END`` periods, :mod:`.scale` counts files beyond
memory (a Parquet or CSV file streamed in batches, or Parquet files on a dask cluster) into the
same cube.
"""
