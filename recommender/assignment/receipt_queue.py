"""Real-time receipts written behind the response (PostgreSQL with RECEIPT_QUEUE_URL set).

A request reserves its receipt's id from the database's sequence (a block at a time, so no
round trip per request), pushes the receipt to a Redis stream and answers. A drainer
(`manage.py drain_receipts`) writes the stream's oldest entries in one statement, skipping
ids already written, then deletes them from the stream. Nothing answered is lost:

- a web worker killed after its push: the receipt is in the stream (Redis keeps it on disk
  with `--appendonly yes`, as docker-compose runs it);
- a drainer killed before its commit: the entries are still in the stream; after its commit
  but before the delete: the next drain writes them again, and every id is already there;
- two drains at once (the drainer and a read that flushes): the same, by id.

Whatever reads a real-time receipt (its API and page, the replay) first writes what was
queued before it, so an answered decision is readable at once; feedback does so when the
decision it names is not found, or when it names none (its latest assignment may be queued)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction

from recommender.models import Assignment, Decision, ExclusionSheet

log = logging.getLogger(__name__)

STREAM = "deepflame:receipts"
# Ids reserved per round trip: a worker dying leaves at most this many unused (a gap, no harm).
ID_BLOCK = 100
# Receipts per statement: large enough to batch, small enough that a read flushing behind
# the drainer waits little.
DRAIN_COUNT = 200
DRAIN_LOCK = 73_010_017  # any constant of this product's own
# The drainer's wait for new entries when the stream is empty (ms), and a pause after a
# small drain so that one statement carries many receipts under load (s).
IDLE_BLOCK_MS = 1000
SMALL_DRAIN_PAUSE_S = 0.02

_ASSIGNMENT_COLUMNS = (
    ("offer_id", "varchar"),
    ("slot", "smallint"),
    ("slot_label", "varchar"),
    ("score", "double precision"),
    ("goal_value", "double precision"),
    ("fallback", "boolean"),
)


def queue_enabled() -> bool:
    return bool(settings.RECEIPT_QUEUE_URL) and connection.vendor == "postgresql"


@dataclass
class _Process:
    """This process's Redis client and reserved ids (rebuilt in a forked child)."""

    pid: int = -1
    url: str = ""
    client: redis.Redis | None = None
    ids: deque[int] = field(default_factory=deque)


_process = _Process()


def _own() -> _Process:
    global _process
    url = settings.RECEIPT_QUEUE_URL
    if _process.pid != os.getpid() or _process.url != url or _process.client is None:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
        _process = _Process(pid=os.getpid(), url=url, client=client)
    return _process


def _client() -> redis.Redis:
    client = _own().client
    assert client is not None
    return client


def decision_id_reserve() -> int:
    """A new receipt id from the database's sequence, one round trip per ID_BLOCK ids."""
    ids = _own().ids
    if not ids:
        table = Decision._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, ID_BLOCK],
            )
            ids.extend(row[0] for row in cursor.fetchall())
    return ids.popleft()


def receipt_submit(
    decision: Decision, picks: list[Any], *, outcome_sheet: tuple[str, Any], sheets: dict[str, int]
) -> int:
    """Queue one real-time receipt (`decision` unsaved, `picks` its chosen offers) and return
    its id; written at once, by the drainer's statement, when Redis cannot take it."""
    sha256, excluded = outcome_sheet
    entry = _entry(decision, picks, sha256)
    fields = {"receipt": _json(entry)}
    if sha256 not in sheets:
        fields["sheet"] = _json({"sha256": sha256, "excluded": excluded})
    try:
        _client().xadd(STREAM, fields)  # type: ignore[arg-type]
    except redis.RedisError as exc:
        log.warning("receipt %s written in its request: queue refused (%s)", entry["id"], exc)
        receipts_write([fields["receipt"]], [fields["sheet"]] if "sheet" in fields else [])
    sheets[sha256] = 0  # queued or written: receipts find it by hash
    return int(entry["id"])


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _entry(decision: Decision, picks: list[Any], sha256: str) -> dict[str, Any]:
    decision.id = decision_id_reserve()
    entry = {f.column: _plain(getattr(decision, f.attname)) for f in _decision_fields()}
    entry["exclusions_sha256"] = sha256
    entry["assignments"] = [
        {
            "offer_id": pick.offer_id,
            "slot": pick.slot,
            "slot_label": pick.slot_label,
            "score": pick.score,
            "goal_value": pick.goal_value,
            "fallback": pick.fallback,
        }
        for pick in picks
    ]
    return entry


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def receipts_drain(count: int = DRAIN_COUNT, until: bytes = b"+") -> int:
    """Write the stream's oldest `count` receipts (none after the entry `until`), then delete
    them from it; returns how many."""
    client = _client()
    with _one_drain_at_a_time():
        entries: Any = client.xrange(STREAM, "-", until, count=count)
        if not entries:
            return 0
        receipts_write(
            [values[b"receipt"].decode() for _, values in entries],
            [values[b"sheet"].decode() for _, values in entries if b"sheet" in values],
        )
        client.xdel(STREAM, *[entry_id for entry_id, _ in entries])
    return len(entries)


@contextlib.contextmanager
def _one_drain_at_a_time() -> Iterator[None]:
    """The drainer and the reads that flush take turns (a PostgreSQL session lock, released
    if the process dies): two drains of the same entries would wait on each other's rows."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [DRAIN_LOCK])
        try:
            yield
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [DRAIN_LOCK])


def receipts_flush() -> int:
    """Write every receipt queued before this call (a no-op without the queue); returns how
    many. What arrives meanwhile is the drainer's: under load the stream is never empty."""
    if not queue_enabled():
        return 0
    total = 0
    try:
        last: Any = _client().xrevrange(STREAM, "+", "-", count=1)
        if not last:
            return 0
        while drained := receipts_drain(until=last[0][0]):
            total += drained
    except redis.RedisError as exc:
        # What Redis holds cannot be read now; what the database holds still can.
        log.warning("queued receipts not flushed: %s", exc)
    return total


def receipts_queued() -> int:
    return int(_client().xlen(STREAM))


def drain_forever(should_stop: Callable[[], bool]) -> int:
    """The drainer's loop until `should_stop()`; returns how many receipts it wrote."""
    client = _client()
    total = 0
    while not should_stop():
        if not client.xread({STREAM: "0-0"}, count=1, block=IDLE_BLOCK_MS):
            continue  # nothing queued for a second
        drained = receipts_drain()
        total += drained
        if drained < DRAIN_COUNT:
            time.sleep(SMALL_DRAIN_PAUSE_S)
    return total


# -- writing ------------------------------------------------------------------------------


def _decision_fields() -> list[Any]:
    return [f for f in Decision._meta.concrete_fields if f.name not in ("batch", "exclusions")]


def _record_type(columns: list[tuple[str, str]]) -> str:
    return ", ".join(f'"{name}" {kind}' for name, kind in columns)


def receipts_write(receipts: list[str], sheets: list[str]) -> None:
    """Exclusion sheets, receipts and their assignments (each a JSON object as queued) in one
    transaction; a receipt whose id is already written is skipped with its assignments."""
    with transaction.atomic(), connection.cursor() as cursor:
        if sheets:
            cursor.execute(_sheets_sql(), [f"[{','.join(sheets)}]"])
        cursor.execute(_receipts_sql(), [f"[{','.join(receipts)}]"])


@functools.cache
def _sheets_sql() -> str:
    table = ExclusionSheet._meta.db_table
    return (
        f'INSERT INTO "{table}" ("sha256", "excluded", "created_at") '
        "SELECT s.sha256, s.excluded, now() FROM jsonb_to_recordset(%s::jsonb) "
        "AS s(sha256 varchar, excluded jsonb) ON CONFLICT (sha256) DO NOTHING"
    )


@functools.cache
def _receipts_sql() -> str:
    fields = _decision_fields()
    record = [(f.column, f.db_type(connection)) for f in fields]
    record += [("exclusions_sha256", "varchar"), ("assignments", "jsonb")]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    values = ", ".join(f'v."{f.column}"' for f in fields)
    sheet_table = ExclusionSheet._meta.db_table
    assignment_names = ", ".join(f'"{name}"' for name, _ in _ASSIGNMENT_COLUMNS)
    assignment_values = ", ".join(f'a."{name}"' for name, _ in _ASSIGNMENT_COLUMNS)
    # A sheet that is missing leaves exclusions_id NULL: the statement fails and the
    # receipts stay queued (loud, nothing lost) instead of being dropped by an inner join.
    return (
        f"WITH v AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS v({_record_type(record)})), "
        f'd AS (INSERT INTO "{Decision._meta.db_table}" ({columns}, "exclusions_id") '
        f'SELECT {values}, (SELECT s.id FROM "{sheet_table}" s WHERE s.sha256 = '
        "v.exclusions_sha256) FROM v ON CONFLICT (id) DO NOTHING RETURNING id) "
        f'INSERT INTO "{Assignment._meta.db_table}" ("decision_id", "customer_id", '
        f'"segment_key", "holdout", "at", {assignment_names}) '
        f"SELECT v.id, v.customer_id, v.segment_key, v.holdout, v.at, {assignment_values} "
        "FROM v JOIN d ON d.id = v.id, "
        f"jsonb_to_recordset(v.assignments) AS a({_record_type(list(_ASSIGNMENT_COLUMNS))})"
    )
