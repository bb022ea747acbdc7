"""The usage sums a bill run needs, run exactly in SQL over the metering domain's events (docs/reference.md#usage-charges, #late-usage).

Quantities are stored as integer millionths and summed exactly on SQLite and PostgreSQL alike
(`core.types.micro_sum`: SQLite's 64-bit SUM would overflow on a handful of events near 10^12).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, literal, select
from sqlmodel import Session

from core.types import from_micro, micro_sum, micro_total
from metering import rollup
from metering.models import UsageEvent

#: (cloud, meter, department) -> (quantity, number of events)
Totals = dict[tuple[str, str, str], tuple[Decimal, int]]

# metering's event table as plain columns: `quantity` is summed as BIGINT millionths, exactly.
EVENTS = UsageEvent.__table__  # type: ignore[attr-defined]


def _cloud_hours(session: Session, lo: datetime, hi: datetime, where: Callable[[Any], list[Any]] | None = None) -> Any:
    """`usage_cloud_hourly`'s hours in `[lo, hi)` with the events not yet folded into it, in its shape
    (`metering.rollup.with_tail`): exact whatever has been folded."""
    dialect = session.get_bind().dialect.name
    rollup.fold_large_tail(session)  # listing bills reads the tail once per draft: a large one is folded first
    return rollup.with_tail(
        "usage_cloud_hourly", dialect, lambda c: [c.hour >= lo, c.hour < hi, *(where(c) if where else [])]
    )


def totals(
    session: Session, lo: datetime, hi: datetime, *, clouds: Sequence[str] | None = None, meter: str | None = None
) -> Totals:
    """Sum and count of events with `lo ≤ time < hi`, by cloud, meter and department."""
    e = EVENTS.c
    query = (
        select(
            e.cloud_id, e.meter, e.department_id, func.count(), *micro_sum(e.quantity, session.get_bind().dialect.name)
        )
        .where(e.time >= lo, e.time < hi)
        .group_by(e.cloud_id, e.meter, e.department_id)
    )
    if clouds is not None:
        query = query.where(e.cloud_id.in_(list(clouds)))
    if meter is not None:
        query = query.where(e.meter == meter)
    return {
        (cloud, m, dept): (from_micro(micro_total(parts)), int(n))
        for cloud, m, dept, n, *parts in session.execute(query)
    }


def counts_by_cloud(session: Session, lo: datetime, hi: datetime) -> dict[str, int]:
    """Number of events with `lo ≤ time < hi`, by cloud (from the hourly rollup when the bounds are whole
    hours: listing bills checks every draft's staleness, which must not scan millions of events)."""
    if rollup.covers(lo, hi):
        r = _cloud_hours(session, lo, hi).c
        query = select(r.cloud_id, func.sum(r.events)).group_by(r.cloud_id)
        return {cloud: int(n) for cloud, n in session.execute(query)}
    e = EVENTS.c
    query = select(e.cloud_id, func.count()).where(e.time >= lo, e.time < hi).group_by(e.cloud_id)
    return {cloud: int(n) for cloud, n in session.execute(query)}


def received_since(session: Session, clouds: Sequence[str], lo: datetime, hi: datetime, *, since: datetime) -> bool:
    """Whether an event on `clouds` with `lo ≤ time < hi` was received after `since` (late usage)."""
    if lo >= hi:
        return False
    if rollup.covers(lo, hi):  # whole hours: the hourly rollup keeps each hour's latest arrival
        wanted = list(clouds)
        hours = _cloud_hours(session, lo, hi, lambda c: [c.cloud_id.in_(wanted), c.last_received > since])
        return bool(session.execute(select(exists(select(literal(1)).select_from(hours)))).scalar())
    e = EVENTS.c
    return bool(
        session.execute(
            select(exists().where(e.cloud_id.in_(list(clouds)), e.time >= lo, e.time < hi, e.received_at > since))
        ).scalar()
    )
