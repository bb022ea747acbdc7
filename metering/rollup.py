"""Usage rollups: exact sums of the events per hour and per day, kept with the events they sum.

Three tables (`metering.models`), all keyed in UTC so that they serve any timezone whose offset is a
whole number of hours:

* `usage_hourly` — per (hour, department, cloud, meter), indexed by (department, hour): the base, local
  days of one department's reads, and the hours at the ends of a long range;
* `usage_daily` — per (UTC day, department, cloud, meter): the whole UTC days inside a long range (a
  month), its ends coming from `usage_hourly`;
* `usage_cloud_hourly` — per (hour, cloud, meter): reads that neither group nor filter by department,
  with `last_received`, the latest `received_at` of its events (is a bill stale: SPEC 2.5, 4.6).

Each holds the number of events and the quantity in three BIGINT parts of millionths (`q_hi`, `q_mid`,
`q_lo`; see `core.types.micro_sum`), so sums stay exact on SQLite as on PostgreSQL.

`apply_batch` adds a batch's newly stored events in the transaction — and the savepoint — that stores them
(`metering.store.EventWriter`): aggregated in Python first, then one upsert per table, keys in one global
order (on PostgreSQL two importers then never wait for each other's rows in a circle, as for event keys).
Duplicates and conflicts are not stored, so they add nothing; late events add to their own hour.
`rebuild` recomputes the tables from the stored events (the migration `0008` and `bench/dashboards.py`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from metering.events import Row
from metering.timebuckets import offset_segments

_PART_BITS = 20
_PART_MASK = (1 << _PART_BITS) - 1
_SUMS = ("events", "q_hi", "q_mid", "q_lo")
#: table -> its key columns, in the order its rows are locked (the table's primary key order)
TABLES: dict[str, tuple[str, ...]] = {
    "usage_hourly": ("hour", "department_id", "cloud_id", "meter"),
    "usage_daily": ("day", "department_id", "cloud_id", "meter"),
    "usage_cloud_hourly": ("hour", "cloud_id", "meter"),
}


def _parts(micro: int) -> tuple[int, int, int]:
    return micro >> (2 * _PART_BITS), (micro >> _PART_BITS) & _PART_MASK, micro & _PART_MASK


def deltas(rows: Iterable[Row], *, postgres: bool) -> dict[str, list[tuple[Any, ...]]]:
    """Per table, the sorted upsert rows (key..., events, q_hi, q_mid, q_lo) adding `rows` (stored rows:
    the UTC time as `YYYY-MM-DD HH:MM:SS.ffffff`, the quantity in millionths)."""
    hourly: dict[tuple[str, str, str, str], list[int]] = {}
    for r in rows:
        key = (r[4][:13], r[2], r[0], r[3])
        acc = hourly.get(key)
        if acc is None:
            hourly[key] = [1, r[5]]
        else:
            acc[0] += 1
            acc[1] += r[5]
    daily: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    cloud: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (hour, department, cloud_id, meter), (n, micro) in hourly.items():
        for acc in (daily[(hour[:10], department, cloud_id, meter)], cloud[(hour, cloud_id, meter)]):
            acc[0] += n
            acc[1] += micro
    # the stored form of a UTC time: SQLAlchemy's SQLite text, or a timestamptz literal
    hour_suffix, day_suffix = (":00:00+00", " 00:00:00+00") if postgres else (":00:00.000000", " 00:00:00.000000")
    return {
        "usage_hourly": [(h + hour_suffix, d, c, m, n, *_parts(q)) for (h, d, c, m), (n, q) in sorted(hourly.items())],
        "usage_daily": [(day + day_suffix, d, c, m, n, *_parts(q)) for (day, d, c, m), (n, q) in sorted(daily.items())],
        "usage_cloud_hourly": [(h + hour_suffix, c, m, n, *_parts(q)) for (h, c, m), (n, q) in sorted(cloud.items())],
    }


def _upsert_tail(table: str) -> str:
    keys = ", ".join(TABLES[table])
    sets = ", ".join(f"{s} = {table}.{s} + excluded.{s}" for s in _SUMS)
    return f"ON CONFLICT ({keys}) DO UPDATE SET {sets}"


def apply_batch(cur: Any, rows: list[Row], *, received: str, postgres: bool) -> None:
    """Add newly stored rows, received at `received` (their stored text), to the rollups with the DBAPI
    cursor of the transaction that stored them."""
    if not rows:
        return
    for table, values in deltas(rows, postgres=postgres).items():
        columns: tuple[str, ...] = (*TABLES[table], *_SUMS)
        tail = _upsert_tail(table)
        if table == "usage_cloud_hourly":
            columns += ("last_received",)
            stamp = received + "+00" if postgres else received  # UTC, whatever the session's timezone
            values = [(*v, stamp) for v in values]
            # received times grow, but a clock may step back: keep the latest (text compares as time on SQLite)
            tail += ", last_received = CASE WHEN excluded.last_received > usage_cloud_hourly.last_received "
            tail += "THEN excluded.last_received ELSE usage_cloud_hourly.last_received END"
        if postgres:
            # one statement per table: arrays unnested in the (sorted) order they are given
            types = ["timestamptz" if c in ("hour", "day") else "text" for c in TABLES[table]] + ["bigint"] * 4
            types += ["timestamptz"] if table == "usage_cloud_hourly" else []
            arrays = ", ".join(f"%s::{t}[]" for t in types)
            order = ", ".join(f'{c} COLLATE "C"' if t == "text" else c for c, t in zip(columns, types, strict=False))
            cur.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
                f"AS u({', '.join(columns)}) ORDER BY {order} {tail}",
                [list(col) for col in zip(*values, strict=True)],
            )
        else:
            marks = ", ".join("?" * len(columns))
            cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) {tail}", values)


def rebuild(connection: Connection) -> None:
    """Recompute every rollup from the stored events (the migration that adds them, benchmarks)."""
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        hour = "date_trunc('hour', time, 'UTC')"
        day = "date_trunc('day', hour, 'UTC')"
    else:
        hour = "substr(time, 1, 13) || ':00:00.000000'"
        day = "substr(hour, 1, 10) || ' 00:00:00.000000'"
    parts = (
        f"quantity >> {2 * _PART_BITS} AS hi, (quantity >> {_PART_BITS}) & {_PART_MASK} AS mid, "
        f"quantity & {_PART_MASK} AS lo"
    )
    for table in TABLES:
        connection.exec_driver_sql(f"DELETE FROM {table}")
    connection.exec_driver_sql(
        "INSERT INTO usage_hourly (department_id, cloud_id, meter, hour, events, q_hi, q_mid, q_lo) "
        f"SELECT department_id, cloud_id, meter, h, count(*), sum(hi), sum(mid), sum(lo) FROM "
        f"(SELECT department_id, cloud_id, meter, {hour} AS h, {parts} "
        "FROM usage_event) AS e GROUP BY department_id, cloud_id, meter, h"
    )
    # the latest arrival per cloud, meter and hour: a second pass over the events, grouped by fewer keys
    connection.exec_driver_sql(
        "CREATE TEMPORARY TABLE usage_rollup_received AS "
        f"SELECT cloud_id, meter, {hour} AS h, max(received_at) AS last_received FROM usage_event "
        "GROUP BY cloud_id, meter, h"
    )
    connection.exec_driver_sql(
        "INSERT INTO usage_daily (day, department_id, cloud_id, meter, events, q_hi, q_mid, q_lo) "
        f"SELECT d, department_id, cloud_id, meter, sum(events), sum(q_hi), sum(q_mid), sum(q_lo) FROM "
        f"(SELECT {day} AS d, department_id, cloud_id, meter, events, q_hi, q_mid, q_lo FROM usage_hourly) AS h "
        "GROUP BY d, department_id, cloud_id, meter"
    )
    connection.exec_driver_sql(
        "INSERT INTO usage_cloud_hourly (hour, cloud_id, meter, events, q_hi, q_mid, q_lo, last_received) "
        "SELECT u.hour, u.cloud_id, u.meter, u.events, u.q_hi, u.q_mid, u.q_lo, r.last_received FROM "
        "(SELECT hour, cloud_id, meter, sum(events) AS events, sum(q_hi) AS q_hi, sum(q_mid) AS q_mid, "
        "sum(q_lo) AS q_lo FROM usage_hourly GROUP BY hour, cloud_id, meter) AS u "
        "JOIN usage_rollup_received AS r ON r.cloud_id = u.cloud_id AND r.meter = u.meter AND r.h = u.hour"
    )
    connection.exec_driver_sql("DROP TABLE usage_rollup_received")


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
