"""Availability from stored data (docs/reference.md#availability): the scoped `get_availability`, and the internal entry points
billing and the metrics read — `availability_for`, `active_window`, `sla_inputs_changed_at`, `slo_status`.
The calculation itself is pure, in `sla.availability`. Functions may flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from core.clock import Clock, utcnow
from core.periods import Period
from sla import availability as calc
from sla.availability import Availability, Interval, compute_availability
from sla.common import as_period, floored_now, readable_contract
from sla.models import Appeal, MaintenanceWindow, Outage, ProbeCheck, Rating
from sla.outages import counting_maintenance, outages_between
from tenants.contracts import ContractSpec
from tenants.permissions import Actor
from tenants.service import contracts_active, get_contract, province_zone


def active_window(spec: ContractSpec, period: Period, tz: ZoneInfo, until: datetime | None = None) -> Interval:
    """The part of the period inside the contract's term (and before `until`); empty when none."""
    lo, hi = period.bounds(tz)
    return spec.term_window(tz, lo, hi if until is None else min(hi, until))


def _availability_between(
    session: Session, spec: ContractSpec, lo: datetime, hi: datetime, moment: datetime
) -> Availability:
    """docs/reference.md#availability over `[lo, hi)`; an open probe outage lasts until `moment`."""
    # stored times come back in UTC: comparing them with UTC bounds avoids a zone lookup per comparison
    lo, hi = lo.astimezone(UTC), hi.astimezone(UTC)
    outages = [(o.start, o.end or max(moment, o.start)) for o in outages_between(session, spec.id, lo, hi)]
    maintenance = counting_maintenance(session, spec.id, lo, hi)
    checks: list[Interval] | None = None
    if spec.probes:
        longest = max(p.interval_s for p in spec.probes)
        rows = session.exec(
            select(ProbeCheck.time, ProbeCheck.interval_s)
            .where(
                ProbeCheck.contract_id == spec.id,
                ProbeCheck.time >= lo - timedelta(seconds=longest),
                ProbeCheck.time < hi,
            )
            .order_by(col(ProbeCheck.time))
        )
        steps: dict[int, timedelta] = {}
        checks = [
            (when, when + (steps.get(interval) or steps.setdefault(interval, timedelta(seconds=interval))))
            for when, interval in rows
        ]
    return compute_availability(start=lo, end=hi, outages=outages, maintenance=maintenance, checks=checks)


def availability_for(session: Session, contract_id: str, period: Period | str, *, now: Clock = utcnow) -> Availability:
    """Availability of a contract in a period (docs/reference.md#availability): the active part inside the term, so far.

    Uses stored outages (merged), approved and timely maintenance, and probe checks for coverage.
    Internal: billing calls it; `get_availability` is the scoped entry point.
    """
    spec = get_contract(session, contract_id)
    tz = province_zone(session)
    moment = floored_now(now)
    lo, hi = active_window(spec, as_period(period), tz, until=moment)
    return _availability_between(session, spec, lo, hi, moment)


def get_availability(
    session: Session, *, actor: Actor, contract_id: str, period: Period | str, now: Clock = utcnow
) -> dict[str, Any]:
    """`sla availability`: the contract's availability in the period with its eligible, down and
    maintenance seconds, coverage, the insufficient flag and the merged outages."""
    spec = readable_contract(session, contract_id, "sla.read", actor=actor)
    p = as_period(period)
    result = availability_for(session, spec.id, p, now=now)
    tz = province_zone(session)
    body = result.to_dict()
    body["start"], body["end"] = result.start.astimezone(tz), result.end.astimezone(tz)
    for item in body["outages"]:
        item["start"], item["end"] = item["start"].astimezone(tz), item["end"].astimezone(tz)
    return {"contract": spec.id, "period": str(p), **body}


def sla_inputs_changed_at(session: Session, contract_id: str, period: Period | str) -> datetime | None:
    """When the SLA inputs of a contract's period last changed: outages, maintenance, ratings and appeal
    decisions that affect it (billing marks drafts computed before that stale)."""
    tz = province_zone(session)
    p = as_period(period)
    lo, hi = p.bounds(tz)
    stamps: list[Any] = []
    stamps += session.exec(
        select(func.max(Outage.updated_at), func.max(Outage.created_at)).where(
            Outage.contract_id == contract_id, Outage.start < hi, or_(col(Outage.end).is_(None), col(Outage.end) > lo)
        )
    ).one()
    stamps += session.exec(
        select(func.max(MaintenanceWindow.requested_at), func.max(MaintenanceWindow.decided_at)).where(
            MaintenanceWindow.contract_id == contract_id, MaintenanceWindow.start < hi, MaintenanceWindow.end > lo
        )
    ).one()
    stamps.append(
        session.exec(
            select(func.max(Rating.received_at)).where(Rating.contract_id == contract_id, Rating.period == str(p))
        ).one()
    )
    stamps.append(
        session.exec(
            select(func.max(Appeal.decided_at))
            .join(Rating, col(Rating.id) == Appeal.rating_id)
            .where(Rating.contract_id == contract_id, Rating.period == str(p))
        ).one()
    )
    found = [s for s in stamps if s is not None]
    return max(found) if found else None


@dataclass(frozen=True)
class SloStatus:
    """A contract's SLO now: availability of the period so far, error budget of the whole period, burn rates."""

    contract: str
    target: Any
    availability: Availability
    budget: calc.ErrorBudget
    burn_rates: dict[str, Any]


#: Burn-rate windows exported as metrics: label -> seconds.
BURN_WINDOWS = {"5m": 300, "1h": 3600, "6h": 21600}


def slo_status(session: Session, *, now: Clock = utcnow) -> list[SloStatus]:
    """Every contract in force with an availability target: error budget of the current period and burn rates
    over 5 m, 1 h and 6 h (internal: read by the metrics collector)."""
    tz = province_zone(session)
    moment = floored_now(now)
    p = Period.of(moment, tz)
    today = moment.astimezone(tz).date()
    out = []
    for spec in contracts_active(session, today, today):
        if spec.sla is None or spec.sla.availability_target is None:
            continue
        target = spec.sla.availability_target
        lo, hi = active_window(spec, p, tz)
        so_far = _availability_between(session, spec, lo, min(hi, moment), moment)
        whole = _availability_between(session, spec, lo, hi, moment)
        burns = {
            label: calc.burn_rate(
                _availability_between(session, spec, moment - timedelta(seconds=w), moment, moment), target
            )
            for label, w in BURN_WINDOWS.items()
        }
        out.append(SloStatus(spec.id, target, so_far, calc.error_budget(whole, target), burns))
    return out
