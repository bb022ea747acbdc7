"""A living demo province: a month of usage, outages, a month of probe history, an approved maintenance
window, ratings with bad reviews, a ticket answered, an appeal, users for every role and the month's
bill run.

Everything goes through the services as the users who would do it; the numbers are seeded, so two
runs on the same day build the same province.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Engine
from sqlmodel import Session

from billing.service import run_bills
from core.periods import Period
from metering.service import ingest_events
from sla.evaluation import add_rating, answer_ticket, appeal_rating, list_tickets
from sla.outages import add_outage, decide_maintenance, request_maintenance
from tenants.models import DEFAULT_TIMEZONE
from tenants.permissions import SYSTEM, Actor
from tenants.service import list_contracts, province_zone
from tenants.tenancy import export_tenancy
from tenants.users import add_user
from zhengyun import app
from zhengyun.demo_cloud import collect_last_day
from zhengyun.demo_probes import record_history

#: the demo's password for every user (a demo on 127.0.0.1 only)
PASSWORD = "zhengyun-demo"

#: user -> (role, operator, department): one login per role
USERS: dict[str, tuple[str, str | None, str | None]] = {
    "bureau": ("bureau", None, None),
    "finance1": ("finance", None, None),
    "finance2": ("finance", None, None),
    "auditor": ("auditor", None, None),
    "dgcloud-ops": ("operator", "dgcloud", None),
    "cmgd-ops": ("operator", "cm-gd", None),
    "gz-ops": ("operator", "gz-ops", None),
    "gat-user": ("department", None, "gd-gat"),
}

#: meter -> (quota attribute per department, typical use of the quota per hour)
METERS = {"vcpu_hours": Decimal("0.55"), "memory_gib_hours": Decimal("0.5"), "storage_gib_hours": Decimal("0.7")}
QUOTA = {"vcpu_hours": "vcpu", "memory_gib_hours": "memory_gib", "storage_gib_hours": "storage_gib"}


@dataclass(frozen=True)
class Living:
    """What the demo built: the billed month, how many events, ratings, bills and probe checks, and each
    user's API token (shown once, like `zhengyun users add`)."""

    period: str
    events: int
    ratings: int
    bills: int
    checks: int = 0
    tokens: dict[str, str] = field(default_factory=dict)


def previous_month(today: date) -> Period:
    """The last complete month."""
    first = today.replace(day=1)
    return Period.of(first - timedelta(days=1))


def _usage(session: Session, period: Period, tz: ZoneInfo, seed: int) -> list[dict[str, Any]]:
    """A day of use per department and meter, about half its quota, a few departments far over it."""
    rng = random.Random(seed)
    billed_clouds = {c for spec in list_contracts(session, actor=SYSTEM) for c in spec.clouds}
    registry = yaml.safe_load(export_tenancy(session, actor=SYSTEM))
    start, end = period.bounds(tz)
    days = (end - start).days
    events: list[dict[str, Any]] = []
    over = {d["id"] for d in registry.get("departments", [])[3:40:9]}
    for dept in registry.get("departments", []):
        cloud = dept.get("cloud")
        quota = dept.get("quota") or {}
        if cloud not in billed_clouds or not quota:
            continue
        for meter, share in METERS.items():
            limit = quota.get(QUOTA[meter])
            if limit is None:
                continue
            factor = share * (Decimal("1.4") if dept["id"] in over else 1)
            for day in range(days):
                noise = Decimal(rng.randint(80, 120)) / 100
                quantity = (Decimal(limit) * 24 * factor * noise).quantize(Decimal("0.01"))
                moment = (start + timedelta(days=day, hours=12)).astimezone(ZoneInfo("UTC"))
                events.append(
                    {
                        "event_id": f"demo-{dept['id']}-{meter}-{day}",
                        "time": moment.isoformat(),
                        "department": dept["id"],
                        "cloud": cloud,
                        "meter": meter,
                        "quantity": str(quantity),
                    }
                )
    return events


def build(
    engine: Engine,
    *,
    today: date,
    seed: int = 2026,
    tenancy: Path | None = None,
    probes_until: datetime | None = None,
) -> Living:
    """Populate a demo database (registry and contracts already imported) with a living month; with
    `probes_until`, the probe history from the month's start until then (the probes must aim at
    local targets, see `zhengyun.demo_probes`)."""
    period = previous_month(today)
    users = {name: Actor(name, role, operator_id=op, department_id=dept) for name, (role, op, dept) in USERS.items()}

    def people(session: Session, actor: Actor) -> dict[str, str]:
        return {
            name: add_user(
                session, actor=actor, name=name, role=role, operator=op, department=dept, password=PASSWORD
            ).token
            for name, (role, op, dept) in USERS.items()
        }

    tokens = app.run(people, actor=SYSTEM, engine=engine)

    def usage(session: Session, actor: Actor) -> int:
        tz = province_zone(session)
        events = _usage(session, period, tz, seed)
        ingest_events(session, actor=actor, events=events, source="demo-simulation")
        return len(events)

    events = app.run(usage, actor=users["dgcloud-ops"], engine=engine)
    if tenancy is not None:  # part of the usage through the boto3 collectors, against a local moto server
        events += collect_last_day(engine, users["gz-ops"], period, tenancy)

    def sla(session: Session, actor: Actor) -> None:
        tz = province_zone(session)
        start, _ = period.bounds(tz)
        for day, hour, minutes, note in ((6, 9, 45, "storage controller failover"), (19, 22, 90, "core switch fault")):
            lo = start + timedelta(days=day, hours=hour)
            add_outage(
                session,
                actor=actor,
                contract_id="GD-PROV-IAAS-2026",
                start=lo,
                end=lo + timedelta(minutes=minutes),
                note=note,
            )
        lo = start + timedelta(days=12, hours=2)
        window = request_maintenance(
            session,
            actor=actor,
            contract_id="GD-PROV-IAAS-2026",
            start=lo,
            end=lo + timedelta(hours=2),
            note="kernel patching",
            now=lambda: lo - timedelta(days=3),
        )
        decide_maintenance(session, actor=users["bureau"], window_id=window.id, now=lambda: lo - timedelta(days=2))

    app.run(sla, actor=users["dgcloud-ops"], engine=engine)
    # the bureau's monitoring: checks of every contract's probes, with their outages
    checks = record_history(engine, users["bureau"], period, probes_until) if probes_until is not None else 0

    def ratings(session: Session, actor: Actor) -> int:
        tz = province_zone(session)
        start, _ = period.bounds(tz)
        rng = random.Random(seed)
        levels = [5, 5, 4, 5, 3, 4, 5, 2, 5, 4, 1, 5, 4, 5, 3]
        departments = ["gd-gat", "gd-swbgt", "gd-swzzb", "gd-swxcb", "gd-rdbgt"]
        first_bad: int | None = None
        for i, level in enumerate(levels):
            moment = start + timedelta(days=2 + i, hours=10, minutes=rng.randint(0, 59))
            result = add_rating(
                session,
                actor=actor,
                contract_id="GD-SECOPS-2026",
                level=level,
                comment="响应慢，事件处置超时" if level <= 2 else None,
                department_id=departments[i % len(departments)],
                time=moment,
                now=lambda m=moment: m,  # type: ignore[misc]
            )
            if level <= 2 and first_bad is None:
                first_bad = result.rating.id
                bad_time = moment
        if first_bad is not None:
            appeal_rating(
                session,
                actor=users["dgcloud-ops"],
                rating_id=first_bad,
                reason="the incident was caused by the department's own firewall change",
                now=lambda: bad_time + timedelta(days=1),
            )
        for ticket in list_tickets(session, actor=users["dgcloud-ops"])[-1:]:
            answered = ticket.opened_at + timedelta(hours=20)
            answer_ticket(
                session,
                actor=users["dgcloud-ops"],
                ticket_id=ticket.id,
                text="已扩容告警处置值守，并复盘事件流程",
                now=lambda: answered,  # noqa: B023 - called at once, inside this iteration
            )
        return len(levels)

    rated = app.run(ratings, actor=SYSTEM, engine=engine)
    result = app.run(lambda s, a: run_bills(s, actor=a, period=period), actor=users["finance1"], engine=engine)
    return Living(
        period=str(period), events=events, ratings=rated, bills=len(result.bills), checks=checks, tokens=tokens
    )


def as_of(today: date | None = None) -> date:
    """Today in the province (the demo bills the month before)."""
    return today or datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date()
