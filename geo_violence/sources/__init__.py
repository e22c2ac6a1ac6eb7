"""Stage 1, sources: incidents and other inputs read into tables, nothing lost.

:mod:`.incidents` reads incident files (CSV, CSV.gz, Parquet; the portal's export with no
options) into points in the working CRS plus a table of rejected rows, through the columnar path
of :mod:`.columnar` (pyarrow reads the needed columns; array rules settle what they can decide
exactly, the per-value rules the rest) with points kept as coordinates by :mod:`.points` until a
caller asks for shapely geometries; :mod:`.portal` pulls the
city portal into a Parquet store; :mod:`.cache` keeps downloaded boundary files with their sha256;
:mod:`.aggregates` reads counts already aggregated per unit; :mod:`.population` residents per unit.
Nothing here knows about units' geometry.
"""
