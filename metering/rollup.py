"""Usage rollups: exact sums of the events per hour and per day, folded in after ingest; reads add the tail.

Three tables (`metering.models`), all keyed in UTC so that they serve any timezone whose offset is a
whole number of hours:

* `usage_hourly` — per (hour, department, cloud, meter), indexed by (department, hour): the base, local
  days of one department's reads, and the hours at the ends of a long range;
* `usage_daily` — per (UTC day, department, cloud, meter): the whole UTC days inside a long range (a
  month), its ends coming from `usage_hourly`;
* `usage_cloud_hourly` — per (hour, cloud, meter): reads that neither group nor filter by department,
  with `last_received`, the latest `received_at` of its events (is a bill stale: docs/reference.md#contracts-and-bills, #late-usage).

Each holds the number of events and the quantity in three BIGINT parts of millionths (`q_hi`, `q_mid`,
`q_lo`; see `core.types.micro_sum`), so sums stay exact on SQLite as on PostgreSQL.

Ingest does not touch them (`metering.store.EventWriter` only stores events). One row of
`usage_rollup_mark` says which events they cover: on SQLite every event with `rowid <= folded_rowid`
(`usage_event` is a rowid table, append-only, written by one writer at a time: rowid order is commit
order); on PostgreSQL every event with `received_at < folded_before` (the BRIN index on `received_at`
finds the rest). `fold` adds the events beyond the mark — the tail — and advances the mark, in one
transaction behind the ingest barrier: a scheduler job every minute, the end of a usage import, the demo,
`zhengyun usage fold`. Reads (`with_tail`) take the rollup rows and the tail's events in one statement,
so their answers are exact whatever has been folded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    type_coerce,
    union_all,
)
from sqlmodel import Session

from core.clock import Clock, utcnow
from core.types import UtcDateTime
from metering.events import utc_text
from metering.models import UsageCloudHourly, UsageDaily, UsageEvent, UsageHourly
from metering.timebuckets import offset_segments

_PART_BITS = 20
_PART_MASK = (1 << _PART_BITS) - 1
_SUMS = ("events", "q_hi", "q_mid", "q_lo")
#: table -> its key columns (the table's primary key order)
TABLES: dict[str, tuple[str, ...]] = {
    "usage_hourly": ("hour", "department_id", "cloud_id", "meter"),
    "usage_daily": ("day", "department_id", "cloud_id", "meter"),
    "usage_cloud_hourly": ("hour", "cloud_id", "meter"),
}
MARK = "usage_rollup_mark"


def _sql(postgres: bool) -> tuple[str, str, str]:
    """The hour and day of an event's `time` as stored (SQLite text, timestamptz), and its quantity parts."""
    if postgres:
        hour, day = "date_trunc('hour', time, 'UTC')", "date_trunc('day', time, 'UTC')"
    else:
        hour = "substr(time, 1, 13) || ':00:00.000000'"
        day = "substr(time, 1, 10) || ' 00:00:00.000000'"
    parts = (
        f"quantity >> {2 * _PART_BITS} AS q_hi, (quantity >> {_PART_BITS}) & {_PART_MASK} AS q_mid, "
        f"quantity & {_PART_MASK} AS q_lo"
    )
    return hour, day, parts


def _upsert_tail(name: str) -> str:
    keys = ", ".join(TABLES[name])
    sets = ", ".join(f"{s} = {name}.{s} + excluded.{s}" for s in _SUMS)
    return f"ON CONFLICT ({keys}) DO UPDATE SET {sets}"


def fold(session: Session, *, now: Clock = utcnow) -> int:
    """Add the events beyond the mark to the rollups and advance the mark, in the session's transaction
    (commit it: all or nothing). Idempotent: a second fold finds no tail. Returns the events folded.

    It first takes the ingest barrier (`metering.store.ingest_barrier`): in-flight batches finish, new
    ones wait until the transaction ends. On SQLite the tail is then `rowid` in (mark, max(rowid)]; on
    PostgreSQL `received_at` in [mark, now), `now` read after the barrier with the writer's clock — every
    event received before it is visible, every later one has a later `received_at` and is left for the
    next fold.
    """
    from metering.store import ingest_barrier

    ingest_barrier(session)
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        bound = utc_text(now()) + "+00"
        where = f"received_at >= (SELECT folded_before FROM {MARK}) AND received_at < '{bound}'::timestamptz"
        advance = f"UPDATE {MARK} SET folded_before = '{bound}'::timestamptz"
    else:
        top = connection.exec_driver_sql("SELECT max(rowid) FROM usage_event").scalar()
        top = int(top or 0)
        where = f"rowid > (SELECT folded_rowid FROM {MARK}) AND rowid <= {top}"
        advance = f"UPDATE {MARK} SET folded_rowid = {top}"
    folded = _fold_where(connection, where, postgres=postgres)
    connection.exec_driver_sql(advance)
    return folded


#: A read that meets more events than this beyond the mark folds them first (`fold_large_tail`).
FOLD_BEFORE_READ = 10_000


def fold_large_tail(session: Session, *, now: Clock = utcnow, limit: int | None = None) -> int:
    """Fold first when more than `limit` (FOLD_BEFORE_READ) events lie beyond the mark — a read about to add them to the
    rollups (docs/metering.md): reading a tail costs every statement that reads it, folding it once.
    Counts at most `limit + 1` events of the tail (a range of the key on SQLite, the BRIN index on
    PostgreSQL), so a read with a small tail pays next to nothing. Returns the events folded."""
    limit = FOLD_BEFORE_READ if limit is None else limit
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        beyond = f"received_at >= (SELECT folded_before FROM {MARK})"
    else:
        beyond = f"rowid > (SELECT folded_rowid FROM {MARK})"
    counted = connection.exec_driver_sql(
        f"SELECT count(*) FROM (SELECT 1 FROM usage_event WHERE {beyond} LIMIT {int(limit) + 1}) AS t"
    ).scalar()
    return fold(session, now=now) if int(counted or 0) > limit else 0


def _fold_where(connection: Connection, where: str, *, postgres: bool) -> int:
    """Add the events matching `where` to the three rollups: one pass over them into a temporary table
    per (hour, department, cloud, meter), then one upsert per rollup from it."""
    hour, day, parts = _sql(postgres)
    stage = "usage_rollup_stage"
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {stage} AS SELECT hour, day, department_id, cloud_id, meter, count(*) AS events, "
        "sum(q_hi) AS q_hi, sum(q_mid) AS q_mid, sum(q_lo) AS q_lo, max(received_at) AS last_received FROM "
        f"(SELECT {hour} AS hour, {day} AS day, department_id, cloud_id, meter, received_at, {parts} "
        f"FROM usage_event WHERE {where}) AS e GROUP BY hour, day, department_id, cloud_id, meter"
    )
    try:
        folded = int(connection.exec_driver_sql(f"SELECT coalesce(sum(events), 0) FROM {stage}").scalar() or 0)
        if folded:
            sums = "sum(events), sum(q_hi), sum(q_mid), sum(q_lo)"
            # `WHERE true`: SQLite's upsert after a SELECT needs a WHERE to parse
            connection.exec_driver_sql(
                "INSERT INTO usage_hourly (hour, department_id, cloud_id, meter, events, q_hi, q_mid, q_lo) "
                f"SELECT hour, department_id, cloud_id, meter, {sums} FROM {stage} WHERE true "
                f"GROUP BY hour, department_id, cloud_id, meter {_upsert_tail('usage_hourly')}"
            )
            connection.exec_driver_sql(
                "INSERT INTO usage_daily (day, department_id, cloud_id, meter, events, q_hi, q_mid, q_lo) "
                f"SELECT day, department_id, cloud_id, meter, {sums} FROM {stage} WHERE true "
                f"GROUP BY day, department_id, cloud_id, meter {_upsert_tail('usage_daily')}"
            )
            # the later arrival (on SQLite text compares as time: one stored format)
            latest = "GREATEST" if postgres else "max"
            latest += "(usage_cloud_hourly.last_received, excluded.last_received)"
            connection.exec_driver_sql(
                "INSERT INTO usage_cloud_hourly (hour, cloud_id, meter, events, q_hi, q_mid, q_lo, last_received) "
                f"SELECT hour, cloud_id, meter, {sums}, max(last_received) FROM {stage} WHERE true "
                f"GROUP BY hour, cloud_id, meter {_upsert_tail('usage_cloud_hourly')}, last_received = {latest}"
            )
    finally:
        connection.exec_driver_sql(f"DROP TABLE {stage}")
    return folded


def rebuild(session: Session, *, now: Clock = utcnow) -> int:
    """Empty the rollups, move the mark back to before the first event and fold everything (benchmarks,
    tests): the same fold as always, from an empty mark."""
    connection = session.connection()
    for name in TABLES:
        connection.exec_driver_sql(f"DELETE FROM {name}")
    connection.exec_driver_sql(
        f"UPDATE {MARK} SET folded_rowid = 0, folded_before = {_EMPTY[connection.dialect.name == 'postgresql']}"
    )
    return fold(session, now=now)


_EMPTY = {True: "'-infinity'", False: "NULL"}


# ---------------------------------------------------------------------------- exact reads: rollups + tail

_ROLLUPS = {
    "usage_hourly": UsageHourly.__table__,  # type: ignore[attr-defined]
    "usage_daily": UsageDaily.__table__,  # type: ignore[attr-defined]
    "usage_cloud_hourly": UsageCloudHourly.__table__,  # type: ignore[attr-defined]
}


@cache
def tail(dialect: str) -> Any:
    """The events beyond the mark as rollup-shaped rows (hour, day, department_id, cloud_id, meter,
    events = 1, q_hi, q_mid, q_lo, last_received), a CTE materialized once per statement.

    SQLite: `rowid > folded_rowid`, a range of the table's own key; PostgreSQL: `received_at >=
    folded_before`, through the BRIN index. Small when folds run (every minute)."""
    e = UsageEvent.__table__.c  # type: ignore[attr-defined]
    mark = table(MARK, column("folded_rowid"), column("folded_before"))
    if dialect == "postgresql":
        hour: Any = func.date_trunc("hour", e.time, "UTC")
        day: Any = func.date_trunc("day", e.time, "UTC")
        beyond = e.received_at >= select(mark.c.folded_before).scalar_subquery()
    else:
        stored = type_coerce(e.time, String)  # the stored UTC text
        hour = func.substr(stored, 1, 13).concat(":00:00.000000")
        day = func.substr(stored, 1, 10).concat(" 00:00:00.000000")
        beyond = literal_column("usage_event.rowid") > select(mark.c.folded_rowid).scalar_subquery()
    micro = type_coerce(e.quantity, BigInteger)
    columns = [
        type_coerce(hour, UtcDateTime).label("hour"),
        type_coerce(day, UtcDateTime).label("day"),
        e.department_id,
        e.cloud_id,
        e.meter,
        literal(1, BigInteger).label("events"),
        # constants inlined: PostgreSQL has `bigint >> integer`, not `>> bigint`
        micro.op(">>")(literal_column(str(2 * _PART_BITS))).label("q_hi"),
        micro.op(">>")(literal_column(str(_PART_BITS))).op("&")(literal_column(str(_PART_MASK))).label("q_mid"),
        micro.op("&")(literal_column(str(_PART_MASK))).label("q_lo"),
        e.received_at.label("last_received"),
    ]
    return select(*columns).where(beyond).cte("usage_tail").prefix_with("MATERIALIZED")


def with_tail(name: str, dialect: str, where: Callable[[Any], list[Any]]) -> Any:
    """Rollup `name`'s rows and the tail's events in its shape — `where(columns)` applied to both — as one
    derived table (UNION ALL) with the rollup's columns: summed, it is exact whatever has been folded.
    `where` gets a column collection with the rollup's names (hour or day, department_id, cloud_id,
    meter, last_received)."""
    rolled = _ROLLUPS[name]
    names = [c.name for c in rolled.c]
    events = tail(dialect)
    return union_all(
        select(*[rolled.c[n] for n in names]).where(*where(rolled.c)),
        select(*[events.c[n].label(n) for n in names]).where(*where(events.c)),
    ).subquery()


# ---------------------------------------------------------------------------- when reads may use them


def _whole_hour(moment: datetime) -> bool:
    utc = moment.astimezone(UTC)
    return utc.minute == 0 and utc.second == 0 and utc.microsecond == 0


def covers(start: datetime, end: datetime) -> bool:
    """Whether sums of events in `[start, end)` can be read from the rollups: both bounds on whole UTC
    hours. (A range cut inside an hour — a bound in a zone with a half-hour offset, such as
    Asia/Kolkata's midnight — needs the events themselves.)"""
    return start < end and _whole_hour(start) and _whole_hour(end)


def covers_buckets(zone: ZoneInfo, start: datetime, end: datetime) -> bool:
    """Whether local days or hours of `zone` in `[start, end)` can be read from the hourly rollups: the
    bounds on whole UTC hours and every offset of the zone in the range a whole number of hours that
    changes on a whole hour (Asia/Shanghai: always; Asia/Kolkata, +05:30: never — those scan events)."""
    if not covers(start, end):
        return False
    segments = offset_segments(zone, start, end)
    return all(offset % 3600 == 0 for _, offset in segments) and all(_whole_hour(t) for t, _ in segments[1:])


def whole_days(start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """The whole UTC days `[first, last)` inside `[start, end)`, if any."""
    lo = start.astimezone(UTC)
    first = lo.replace(hour=0, minute=0, second=0, microsecond=0)
    if first < lo:
        first += timedelta(days=1)
    last = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (first, last) if first < last else None
