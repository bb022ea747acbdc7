"""Writing batches of validated events exactly once (docs/reference.md#usage-and-meters).

The database decides: every batch is inserted under the unique index on `(cloud_id, event_id)` in the
caller's transaction, never after a separate "does it exist?" read that a concurrent writer could
invalidate. The fast path stores a batch in one statement (SQLite: `executemany` of `INSERT … ON
CONFLICT DO NOTHING` on the raw connection; PostgreSQL: `COPY` straight into the table). Only when some
keys already exist does the batch go the slow way: roll back to a savepoint, read the stored content
of its keys, and insert the rest with `ON CONFLICT DO NOTHING` — on SQLite under the write lock the
batch already holds, on PostgreSQL with `RETURNING`, re-reading any key a concurrent writer stored in
between. A stored event whose content (`row[2:]`: department, meter, UTC time, millionths, resource,
canonical attributes) equals the batch's is a duplicate, any other a conflict.

On PostgreSQL a batch waits for the keys another importer has stored but not committed. Keys are sent
in one global order, so two transactions that each write one batch never wait for each other in a
circle. A transaction that holds earlier batches' keys could, though (A holds k1 and wants k2, B holds k2
from its earlier batch and wants k1): such a batch (`holding=True`) waits at most `YIELD_AFTER` and then
raises `WouldWait`, rolled back to its savepoint; the import commits — releasing every key it holds —
and writes the batch again, now holding nothing (`metering.ingest.Ingest`). A deadlock the database
detects all the same is handled alike, or retried when the caller owns the transaction.

Each batch first takes the ingest barrier (SQLite: the write lock; PostgreSQL: a shared advisory lock)
and only then reads the clock for `received_at`. A bill run that takes the barrier exclusively
(`ingest_barrier`) therefore sees every event received before its own clock reading, and every event it
did not see is received after it — what late-usage corrections rely on (docs/reference.md#late-usage).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import countOf, itemgetter
from typing import Any

from sqlmodel import Session

from core.clock import Clock, utcnow
from core.db import is_postgres
from metering.events import Row, utc_text

#: Advisory lock key of the ingest barrier on PostgreSQL (shared by ingest, exclusive by bill runs).
INGEST_LOCK = 7_202_203
COLUMNS = (
    "cloud_id",
    "event_id",
    "department_id",
    "meter",
    "time",
    "quantity",
    "resource_id",
    "attributes",
    "received_at",
)
_COLS = ", ".join(COLUMNS)
_CHUNK = 500
_RETRIES = 8
#: How long a batch whose transaction holds earlier batches' keys waits for another importer's keys
#: before it gives way (PostgreSQL `lock_timeout`).
YIELD_AFTER = "100ms"
_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS usage_stage (cloud_id varchar(40), event_id varchar(200), "
    "department_id varchar(40), meter varchar(40), time timestamptz, quantity bigint, "
    "resource_id varchar(200), attributes text, received_at timestamptz) ON COMMIT DELETE ROWS"
)
_by_key = itemgetter(0, 1)
# The stored content in the form of `row[2:]` (the UTC time as the validator writes it).
_SQLITE_CONTENT = "department_id, meter, time, quantity, resource_id, attributes"
_PG_CONTENT = (
    "department_id, meter, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), quantity, "
    "resource_id, attributes"
)
_series_key = itemgetter(0, 2, 3)
_OPTIONAL = (6, 7)  # resource_id, attributes


def _sqlite_insert(rows: list[Row], received: str) -> tuple[str, Callable[[list[Row]], Iterable[tuple[Any, ...]]]]:
    """The insert for a batch, and how to turn rows into its values. An optional column that is None in
    every row is a literal NULL rather than a bound None: binding None costs the driver an adaptation
    lookup per value, 15 % of the insert (nearly every batch has no attributes)."""
    # `received` is our own digits-and-punctuation timestamp: safe to inline, saves a column per row
    null = {i for i in _OPTIONAL if countOf(map(itemgetter(i), rows), None) == len(rows)}
    marks = ", ".join("NULL" if i in null else "?" for i in range(8))
    sql = (
        f"INSERT INTO usage_event ({_COLS}) VALUES ({marks}, '{received}') ON CONFLICT (cloud_id, event_id) DO NOTHING"
    )
    if not null:
        return sql, _whole
    pick = itemgetter(*(i for i in range(8) if i not in null))
    return sql, lambda batch: map(pick, batch)


def _whole(rows: list[Row]) -> list[Row]:
    return rows


Key = tuple[str, str]
#: What a repeated key is compared by: `row[2:]`.
Content = tuple[Any, ...]
_content = itemgetter(slice(2, None))


class WouldWait(Exception):
    """A batch gave way to another importer's uncommitted keys (PostgreSQL, `holding=True`): nothing of it
    was stored; commit the transaction, then write it again."""


@dataclass
class BatchResult:
    """What became of a batch: how many were stored, which keys were duplicates, which conflicts."""

    accepted: int
    duplicates: set[Key] = field(default_factory=set)
    #: conflicting key -> content of the event stored under it
    conflicts: dict[Key, Content] = field(default_factory=dict)


def ingest_barrier(session: Session) -> None:
    """Wait for in-flight ingest batches and hold new ones off until this transaction ends.

    After it, every event with `received_at` before a clock reading taken now is visible to this
    transaction, and every event not visible is received later (used by bill runs, docs/reference.md#late-usage).
    """
    raw = session.connection().connection.dbapi_connection
    assert raw is not None  # the session's connection is checked out: it has its DBAPI connection
    cur = raw.cursor()
    try:
        if is_postgres(session):
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (INGEST_LOCK,))
        else:
            cur.execute("UPDATE usage_series SET meter = meter WHERE 0")
    finally:
        cur.close()


class EventWriter:
    """Stores batches of rows (keys unique within a batch) in the session's current transaction."""

    def __init__(self, session: Session, *, now: Clock = utcnow, series: set[tuple[str, str, str]] | None = None):
        """`series`: the (cloud, department, meter) series known to be stored; None reads them all. A batch
        inserts those of its series not known (`ON CONFLICT DO NOTHING`), so fewer known costs only that."""
        self.session = session
        self.now = now
        self.postgres = is_postgres(session)
        self.series: set[tuple[str, str, str]] = (
            set(
                _tuples(session.connection().exec_driver_sql("SELECT cloud_id, department_id, meter FROM usage_series"))
            )
            if series is None
            else series
        )
        self.lock_timeout = (
            str(session.connection().exec_driver_sql("SELECT current_setting('lock_timeout')").scalar())
            if self.postgres
            else None
        )

    def write(
        self,
        rows: list[Row],
        series: set[tuple[str, str, str]] | None = None,
        copy: bytes | None = None,
        *,
        holding: bool = False,
    ) -> BatchResult:
        """Store one batch in the session's transaction.

        `series`: the rows' (cloud, department, meter) — or at least all those not stored before.
        `copy` (PostgreSQL): the rows, in key order, as COPY CSV lines without `received_at`
        (`metering.fastcsv.FastBatch`), sent as they are instead of row by row.
        `holding` (PostgreSQL): the transaction holds keys of earlier batches; rather than wait long for
        another importer's keys the batch raises `WouldWait` (see the module docstring). Otherwise a
        deadlock or lock timeout is retried in the transaction.
        """
        if not rows:
            return BatchResult(0)
        holding = holding and self.postgres  # SQLite: one writer at a time, no one to wait for
        attempt = 0
        while True:
            try:
                return self._write(
                    rows, set(map(_series_key, rows)) if series is None else series, copy, give_way=holding
                )
            except Exception as exc:  # only lock conflicts are retried
                if not (self.postgres and _retryable(exc)):
                    raise
                if holding:
                    raise WouldWait() from exc
                attempt += 1
                if attempt >= _RETRIES:
                    raise
                time.sleep(0.05 * attempt)

    def _write(
        self, rows: list[Row], series: set[tuple[str, str, str]], copy: bytes | None, *, give_way: bool
    ) -> BatchResult:
        raw = self.session.connection().connection.dbapi_connection
        assert raw is not None  # the session's connection is checked out: it has its DBAPI connection
        cur = raw.cursor()
        try:
            if self.postgres:
                cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (INGEST_LOCK,))
            else:
                cur.execute("UPDATE usage_series SET meter = meter WHERE 0")  # take the write lock first
            received = utc_text(self.now())
            cur.execute("SAVEPOINT usage_batch")
            try:
                if give_way:  # undone with the savepoint if the batch gives way
                    cur.execute("SELECT set_config('lock_timeout', %s, true)", (YIELD_AFTER,))
                new_series = sorted(series - self.series)
                if new_series:
                    self._add_series(cur, new_series)
                result = (
                    self._insert_pg(cur, rows, received, copy)
                    if self.postgres
                    else self._insert_sqlite(cur, rows, received)
                )
                if give_way:
                    cur.execute("SELECT set_config('lock_timeout', %s, true)", (self.lock_timeout,))
            except BaseException:
                cur.execute("ROLLBACK TO SAVEPOINT usage_batch")
                cur.execute("RELEASE SAVEPOINT usage_batch")
                raise
            cur.execute("RELEASE SAVEPOINT usage_batch")
            self.series.update(new_series)
            return result
        finally:
            cur.close()

    def _add_series(self, cur: Any, series: list[tuple[str, str, str]]) -> None:
        mark = "%s" if self.postgres else "?"
        cur.executemany(
            f"INSERT INTO usage_series (cloud_id, department_id, meter) VALUES ({mark}, {mark}, {mark}) "
            "ON CONFLICT DO NOTHING",
            series,
        )

    # ------------------------------------------------------------------ SQLite

    def _insert_sqlite(self, cur: Any, rows: list[Row], received: str) -> BatchResult:
        sql, values = _sqlite_insert(rows, received)
        cur.execute("SAVEPOINT usage_fast")
        cur.executemany(sql, values(rows))
        if cur.rowcount == len(rows):
            cur.execute("RELEASE SAVEPOINT usage_fast")
            return BatchResult(len(rows))
        cur.execute("ROLLBACK TO SAVEPOINT usage_fast")
        cur.execute("RELEASE SAVEPOINT usage_fast")
        # We hold SQLite's write lock: nobody can store a key between this read and the insert.
        stored = self._stored(cur, [_by_key(r) for r in rows])
        result, fresh = _classify(rows, stored)
        if fresh:
            cur.executemany(sql, values(fresh))
            if cur.rowcount != len(fresh):  # pragma: no cover - impossible under the write lock
                raise RuntimeError("usage_event changed under the write lock")
        result.accepted = len(fresh)
        return result

    # ------------------------------------------------------------------ PostgreSQL

    def _insert_pg(self, cur: Any, rows: list[Row], received: str, copy: bytes | None) -> BatchResult:
        from psycopg import errors

        received += "+00"
        # One key order for every importer (code points = UTF-8 bytes = COLLATE "C"), so two
        # importers waiting on each other's uncommitted keys cannot wait in a circle.
        ordered = rows if copy is not None else sorted(rows, key=_by_key)
        cur.execute("SAVEPOINT usage_fast")
        try:
            if copy is not None:
                with cur.copy(f"COPY usage_event ({_COLS}) FROM STDIN (FORMAT csv)") as stream:
                    stream.write(copy.replace(b"\n", f",{received}\n".encode()))
            else:
                self._copy(cur, "usage_event", ordered, received)
        except errors.UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT usage_fast")
            cur.execute("RELEASE SAVEPOINT usage_fast")
        else:
            cur.execute("RELEASE SAVEPOINT usage_fast")
            return BatchResult(len(rows))
        stored = self._stored(cur, [_by_key(r) for r in ordered])
        result, fresh = _classify(ordered, stored)
        if fresh:
            # every time: a rollback to a savepoint (a batch retried, or one that gave way) undoes its creation
            cur.execute(_STAGE)
            cur.execute("DELETE FROM usage_stage")
            self._copy(cur, "usage_stage", fresh, received)
            cur.execute(
                f"INSERT INTO usage_event ({_COLS}) SELECT {_COLS} FROM usage_stage "
                'ORDER BY cloud_id COLLATE "C", event_id COLLATE "C" '
                "ON CONFLICT (cloud_id, event_id) DO NOTHING RETURNING cloud_id, event_id"
            )
            inserted = set(_tuples(cur.fetchall()))
            result.accepted = len(inserted)
            raced = [_by_key(r) for r in fresh if _by_key(r) not in inserted]
            if raced:  # stored by a concurrent importer after our read: decide against what it stored
                late, _ = _classify([r for r in fresh if _by_key(r) not in inserted], self._stored(cur, raced))
                result.duplicates |= late.duplicates
                result.conflicts.update(late.conflicts)
        return result

    @staticmethod
    def _copy(cur: Any, table: str, rows: Iterable[Row], received: str) -> None:
        with cur.copy(f"COPY {table} ({_COLS}) FROM STDIN") as copy:
            write = copy.write_row
            for r in rows:
                write((r[0], r[1], r[2], r[3], r[4] + "+00", r[5], r[6], r[7], received))

    # ------------------------------------------------------------------ both

    def _stored(self, cur: Any, keys: list[Key]) -> dict[Key, Content]:
        """The content stored under `keys` (those that exist), in the form of `row[2:]`."""
        by_cloud: dict[str, list[str]] = defaultdict(list)
        for cloud, event_id in keys:
            by_cloud[cloud].append(event_id)
        found: dict[Key, Content] = {}
        for cloud, ids in by_cloud.items():
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                if self.postgres:
                    cur.execute(
                        f"SELECT event_id, {_PG_CONTENT} FROM usage_event WHERE cloud_id = %s AND event_id = ANY(%s)",
                        (cloud, chunk),
                    )
                else:
                    cur.execute(
                        f"SELECT event_id, {_SQLITE_CONTENT} FROM usage_event WHERE cloud_id = ? "
                        f"AND event_id IN ({', '.join('?' * len(chunk))})",
                        (cloud, *chunk),
                    )
                for event_id, *content in cur.fetchall():
                    found[(cloud, event_id)] = tuple(content)
        return found


def _classify(rows: list[Row], stored: dict[Key, Content]) -> tuple[BatchResult, list[Row]]:
    """Split rows into duplicates and conflicts of what is stored, and the fresh ones left to insert."""
    result = BatchResult(0)
    fresh = []
    for r in rows:
        key = _by_key(r)
        content = stored.get(key)
        if content is None:
            fresh.append(r)
        elif content == _content(r):
            result.duplicates.add(key)
        else:
            result.conflicts[key] = content
    return result, fresh


def _tuples(rows: Iterable[Any]) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in rows]


def _retryable(exc: BaseException) -> bool:
    from psycopg import errors

    cause = getattr(exc, "orig", exc)
    return isinstance(cause, (errors.DeadlockDetected, errors.SerializationFailure, errors.LockNotAvailable))
