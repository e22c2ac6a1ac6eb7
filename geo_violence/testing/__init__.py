"""Stand-ins for the tests and for offline trials; not used by the product's own code.

:mod:`.null_counts` draws counts with no pattern in space (the calibration tests and benchmark);
:mod:`.fake_portal` serves incident rows the way the city's Socrata portal does, on 127.0.0.1
(``python -m geo_violence.testing.fake_portal FILE --port 8765``).
"""
