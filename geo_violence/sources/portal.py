"""Download the city's "Crimes - 2001 to Present" from its Socrata portal, incrementally.

A pull asks for the records of the wanted types that occurred since ``since`` and were updated
after the last pull (``updated_on``), page by page (``$order``, ``$limit``, ``$offset``), then the
ids of every such record still published, so records deleted at the source go too. The store is
one Parquet file in the portal export's column names (``ID``, ``Date``, ``Primary Type``...), so
every command reads it as it reads an export; a corrected record replaces the stored one by id.

Nothing half-done is ever published: pages are staged in ``STORE.partial/`` with the progress in
``state.json`` (an interrupted pull resumes from its last complete page), and the store is
replaced atomically once every page and the id list are in. Transient failures (429 with its
``Retry-After``, 5xx, timeouts, a body cut off) are retried with exponential backoff; when the
retries run out the pull fails with :class:`SourceUnavailableError` and the store is unchanged. A
page without the expected fields fails with :class:`SchemaChangedError`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import http.client
import json
import logging
import math
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ..choices import CRIMES_DATASET, DEFAULT_BASE_URL
from ..errors import GeoViolenceError, InputFileError, OptionError
from ..outputs import file_lock, remove_dead_temporaries, write_atomically, write_parquet
from ..progress import Progress

logger = logging.getLogger(__name__)

#: Environment variable holding a Socrata app token (optional; raises the portal's rate limit).
APP_TOKEN_VARIABLE = "GEO_VIOLENCE_APP_TOKEN"
#: The API's field names and the export's column names, in the export's order.
FIELDS = {
    "id": "ID",
    "case_number": "Case Number",
    "date": "Date",
    "block": "Block",
    "iucr": "IUCR",
    "primary_type": "Primary Type",
    "description": "Description",
    "location_description": "Location Description",
    "arrest": "Arrest",
    "domestic": "Domestic",
    "beat": "Beat",
    "district": "District",
    "ward": "Ward",
    "community_area": "Community Area",
    "fbi_code": "FBI Code",
    "x_coordinate": "X Coordinate",
    "y_coordinate": "Y Coordinate",
    "year": "Year",
    "updated_on": "Updated On",
    "latitude": "Latitude",
    "longitude": "Longitude",
}
#: Fields a page must have: without them a record cannot be placed, dated or replaced.
REQUIRED_FIELDS = ("id", "date", "primary_type", "updated_on")


class SourceUnavailableError(GeoViolenceError):
    """The portal did not answer usefully after every retry (exit status 2)."""

    exit_code = 2


class SchemaChangedError(GeoViolenceError):
    """The portal's records lack fields the tool needs (exit status 3)."""

    exit_code = 3


@dataclass(frozen=True)
class FetchOptions:
    """How to talk to the portal.

    Attributes
    ----------
    base_url : str
        The portal (``https://data.cityofchicago.org``; a local server in tests).
    dataset : str
        The dataset id (``ijzp-q8t2``, "Crimes - 2001 to Present").
    page_size : int
        Records per page (``$limit``).
    timeout : float
        Seconds to wait for a response.
    retries : int
        Attempts after the first, for each request.
    backoff : float
        First wait between attempts, in seconds; doubled each time (capped at 60 s), unless a
        429 says how long to wait (``Retry-After``, obeyed up to :data:`MAX_RETRY_AFTER`; a
        longer wait ends the pull).
    deadline : float, optional
        Seconds one request may take in all, however slowly its bytes come (default: ten times
        ``timeout``, at least 60).
    """

    base_url: str = DEFAULT_BASE_URL
    dataset: str = CRIMES_DATASET
    page_size: int = 50_000
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 1.0
    deadline: float | None = None


@dataclass
class PullResult:
    """What a pull did to the store."""

    store: Path
    records: int
    fetched: int
    replaced: int
    deleted: int
    last_updated: str | None
    resumed_from_page: int = 0
    notes: list[str] = field(default_factory=list)


class PortalClient:
    """GET JSON from a Socrata portal with retries, backoff and an optional app token.

    Examples
    --------
    >>> client = PortalClient(FetchOptions(base_url="http://127.0.0.1:9"))
    >>> client.resource_url({"$limit": 1})
    'http://127.0.0.1:9/resource/ijzp-q8t2.json?%24limit=1'
    """

    def __init__(self, options: FetchOptions, *, sleep=time.sleep) -> None:
        try:
            parts = urllib.parse.urlsplit(options.base_url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid:
            raise OptionError(
                f"--base-url was {options.base_url!r}, which is not an http:// or https:// "
                "address of a portal"
            )
        self.options = options
        self.token = os.environ.get(APP_TOKEN_VARIABLE) or None
        self.sleep = sleep

    def resource_url(self, query: dict[str, str | int]) -> str:
        """The dataset's JSON endpoint with a SoQL query."""
        base = self.options.base_url.rstrip("/")
        return f"{base}/resource/{self.options.dataset}.json?{urllib.parse.urlencode(query)}"

    def get_json(self, query: dict[str, str | int]) -> list[dict]:
        """One page of records, retried on 429, 5xx, timeouts and bodies cut off; a page that is
        not a list of records is a :class:`SchemaChangedError`."""
        url = self.resource_url(query)
        limit = int(query.get("$limit", self.options.page_size))
        records = self._get(url, json.loads, max_bytes=_MIN_BODY + limit * _BYTES_PER_RECORD)
        if not isinstance(records, list):
            raise SchemaChangedError(
                f"the portal answered {url} with something not a list "
                f"({type(records).__name__}): the API changed; nothing was changed"
            )
        if not all(isinstance(record, dict) for record in records):
            raise SchemaChangedError(
                f"the portal answered {url} with a list of things that are not records "
                "(objects): the API changed; nothing was changed"
            )
        return records

    def get_bytes(self, url: str, *, max_bytes: int = 1 << 30) -> bytes:
        """A whole body, with the same retries."""
        return self._get(url, lambda body: body, max_bytes=max_bytes)

    def _get(self, url: str, parse, *, max_bytes: int):
        backoff = self.options.backoff
        told_to_wait: float | None = None  # a 429's Retry-After, for the next attempt only
        problem = ""
        for attempt in range(self.options.retries + 1):
            if attempt:
                wait = backoff if told_to_wait is None else told_to_wait
                logger.info("retrying in %.1f s (%s)", wait, problem)
                self.sleep(wait)
                backoff = min(backoff * 2, 60.0)
                told_to_wait = None
            request = urllib.request.Request(url, headers={"Accept": "application/json"})
            if self.token:
                request.add_header("X-App-Token", self.token)
            watched = _Watched()
            watchdog = threading.Timer(self.deadline, watched.cut)
            watchdog.daemon = True
            watchdog.start()
            try:
                with watched.opener().open(request, timeout=self.options.timeout) as response:
                    expected = response.headers.get("Content-Length")
                    body = _read_at_most(response, max_bytes, expected)
                if watched.expired:
                    problem = f"no complete answer within the deadline of {self.deadline:g} s"
                    continue
                if expected is not None and len(body) != int(expected):
                    problem = f"body cut off at {len(body)} of {expected} bytes"
                    continue
                return parse(body)
            except urllib.error.HTTPError as error:
                if error.code == 429 or error.code >= 500:
                    problem = f"HTTP {error.code}"
                    header = error.headers.get("Retry-After")
                    told_to_wait = _retry_after(header)
                    if told_to_wait is not None and told_to_wait > MAX_RETRY_AFTER:
                        raise SourceUnavailableError(
                            f"the portal asks to wait {told_to_wait:,.0f} s before trying again "
                            f"(Retry-After: {header}), more than the {MAX_RETRY_AFTER:g} s this "
                            "tool waits: try later; nothing was changed"
                        ) from error
                    continue
                raise SourceUnavailableError(
                    f"the portal refused {url}: HTTP {error.code} {error.reason}"
                ) from error
            except _TooLargeError as error:
                problem = str(error)
            except (TimeoutError, OSError, http.client.HTTPException) as error:
                # refused, reset, timed out, cut at the deadline, or a body shorter than its
                # Content-Length
                problem = (
                    f"no complete answer within the deadline of {self.deadline:g} s"
                    if watched.expired
                    else f"{type(error).__name__}: {error}"
                )
            except ValueError as error:  # a body cut off without a length, or garbled
                problem = f"unreadable body ({error})"
            finally:
                watchdog.cancel()
        raise SourceUnavailableError(
            f"the portal at {self.options.base_url} did not answer after "
            f"{self.options.retries + 1} attempts (last: {problem}); nothing was changed"
        )

    @property
    def deadline(self) -> float:
        """Seconds one request may take in all, however slowly its bytes come."""
        if self.options.deadline is not None:
            return float(self.options.deadline)
        return max(60.0, 10 * self.options.timeout)


#: The longest ``Retry-After`` obeyed, in seconds; a server asking for more ends the pull.
MAX_RETRY_AFTER = 300.0
#: The largest answer accepted: this much, plus this much per record asked for.
_MIN_BODY = 1 << 20
_BYTES_PER_RECORD = 16 << 10


class _TooLargeError(Exception):
    """An answer larger than any page could be."""


class _Watched:
    """The connections of one request, which a watchdog cuts when its deadline passes (a socket
    timeout bounds each wait, not a body sent a byte at a time)."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.expired = False

    def cut(self) -> None:
        self.expired = True
        for sock in list(self.sockets):  # a blocked read returns at once, with what came
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def opener(self) -> urllib.request.OpenerDirector:
        watched = self

        def watching(handler_class):
            class Watching(handler_class):
                def do_open(self, http_class, request, **arguments):
                    def connect(host, **connection_arguments):
                        connection = http_class(host, **connection_arguments)
                        opened = connection.connect

                        def connect_watched() -> None:
                            opened()
                            watched.sockets.append(connection.sock)
                            if watched.expired:  # the deadline passed while connecting
                                watched.cut()

                        connection.connect = connect_watched
                        return connection

                    return super().do_open(connect, request, **arguments)

            return Watching

        handlers = [watching(urllib.request.HTTPHandler)]
        if hasattr(urllib.request, "HTTPSHandler"):
            handlers.append(watching(urllib.request.HTTPSHandler))
        return urllib.request.build_opener(*handlers)


def _read_at_most(response, max_bytes: int, expected: str | None) -> bytes:
    if expected is not None and expected.isdigit() and int(expected) > max_bytes:
        raise _TooLargeError(f"an answer of {int(expected):,} bytes, larger than {max_bytes:,}")
    chunks, size = [], 0
    read = getattr(response, "read1", response.read)
    while True:
        chunk = read(1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise _TooLargeError(f"an answer larger than {max_bytes:,} bytes")
        chunks.append(chunk)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date); None when absent or
    unreadable (the backoff applies), 0 for the past.

    Examples
    --------
    >>> _retry_after("3"), _retry_after(None), _retry_after("soon"), _retry_after("-2")
    (3.0, None, None, 0.0)
    >>> _retry_after("Wed, 21 Oct 2015 07:28:00 GMT")
    0.0
    """
    if not value or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if parsed is None:
            return None
        if parsed.tzinfo is None:  # "-0000": a time in UTC from a source that does not know
            parsed = parsed.replace(tzinfo=dt.UTC)
        seconds = (parsed - dt.datetime.now(dt.UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


def pull_crimes(
    store: str | Path,
    *,
    since: str,
    types: tuple[str, ...] = (),
    options: FetchOptions | None = None,
    sleep=time.sleep,
) -> PullResult:
    """Bring ``store`` up to date with the portal: new and corrected records in, deleted out.

    Parameters
    ----------
    store : str or Path
        The Parquet file kept between pulls (created by the first).
    since : str
        First day of the records kept (``YYYY-MM-DD``, on the records' ``Date``).
    types : tuple of str
        Primary types to keep (``HOMICIDE``...); all when empty.
    options : FetchOptions, optional
        Portal, page size, timeout and retries.
    sleep : callable
        How to wait between attempts (``time.sleep``; tests pass a recorder).

    Returns
    -------
    PullResult

    Raises
    ------
    SourceUnavailableError
        The portal did not answer after the retries; the store is unchanged and the pages
        already fetched are kept for the next attempt.
    SchemaChangedError
        A page lacks a field the tool needs.
    BusyError
        Another pull into the same store is running (it holds ``STORE.lock``).
    """
    options = options or FetchOptions()
    store = Path(store)
    try:
        first_day = dt.date.fromisoformat(since)
    except ValueError as error:
        raise OptionError(f"--since was {since!r}, which is not a date (YYYY-MM-DD)") from error
    created = [folder for folder in [store.parent, *store.parent.parents] if not folder.exists()]
    store.parent.mkdir(parents=True, exist_ok=True)
    try:
        with file_lock(Path(f"{store}.lock"), what=f"a pull into {store}"):
            remove_dead_temporaries(store.parent, f"{store.name}.*")
            return _pull(store, first_day, since, types, options, sleep)
    finally:
        for folder in created:  # a pull that stored nothing leaves no empty folder
            try:
                folder.rmdir()
            except OSError:
                break


def _pull(
    store: Path,
    first_day: dt.date,
    since: str,
    types: tuple[str, ...],
    options: FetchOptions,
    sleep,
) -> PullResult:
    """:func:`pull_crimes`, holding the store's lock."""
    client = PortalClient(options, sleep=sleep)
    stored = _read_store(store)
    last_updated = _last_updated(stored)
    where = [f"date >= '{first_day.isoformat()}T00:00:00'"]
    if types:
        quoted = ", ".join("'" + kind.replace("'", "''").upper() + "'" for kind in types)
        where.append(f"primary_type in ({quoted})")
    window = " AND ".join(where)
    changed_where = (
        window if last_updated is None else f"{window} AND updated_on > '{last_updated}'"
    )
    staging = Path(f"{store}.partial")
    state = _load_state(staging, changed_where, options.page_size)
    resumed_from = state["pages_done"]
    if resumed_from:
        logger.info("resuming an interrupted pull after page %d", resumed_from)
    previous: set[str] = set()  # the last page's ids: a page must not repeat them
    with Progress("portal: changed records", unit="pages") as pages:
        while not state["complete"]:
            page = client.get_json(
                {
                    "$where": changed_where,
                    "$order": "updated_on, id",
                    "$limit": options.page_size,
                    "$offset": state["pages_done"] * options.page_size,
                }
            )
            frame = _records(page)
            page_ids = set(frame["ID"])
            if page_ids & previous:
                raise _ignored_offset(state["pages_done"])
            previous = page_ids
            if len(frame):
                name = f"page-{state['pages_done']:06d}.parquet"
                write_parquet(frame, staging / name, {})
                state["pages"].append(name)
            state["pages_done"] += 1
            state["complete"] = len(page) < options.page_size
            _save_state(staging, state)
            pages.advance()
    live_ids = _live_ids(client, window, options.page_size)
    fetched = _read_pages(staging, state["pages"])
    merged, replaced, deleted = _merge(stored, fetched, live_ids)
    write_parquet(
        merged,
        store,
        {"source": asdict(options) | {"since": since, "types": list(types)}},
    )
    shutil.rmtree(staging, ignore_errors=True)
    return PullResult(
        store=store,
        records=len(merged),
        fetched=len(fetched),
        replaced=replaced,
        deleted=deleted,
        last_updated=_last_updated(merged),
        resumed_from_page=resumed_from,
    )


def _records(page: list[dict]) -> pd.DataFrame:
    """A page of API records as export columns (text), checked for the fields the tool needs,
    and for an ``id`` in every record (one without could not be replaced or deleted)."""
    if page:
        present = set().union(*(record.keys() for record in page))
        missing = [name for name in REQUIRED_FIELDS if name not in present]
        if missing or not (
            {"latitude", "longitude"} <= present or {"x_coordinate", "y_coordinate"} <= present
        ):
            wanted = missing or ["latitude/longitude or x_coordinate/y_coordinate"]
            raise SchemaChangedError(
                f"the portal's records lack {', '.join(wanted)} (fields present: "
                f"{', '.join(sorted(present))}): the dataset changed; nothing was changed"
            )
        lacking = [record for record in page if record.get("id") in (None, "")]
        if lacking:  # a record's other fields may be empty: the reader rejects it, with a reason
            raise SchemaChangedError(
                f"the portal sent {len(lacking)} of {len(page)} records without id "
                f"(the first: {json.dumps(lacking[0])[:200]}): the dataset changed; nothing "
                "was changed"
            )
    frame = pd.DataFrame(
        {column: [_text(record.get(name)) for record in page] for name, column in FIELDS.items()}
    )
    return frame


def _ignored_offset(page: int) -> SchemaChangedError:
    return SchemaChangedError(
        f"the portal ignored $offset: page {page + 1} repeats records of page {page} (it would "
        "send the same page for ever); nothing was changed"
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _live_ids(client: PortalClient, window: str, page_size: int) -> set[str]:
    """Every id the portal still publishes in the window (deleted records are not among them)."""
    ids: set[str] = set()
    previous: set[str] = set()
    offset = 0
    with Progress("portal: ids still published", unit="pages") as pages:
        while True:
            page = client.get_json(
                {
                    "$select": "id",
                    "$where": window,
                    "$order": "id",
                    "$limit": page_size,
                    "$offset": offset,
                }
            )
            if any(record.get("id") in (None, "") for record in page):
                raise SchemaChangedError(
                    "the portal's listing of ids holds records without id: the API changed; "
                    "nothing was changed"
                )
            page_ids = {str(record["id"]) for record in page}
            if offset and page_ids & previous:
                raise _ignored_offset(offset // page_size)
            ids.update(page_ids)
            previous = page_ids
            pages.advance()
            if len(page) < page_size:
                return ids
            offset += page_size


def _merge(
    stored: pd.DataFrame, fetched: pd.DataFrame, live_ids: set[str]
) -> tuple[pd.DataFrame, int, int]:
    """The stored records with the fetched ones replacing theirs by id, less the deleted."""
    replaced = int(stored["ID"].isin(set(fetched["ID"])).sum()) if len(stored) else 0
    merged = pd.concat([stored, fetched], ignore_index=True)
    merged = merged.drop_duplicates("ID", keep="last")
    alive = merged["ID"].isin(live_ids)
    deleted = int((~alive).sum())
    merged = merged[alive]
    order = pd.to_numeric(merged["ID"], errors="coerce")
    merged = merged.assign(_order=order).sort_values(["_order", "ID"]).drop(columns="_order")
    return merged.reset_index(drop=True), replaced, deleted


def _read_store(store: Path) -> pd.DataFrame:
    if not store.exists():
        return pd.DataFrame({column: pd.Series(dtype=object) for column in FIELDS.values()})
    try:
        frame = pd.read_parquet(store)
    except (OSError, ValueError, pa.ArrowException) as error:
        raise InputFileError(
            f"the store {str(store)!r} cannot be read as Parquet ({error}): give --out a new "
            "file, or the store of an earlier pull"
        ) from error
    missing = [column for column in ("ID", "Updated On") if column not in frame.columns]
    if missing:
        raise InputFileError(
            f"{str(store)!r} is not a store of pulled crimes (it lacks {', '.join(missing)}): "
            "give --out a new file, or the store of an earlier pull"
        )
    return frame


def _last_updated(frame: pd.DataFrame) -> str | None:
    if not len(frame):
        return None
    values = frame["Updated On"].dropna().astype(str)
    return values.max() if len(values) else None


def _read_pages(staging: Path, names: list[str]) -> pd.DataFrame:
    if not names:
        return _records([])
    return pd.concat([pd.read_parquet(staging / name) for name in names], ignore_index=True)


def _load_state(staging: Path, where: str, page_size: int) -> dict:
    """The staged progress of an interrupted pull of the same query, or a fresh start (also when
    a page it lists is missing: staged pages are never merged incomplete)."""
    path = staging / "state.json"
    fresh = {"where": where, "page_size": page_size, "pages_done": 0, "complete": False}
    fresh["pages"] = []
    if path.exists():
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        pages = state.get("pages") if isinstance(state, dict) else None
        if (
            state.get("where") == where
            and state.get("page_size") == page_size
            and isinstance(pages, list)
            and all((staging / str(name)).is_file() for name in pages)
        ):
            remove_dead_temporaries(staging)
            return state
        shutil.rmtree(staging, ignore_errors=True)  # another query, or pages lost: start again
    staging.mkdir(parents=True, exist_ok=True)
    _save_state(staging, fresh)
    return fresh


def _save_state(staging: Path, state: dict) -> None:
    text = json.dumps(state, indent=1)
    write_atomically(staging / "state.json", lambda temporary: temporary.write_text(text))
