"""Metering services: usage ingest exactly once, aggregation, quotas, and the sums bill runs need.

Reads take the acting user: department users see only their own department, operators only the clouds
they operate (docs/reference.md#roles). Every sum runs in SQL over integer millionths (`MicroUnits`), so it is exact;
local-time buckets follow the province's timezone (`timebuckets`).
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, literal_column, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from core.clock import Clock, utcnow
from core.db import session_scope
from core.errors import InvalidInput
from core.i18n import register
from core.periods import Period
from core.types import from_micro, micro_sum, micro_total
from metering import rollup, timebuckets
from metering.ingest import BATCH_SIZE, Ingest, IngestReport
from metering.models import UsageEvent
from metering.store import ingest_barrier
from tenants.models import Cloud, Department, Meter
from tenants.permissions import Actor, department_scope, operator_scope, require, require_department, require_operator
from tenants.service import get_cloud, get_department, get_province, province_zone

__all__ = [
    "import_files",
    "ingest_events",
    "ingest_barrier",
    "usage_by",
    "daily_series",
    "hourly_series",
    "quota_use",
    "usage_totals",
    "IngestReport",
]

register(
    {
        "cloud '{cloud}' is not operated by {operator}": "云“{cloud}”不由 {operator} 运营",
        "unknown group '{name}': use department, cloud or meter": "未知的分组“{name}”：可用 department、cloud 或 meter",
        "start must be before end": "开始时间必须早于结束时间",
    }
)

GROUPS = ("department", "cloud", "meter")
#: An import commits at the first batch end this long after its last commit (each commit of SQLite's WAL
#: costs a sync and rewrites the pages the batches share, so an import does not commit every batch).
COMMIT_SECONDS = 1.0
#: the stored millionths of `usage_event`, summed exactly by `_micro_sum` (converted to Decimal once, here)
_QUANTITY = UsageEvent.__table__.c.quantity  # type: ignore[attr-defined]
#: the events, as plain columns (the rollups and the tail: `metering.rollup.with_tail`)
_EVENTS = UsageEvent.__table__  # type: ignore[attr-defined]
_PARTS = ("q_hi", "q_mid", "q_lo")
#: quota field -> the meter whose hours it limits (docs/reference.md#the-registry quota × hours of the period)
QUOTA_METERS = (("vcpu", "vcpu_hours"), ("memory_gib", "memory_gib_hours"), ("storage_gib", "storage_gib_hours"))


# ---------------------------------------------------------------------------- ingest


def import_files(
    engine: Engine,
    *,
    actor: Actor,
    paths: Sequence[Path],
    now: Clock = utcnow,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[Path, int], None] | None = None,
    commit_seconds: float = COMMIT_SECONDS,
) -> IngestReport:
    """Import usage files row by row (docs/reference.md#usage-events-file), committing as it goes on a connection of its own.

    Unlike other services this one owns its transactions: a file of millions of events is stored in
    batches, each with its audit entry, and committed at the first batch end `commit_seconds` after the
    last commit (and at the end), so a crash or SIGKILL loses at most the last second or so of work, and running
    the import again stores exactly what one clean run would. `progress` is called with each file and
    the bytes of it read so far.
    """
    require(actor, "usage.write")
    with _no_cyclic_gc(), engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-65536")  # 64 MiB: the unique index stays in memory
            conn.commit()
        # a session bound to this connection commits batch after batch on it (the page cache stays warm)
        with session_scope(engine=conn) as session:  # type: ignore[arg-type]
            ingest = Ingest(session, actor=actor, now=now, batch_size=batch_size, commit_seconds=commit_seconds)
            session.commit()  # end the lookups' read so the first batch starts by writing
            for path in paths:
                ingest.add_file(Path(path), None if progress is None else _bytes_read(progress, Path(path)))
                if progress is not None and Path(path).is_file():
                    progress(Path(path), Path(path).stat().st_size)
            report = ingest.finish()
    return report


@dataclass(frozen=True)
class FoldReport:
    """What a fold added to the usage rollups: the events that were beyond the mark."""

    folded: int


def fold_usage(session: Session, *, actor: Actor, now: Clock = utcnow) -> FoldReport:
    """Fold the events not yet in the usage rollups into them (`metering.rollup.fold`), in the session's
    transaction. Reads are exact either way; folding keeps what they add to the rollups small."""
    require(actor, "usage.write")
    return FoldReport(rollup.fold(session, now=now))


def _bytes_read(progress: Callable[[Path, int], None], path: Path) -> Callable[[int], None]:
    """`progress` bound to one file."""
    return lambda done: progress(path, done)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: rows are tuples of strings and ints (no cycles), and a
    collection pass over a batch of them costs more than it could ever free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def ingest_events(
    session: Session,
    *,
    actor: Actor,
    events: Iterable[dict[str, Any]],
    source: str,
    lines: Iterable[int] | None = None,
    now: Clock = utcnow,
    batch_size: int = BATCH_SIZE,
) -> IngestReport:
    """Validate and store JSON-shaped events in the caller's transaction (HTTP API, collectors).

    Call it through `zhengyun.app.run`: on SQLite a unit of work that finds another writer (an import)
    got in first runs again holding the write lock. A request of up to `batch_size` events is one batch,
    whose keys are taken in one global order (see `metering.store`). `lines`: the number of each event
    in its request (1, 2, … by default); an event may be a `metering.events.Rejected` already (an NDJSON
    line that could not be read), reported at its line."""
    require(actor, "usage.write")
    ingest = Ingest(session, actor=actor, now=now, batch_size=batch_size, load_series=False)
    ingest.add_events(source, events, lines)
    return ingest.finish()


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class UsageRow:
    """A summed quantity of one meter for a group (department, cloud: None when not grouped by)."""

    department: str | None
    cloud: str | None
    meter: str
    quantity: Decimal
    events: int


@dataclass(frozen=True)
class SeriesPoint:
    """A summed quantity of one meter in one local day or hour."""

    bucket: str  # local `YYYY-MM-DD` or `YYYY-MM-DDTHH:00`
    meter: str
    quantity: Decimal
    department: str | None = None
    cloud: str | None = None


@dataclass(frozen=True)
class Scope:
    """The events an acting user may read, narrowed by optional filters."""

    departments: list[str] | None
    clouds: Any  # None (unrestricted), a list of ids, or a SQL sub-select of ids
    meters: list[str] | None


def _scope(session: Session, actor: Actor, *, department: str | None, cloud: str | None, meter: str | None) -> Scope:
    """The one scoping helper of metering: what the actor may read (a department user its own
    department, an operator the clouds it operates, as a SQL sub-select), narrowed by the filters."""
    require(actor, "usage.read")
    if department:
        require_department(actor, department)
        get_department(session, department)
    wanted = department or department_scope(actor)
    departments = [wanted] if wanted else None
    clouds: Any = None
    if (own_operator := operator_scope(actor)) is not None:
        clouds = select(Cloud.id).where(Cloud.operator_id == own_operator)
    if cloud:
        require_operator(actor, get_cloud(session, cloud).operator_id)
        clouds = [cloud]
    return Scope(departments, clouds, [meter] if meter else None)


def _filtered(query: Any, scope: Scope) -> Any:
    """`query` over usage events narrowed to the scope, in SQL."""
    return query.where(*_in_scope(scope, _EVENTS.c))


def _group_columns(group_by: Sequence[str]) -> list[Any]:
    columns = {"department": UsageEvent.department_id, "cloud": UsageEvent.cloud_id, "meter": UsageEvent.meter}
    for name in group_by:
        if name not in columns:
            raise InvalidInput("unknown group '{name}': use department, cloud or meter", name=name)
    return [columns[name] for name in group_by if name != "meter"]


def usage_by(
    session: Session,
    *,
    actor: Actor,
    period: Period,
    group_by: Sequence[str] = GROUPS,
    department: str | None = None,
    cloud: str | None = None,
    meter: str | None = None,
) -> list[UsageRow]:
    """Usage per meter (and per department and/or cloud) whose local time falls in the period."""
    scope = _scope(session, actor, department=department, cloud=cloud, meter=meter)
    start, end = period.bounds(province_zone(session))
    return _sums(session, scope, start, end, group_by)


def _micro_sum(session: Session) -> list[Any]:
    """The aggregates that sum event quantities exactly on this database (`core.types.micro_sum`)."""
    return micro_sum(_QUANTITY, session.get_bind().dialect.name)


def _in_scope(scope: Scope, c: Any) -> list[Any]:
    """The conditions narrowing rows with columns `c` (events, rollups, the tail) to the scope."""
    out = []
    if scope.departments is not None:
        out.append(c.department_id.in_(scope.departments))
    if scope.clouds is not None:
        out.append(c.cloud_id.in_(scope.clouds))
    if scope.meters is not None:
        out.append(c.meter.in_(scope.meters))
    return out


def _exact(dialect: str, name: str, scope: Scope, column: str, lo: datetime, hi: datetime) -> Any:
    """Rollup `name`'s rows with `lo <= column < hi` in the scope, with the not yet folded events in the
    same shape (`metering.rollup.with_tail`): summed, exactly the events."""
    return rollup.with_tail(name, dialect, lambda c: [c[column] >= lo, c[column] < hi, *_in_scope(scope, c)])


def _rollup_rows(
    dialect: str, scope: Scope, start: datetime, end: datetime, group_by: Sequence[str], *, whole_days: bool
) -> tuple[Any, list[Any]]:
    """The rollup rows (department_id?, cloud_id, meter, events, q_hi, q_mid, q_lo) — with the events not
    yet folded — that sum exactly the events of `[start, end)` (bounds on whole UTC hours) in the scope,
    as a sub-query, and its group keys.

    Without department (neither grouped nor scoped by): `usage_cloud_hourly`. Otherwise `usage_hourly`,
    and with `whole_days` the whole UTC days inside the range come from `usage_daily` instead (a month:
    about 30 rows per series instead of 720)."""
    names = [{"department": "department_id", "cloud": "cloud_id"}[g] for g in group_by if g != "meter"]
    if "department_id" not in names and scope.departments is None:
        return _exact(dialect, "usage_cloud_hourly", scope, "hour", start, end), names
    days = rollup.whole_days(start, end) if whole_days else None
    if days is None:
        return _exact(dialect, "usage_hourly", scope, "hour", start, end), names
    first, last = days
    # the two ends as two ranges (one `OR` of both made SQLite scan every hour instead of using its index)
    parts = [
        _exact(dialect, "usage_hourly", scope, "hour", start, first),
        _exact(dialect, "usage_daily", scope, "day", first, last),
        _exact(dialect, "usage_hourly", scope, "hour", last, end),
    ]
    columns = ("department_id", "cloud_id", "meter", "events", *_PARTS)
    return union_all(*[sa_select(*[p.c[n] for n in columns]) for p in parts]).subquery(), names


def _sums(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    group_by: Sequence[str],
    *,
    rollups: bool = True,
) -> list[UsageRow]:
    """Sums per group and meter of the events in `[start, end)`: from the rollups when the bounds are whole
    hours (unless `rollups` is False: the tests compare both ways), else from the events."""
    keys = _group_columns(group_by)
    if rollups and rollup.covers(start, end):
        rollup.fold_large_tail(session)  # a large tail is folded once rather than read by every statement
        source, names = _rollup_rows(session.get_bind().dialect.name, scope, start, end, group_by, whole_days=True)
        keys = [source.c[name] for name in names]
        query = sa_select(
            *keys,
            source.c.meter,
            func.sum(source.c.events),
            *[func.sum(source.c[p]) for p in _PARTS],
        ).group_by(*keys, source.c.meter)
    else:  # bounds inside an hour: only the events can say
        e = UsageEvent
        query = _filtered(
            sa_select(*[*keys, e.meter, func.count(), *_micro_sum(session)])
            .where(col(e.time) >= start, col(e.time) < end)
            .group_by(*keys, e.meter),
            scope,
        )
    out = []
    n = len(keys)
    for row in session.execute(query):
        values = dict(zip([k.key for k in keys], row[:n], strict=True))
        out.append(
            UsageRow(
                values.get("department_id"),
                values.get("cloud_id"),
                row[n],
                from_micro(micro_total(row[n + 2 :])),
                int(row[n + 1]),
            )
        )
    return sorted(out, key=lambda r: (r.department or "", r.cloud or "", r.meter))


def _series(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    unit: str,
    group_by: Sequence[str],
    *,
    rollups: bool = True,
) -> list[SeriesPoint]:
    if start >= end:
        raise InvalidInput("start must be before end")
    e = UsageEvent
    zone = province_zone(session)
    dialect = session.get_bind().dialect.name
    keys = _group_columns(group_by)
    names = [k.key for k in keys]
    if rollups and rollup.covers_buckets(zone, start, end):
        # whole hours, and every local day or hour is a set of whole UTC hours: the hourly rollups
        name = "usage_hourly" if "department" in group_by or scope.departments is not None else "usage_cloud_hourly"
        rollup.fold_large_tail(session)
        t = _exact(dialect, name, scope, "hour", start, end)
        bucket = timebuckets.local_bucket(dialect, t.c.hour, zone, start, end, unit).label("bucket")
        query = sa_select(*[bucket, *[t.c[k] for k in names], t.c.meter, *[func.sum(t.c[p]) for p in _PARTS]]).group_by(
            literal_column("bucket"), *[t.c[k] for k in names], t.c.meter
        )
    else:  # a bound inside an hour, or a zone with a half-hour offset: buckets cut hours, scan the events
        bucket = timebuckets.local_bucket(
            dialect,
            e.__table__.c.time,  # type: ignore[attr-defined]
            zone,
            start,
            end,
            unit,
        ).label("bucket")
        # grouped by the output name: the bucket's bound parameters appear once
        query = _filtered(
            sa_select(*[bucket, *keys, e.meter, *_micro_sum(session)])
            .where(col(e.time) >= start, col(e.time) < end)
            .group_by(literal_column("bucket"), *keys, e.meter),
            scope,
        )
    out = []
    n = len(keys)
    for row in session.execute(query):
        values = dict(zip(names, row[1 : 1 + n], strict=True))
        out.append(
            SeriesPoint(
                timebuckets.label(row[0], unit),
                row[1 + n],
                from_micro(micro_total(row[2 + n :])),
                values.get("department_id"),
                values.get("cloud_id"),
            )
        )
    return sorted(out, key=lambda p: (p.bucket, p.department or "", p.cloud or "", p.meter))


def daily_series(
    session: Session,
    *,
    actor: Actor,
    period: Period,
    group_by: Sequence[str] = ("meter",),
    department: str | None = None,
    cloud: str | None = None,
    meter: str | None = None,
) -> list[SeriesPoint]:
    """Usage per local day of the period (and per meter, department, cloud as grouped), for dashboards."""
    scope = _scope(session, actor, department=department, cloud=cloud, meter=meter)
    start, end = period.bounds(province_zone(session))
    return _series(session, scope, start, end, "day", group_by)


def hourly_series(
    session: Session,
    *,
    actor: Actor,
    start: datetime,
    end: datetime,
    group_by: Sequence[str] = ("meter",),
    department: str | None = None,
    cloud: str | None = None,
    meter: str | None = None,
) -> list[SeriesPoint]:
    """Usage per local hour in `[start, end)` (aware datetimes), for dashboards."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("time has no offset: {value}", value=str(start if start.tzinfo is None else end))
    scope = _scope(session, actor, department=department, cloud=cloud, meter=meter)
    return _series(session, scope, start, end, "hour", group_by)


@dataclass(frozen=True)
class QuotaUse:
    """A department's use of one quota in a period: used meter-hours against quota × hours."""

    department: str
    quota: str
    meter: str
    limit: Decimal
    used: Decimal

    @property
    def share(self) -> Decimal:
        """used / limit (0 when the limit is 0 and nothing was used)."""
        if self.limit == 0:
            return Decimal(0) if self.used == 0 else Decimal("Infinity")
        return self.used / self.limit

    @property
    def over(self) -> bool:
        """Whether more was used than the quota allows."""
        return self.used > self.limit

    def to_dict(self) -> dict[str, Any]:
        share = self.share
        return {
            "department": self.department,
            "quota": self.quota,
            "meter": self.meter,
            "limit": self.limit,
            "used": self.used,
            "share": None if share.is_infinite() else share.quantize(Decimal("0.000001")),
            "over": self.over,
        }


def quota_use(
    session: Session,
    *,
    actor: Actor,
    period: Period,
    department: str | None = None,
    usage: Sequence[UsageRow] | None = None,
) -> list[QuotaUse]:
    """Quota use per department with a quota (e.g. vCPU-hours against `vcpu` × hours in the period).

    `usage`: the period's sums per department that the caller already has — `usage_by(group_by=
    ("department",))` for the same actor, period and `department` — so a page showing both sums the
    month once (at province scale the sum is most of the page's time)."""
    scope = _scope(session, actor, department=department, cloud=None, meter=None)
    start, end = period.bounds(province_zone(session))
    hours = Decimal(int((end - start).total_seconds())) / 3600
    query = select(Department)
    if scope.departments is not None:
        query = query.where(col(Department.id).in_(scope.departments))
    if scope.clouds is not None:
        query = query.where(col(Department.cloud_id).in_(scope.clouds))
    departments = [
        d for d in session.exec(query).all() if any(getattr(d, f"quota_{q}") is not None for q, _ in QUOTA_METERS)
    ]
    if not departments:
        return []
    # the actor's own scope (not a list of thousands of department ids): the sums of others are dropped
    wanted = Scope(scope.departments, scope.clouds, [m for _, m in QUOTA_METERS])
    rows = _sums(session, wanted, start, end, ("department",)) if usage is None else usage
    used = {(r.department, r.meter): r.quantity for r in rows}
    out = []
    for d in sorted(departments, key=lambda d: d.id):
        for quota, meter_code in QUOTA_METERS:
            limit = getattr(d, f"quota_{quota}")
            if limit is not None:
                out.append(
                    QuotaUse(d.id, quota, meter_code, Decimal(limit) * hours, used.get((d.id, meter_code), Decimal(0)))
                )
    return out


def over_quota(uses: Iterable[QuotaUse]) -> list[QuotaUse]:
    """The quota uses above their limit."""
    return [u for u in uses if u.over]


@dataclass(frozen=True)
class UsageReport:
    """`zhengyun usage show`: a period's usage by department, cloud and meter, quota use, over-quota."""

    period: str
    timezone: str
    usage: list[UsageRow]
    units: dict[str, str]
    quota: list[QuotaUse]
    over_quota: list[QuotaUse]

    def to_dict(self) -> dict[str, Any]:
        """JSON shape: each usage row with its meter's unit."""
        return {
            "period": self.period,
            "timezone": self.timezone,
            "usage": [
                {
                    "department": u.department,
                    "cloud": u.cloud,
                    "meter": u.meter,
                    "unit": self.units.get(u.meter),
                    "quantity": u.quantity,
                    "events": u.events,
                }
                for u in self.usage
            ],
            "quota": self.quota,
            "over_quota": self.over_quota,
        }


def usage_report(
    session: Session, *, actor: Actor, period: Period | str, department: str | None = None, cloud: str | None = None
) -> UsageReport:
    """Usage of a period the actor may see, with quota use (only the listed departments' when a cloud is
    given) and the departments over quota."""
    p = period if isinstance(period, Period) else Period.parse(period)
    usage = usage_by(session, actor=actor, period=p, department=department, cloud=cloud)
    quotas = quota_use(session, actor=actor, period=p, department=department)
    if cloud:
        quotas = [q for q in quotas if q.department in {u.department for u in usage}]
    return UsageReport(
        period=str(p),
        timezone=get_province(session).timezone,
        usage=usage,
        units=meter_units(session),
        quota=quotas,
        over_quota=over_quota(quotas),
    )


# ---------------------------------------------------------------------------- for bill runs


@dataclass(frozen=True)
class UsageTotals:
    """Exact sums for bill runs: per (cloud, meter) and per (department, cloud, meter)."""

    by_cloud_meter: dict[tuple[str, str], Decimal]
    by_department: dict[tuple[str, str, str], Decimal]


def usage_totals(
    session: Session,
    *,
    actor: Actor,
    start: datetime,
    end: datetime,
    clouds: Sequence[str] | None = None,
    received_before: datetime | None = None,
    received_after: datetime | None = None,
) -> UsageTotals:
    """Totals of events with `start ≤ time < end` in one grouped query (docs/reference.md#usage-charges), optionally only those
    received before or after a moment (late usage, docs/reference.md#late-usage)."""
    scope = _scope(session, actor, department=None, cloud=None, meter=None)
    e = UsageEvent
    query = (
        sa_select(col(e.department_id), col(e.cloud_id), col(e.meter), *_micro_sum(session))
        .where(col(e.time) >= start, col(e.time) < end)
        .group_by(col(e.department_id), col(e.cloud_id), col(e.meter))
    )
    if clouds is not None:
        query = query.where(col(e.cloud_id).in_(list(clouds)))
    if received_before is not None:
        query = query.where(col(e.received_at) < received_before)
    if received_after is not None:
        query = query.where(col(e.received_at) > received_after)
    by_cloud: dict[tuple[str, str], int] = defaultdict(int)
    by_department: dict[tuple[str, str, str], Decimal] = {}
    for dept, cloud, meter_code, *parts in session.execute(_filtered(query, scope)):
        total = micro_total(parts)
        by_cloud[(cloud, meter_code)] += total
        by_department[(dept, cloud, meter_code)] = from_micro(total)
    return UsageTotals({k: from_micro(v) for k, v in by_cloud.items()}, by_department)


def meter_units(session: Session) -> dict[str, str]:
    """Meter code -> unit."""
    return dict(session.exec(select(Meter.code, Meter.unit)).all())


def local_day_bounds(session: Session, day: date) -> tuple[datetime, datetime]:
    """`[day 00:00, next day 00:00)` in the province's timezone."""
    zone = province_zone(session)
    return datetime(day.year, day.month, day.day, tzinfo=zone), datetime.combine(
        day + timedelta(days=1), datetime.min.time(), tzinfo=zone
    )
