"""Column names, the working CRS and the time zone, defined once for the whole package."""

from __future__ import annotations

#: The projected CRS every stage works in: NAD83 / Illinois East (US feet), the city's own.
WORKING_CRS = "EPSG:3435"
#: The CRS that maps are drawn in (only ``render`` converts to it).
MAP_CRS = "EPSG:4326"
#: Local time of every timestamp and every step boundary.
TIMEZONE = "America/Chicago"

# Incidents
INCIDENT_ID = "incident_id"
OCCURRED_AT = "occurred_at"
CATEGORY = "category"
SOURCE_LINE = "line"
GEOMETRY = "geometry"

# Units
UNIT_ID = "unit_id"
NAME = "name"
POPULATION = "population"

# Cube
STEP_START = "step_start"
COUNT = "count"
RATE = "rate"

# Rejects and unassigned rows
COLUMN = "column"
VALUE = "value"
REASON = "reason"

#: Rates are expressed per this many residents.
RATE_PER = 100_000
