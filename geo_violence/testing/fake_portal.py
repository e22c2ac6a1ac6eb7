"""A local stand-in for the city's Socrata portal, for tests and for trying the weekly job offline.

It serves the records of a portal export (CSV) at ``/resource/ijzp-q8t2.json`` and answers the SoQL
that :mod:`geo_violence.sources.portal` sends (``$where`` with ``date >=``, ``updated_on >`` and
``primary_type in (...)`` joined by ``AND``; ``$order``; ``$limit``; ``$offset``; ``$select=id``),
and boundary files at ``/resource/ID.geojson``. Faults can be queued, one per request (``ok`` for
none): ``500``, ``404``, ``429`` (with ``Retry-After: 1``) or ``429:VALUE`` (with that
``Retry-After``), ``cut`` (a body cut off mid-page), ``slow`` (an answer after the client's
timeout), ``drip`` (a byte every half second, for ever), ``huge`` (a page of megabytes), ``schema``
(records without their ``date``), ``no-id`` and ``null-id`` (the first record without its ``id``),
``not-a-list`` (an object), ``not-records`` (a list of numbers) and ``html`` (a web page).
``ignore_offset`` makes it answer every page as the first; ``gate``, an event, holds every answer
until it is set.

Run it: ``python -m geo_violence.testing.fake_portal homicides_2001_2024.csv --port 8765``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import re
import threading
import time
import urllib.parse
from pathlib import Path

import pandas as pd

from ..sources.portal import CRIMES_DATASET, FIELDS

_CLAUSE = re.compile(r"^(\w+)\s*(>=|>|=)\s*'([^']*)'$")
_IN = re.compile(r"^(\w+)\s+in\s*\((.*)\)$", re.IGNORECASE)


def portal_records(csv_path: str | Path) -> list[dict]:
    """The rows of a portal export as the API gives them (field names, ISO times, text values).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = path.write_text("ID,Date,Primary Type,Updated On,Latitude,Longitude\\n7,"
    ...     "01/02/2024 03:04:05 PM,HOMICIDE,01/03/2024 01:00:00 AM,41.8,-87.6\\n")
    >>> portal_records(path)[0]["date"]
    '2024-01-02T15:04:05.000'
    """
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    columns = {column: name for name, column in FIELDS.items() if column in table.columns}
    table = table[list(columns)].rename(columns=columns)
    for name in ("date", "updated_on"):
        if name in table:
            stamps = pd.to_datetime(table[name], format="%m/%d/%Y %I:%M:%S %p", errors="coerce")
            table[name] = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.000")
    records = table.to_dict("records")
    return [
        {key: value for key, value in record.items() if value not in ("", None)}
        for record in records
    ]


class FakePortal:
    """The records, the boundary files and the queued faults behind a running server."""

    def __init__(self, records: list[dict], boundaries: dict[str, Path] | None = None) -> None:
        self.records = {str(record["id"]): dict(record) for record in records}
        self.boundaries = boundaries or {}
        self.faults: list[str] = []
        self.requests: list[str] = []
        self.slow_seconds = 3.0
        self.ignore_offset = False
        self.gate: threading.Event | None = None
        self.lock = threading.Lock()
        self.server: http.server.ThreadingHTTPServer | None = None

    # --- changes at the source ------------------------------------------------------------
    def update(self, record_id: str, updated_on: str, **fields: str) -> None:
        """Correct a record (its ``updated_on`` moves forward)."""
        with self.lock:
            self.records[str(record_id)].update(fields, updated_on=updated_on)

    def add(self, record: dict) -> None:
        with self.lock:
            self.records[str(record["id"])] = dict(record)

    def delete(self, record_id: str) -> None:
        with self.lock:
            self.records.pop(str(record_id), None)

    # --- the server -----------------------------------------------------------------------
    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 in a thread; returns the base URL."""
        portal = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                portal._answer(self)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        with self.lock:
            self.requests.append(handler.path)
            fault = self.faults.pop(0) if self.faults else None
        if self.gate is not None:
            self.gate.wait(120)
        if fault in ("500", "404"):
            return self._send(handler, int(fault), b'{"error": "no"}')
        if fault is not None and fault.startswith("429"):
            wait = fault.partition(":")[2] or "1"
            return self._send(handler, 429, b'{"error": "slow down"}', {"Retry-After": wait})
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "drip":
            return self._drip(handler)
        if fault == "html":
            return self._send(handler, 200, b"<html><body>Service maintenance</body></html>")
        if fault == "not-a-list":
            return self._send(handler, 200, b'{"records": []}')
        if fault == "not-records":
            return self._send(handler, 200, b"[1, 2, 3]")
        if fault == "huge":
            return self._send(
                handler, 200, json.dumps([{"id": "1", "block": "x" * 3_000_000}]).encode()
            )
        geojson = re.fullmatch(r"/resource/([\w-]+)\.geojson", parsed.path)
        if geojson and geojson.group(1) in self.boundaries:
            return self._send(handler, 200, self.boundaries[geojson.group(1)].read_bytes())
        if parsed.path != f"/resource/{CRIMES_DATASET}.json":
            return self._send(handler, 404, b'{"error": "no such dataset"}')
        with self.lock:
            rows = [dict(record) for record in self.records.values()]
        rows = [row for row in rows if _matches(row, query.get("$where", ""))]
        order = [part.strip() for part in query.get("$order", "id").split(",")]
        rows.sort(key=lambda row: tuple(_sort_key(row.get(name, "")) for name in order))
        offset, limit = int(query.get("$offset", 0)), int(query.get("$limit", 1000))
        if self.ignore_offset:
            offset = 0
        rows = rows[offset : offset + limit]
        if query.get("$select") == "id":
            rows = [{"id": row["id"]} for row in rows]
        if fault == "schema":
            rows = [{k: v for k, v in row.items() if k != "date"} for row in rows]
        if fault in ("no-id", "null-id") and rows:
            rows[0] = {k: v for k, v in rows[0].items() if k != "id"}
            if fault == "null-id":
                rows[0]["id"] = None
        body = json.dumps(rows).encode()
        if fault == "cut":
            return self._send(
                handler, 200, body[: len(body) // 2], {"Content-Length": str(len(body))}
            )
        return self._send(handler, 200, body)

    @staticmethod
    def _drip(handler) -> None:
        """Headers, then the body a byte every half second until the client gives up."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(600):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.5)

    @staticmethod
    def _send(handler, status: int, body: bytes, headers: dict | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        headers = {"Content-Length": str(len(body))} | (headers or {})
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
            handler.wfile.write(body)


def _sort_key(value: str):
    return (0, int(value), "") if str(value).isdigit() else (1, 0, str(value))


def _matches(row: dict, where: str) -> bool:
    for clause in filter(None, (part.strip() for part in re.split(r"\s+AND\s+", where))):
        found = _CLAUSE.match(clause)
        if found:
            name, operator, value = found.groups()
            have = str(row.get(name, ""))
            if not {">=": have >= value, ">": have > value, "=": have == value}[operator]:
                return False
            continue
        found = _IN.match(clause)
        if found:
            wanted = {part.strip().strip("'") for part in found.group(2).split(",")}
            if str(row.get(found.group(1), "")) not in wanted:
                return False
            continue
        raise ValueError(f"the fake portal does not understand {clause!r}")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", help="a portal export (CSV), e.g. homicides_2001_2024.csv")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--boundaries",
        nargs=2,
        action="append",
        metavar=("DATASET_ID", "GEOJSON"),
        default=[],
        help="serve a boundary file as /resource/DATASET_ID.geojson (repeatable)",
    )
    args = parser.parse_args()
    portal = FakePortal(
        portal_records(args.csv), {key: Path(path) for key, path in args.boundaries}
    )
    url = portal.start(args.port)
    print(f"serving {len(portal.records):,} records at {url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        portal.stop()


if __name__ == "__main__":
    main()
