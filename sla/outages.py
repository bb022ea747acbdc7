"""Outages and maintenance windows (docs/reference.md#sla, #record-files): outages entered by hand or imported, maintenance windows
requested by operators and decided by the bureau, and the queries availability reads them with.
Functions may flush, never commit."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from core.clock import Clock, utcnow
from core.errors import Conflict, Forbidden
from core.i18n import register, t
from core.periods import Period
from sla import availability as calc
from sla.availability import Interval
from sla.common import (
    DUPLICATE,
    NEW,
    UPDATED,
    as_period,
    floored_now,
    import_rows,
    not_found,
    readable_contract,
    record_audit,
    referred_contract,
    require_own_operator,
    scope_by_contract,
    stored_row,
)
from sla.models import MaintenanceRead, MaintenanceWindow, Outage, OutageRead, OutageSource
from sla.records import ImportReport, invalid, parse_bool, parse_text, parse_time
from tenants.contracts import ContractSpec
from tenants.permissions import Actor, require
from tenants.service import province_zone

register(
    {
        "four eyes: {name} requested maintenance window {id} and may not also decide it": "四眼原则：{name} 申请了维护窗口 {id}，不能再审批",
        "end must be after start": "结束时间必须晚于开始时间",
        "an outage cannot end in the future ({now})": "故障的结束时间不能晚于当前时间（{now}）",
        "the window lies outside the term of contract {contract} ({start}..{end})": "该时段不在合同 {contract} 的期限内（{start}..{end}）",
        "source must be probe, manual or import, got {value!r}": "来源必须是 probe、manual 或 import，实际为 {value!r}",
        "maintenance window {id} was already {decision}; a decision is final": "维护窗口 {id} 已有决定（{decision}），不可更改",
        "announced_at cannot be in the future ({now})": "公告时间不能晚于当前时间（{now}）",
        "maintenance window {id} was already {decision}": "维护窗口 {id} 已有决定（{decision}）",
        "approved": "已批准",
        "rejected": "已驳回",
        "maintenance window": "维护窗口",
    }
)


def _floor(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _writable_contract(session: Session, actor: Actor, contract_id: str, capability: str) -> ContractSpec:
    """The contract, once the actor may `capability` and (an operator) it is its own."""
    require(actor, capability)
    spec = referred_contract(session, contract_id)
    require_own_operator(spec.operator, actor=actor, missing=not_found("contract", spec.id, "contract"))
    return spec


def _window(
    spec: ContractSpec, tz: ZoneInfo, start: Any, end: Any, *, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """Parsed, floored `[start, end)` that overlaps the contract's term (and, with `now`, has ended)."""
    lo = _floor(parse_time(start, "start"))
    hi = _floor(parse_time(end, "end"))
    if hi <= lo:
        raise invalid("end", "end must be after start")
    if now is not None and hi > now:
        raise invalid("end", "an outage cannot end in the future ({now})", now=now.astimezone(tz).isoformat())
    term_lo, term_hi = spec.term_bounds(tz)
    if hi <= term_lo or lo >= term_hi:
        raise invalid(
            "start",
            "the window lies outside the term of contract {contract} ({start}..{end})",
            contract=spec.id,
            start=spec.start,
            end=spec.end,
        )
    return lo, hi


# ---------------------------------------------------------------------------- outages


def _outage_row(
    session: Session,
    actor: Actor,
    tz: ZoneInfo,
    *,
    contract_id: str,
    start: Any,
    end: Any,
    source: OutageSource,
    note: str | None,
    now: datetime,
) -> Outage:
    """A validated outage (not yet stored)."""
    spec = _writable_contract(session, actor, contract_id, "outages.write")
    lo, hi = _window(spec, tz, start, end, now=now)
    return Outage(
        contract_id=spec.id,
        start=lo,
        end=hi,
        source=source,
        probe=None,
        note=parse_text(note, "note"),
        created_by=actor.name,
        created_at=now,
        updated_at=now,
    )


def add_outage(
    session: Session,
    *,
    actor: Actor,
    contract_id: str,
    start: datetime | str,
    end: datetime | str,
    note: str | None = None,
    now: Clock = utcnow,
) -> OutageRead:
    """Record an outage entered by hand (source `manual`)."""
    tz = province_zone(session)
    row = _outage_row(
        session,
        actor,
        tz,
        contract_id=contract_id,
        start=start,
        end=end,
        source=OutageSource.MANUAL,
        note=note,
        now=now(),
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        "outage.add",
        f"outage:{row.id}",
        {"contract": row.contract_id, "start": row.start, "end": row.end, "note": row.note},
        actor=actor,
        now=now,
    )
    return OutageRead.of(row, tz)


def import_outages(session: Session, *, actor: Actor, path: str | Path, now: Clock = utcnow) -> ImportReport:
    """Import `contract,start,end,source,note` rows (docs/reference.md#record-files); valid rows stored, each bad row reported."""
    require(actor, "outages.write")
    tz = province_zone(session)
    moment = now()  # change stamps keep their microseconds (billing staleness)

    def build(row: dict[str, str]) -> Outage:
        # `probe`: outages a monitoring system recorded (migrated from another one); they carry no probe
        # name of this platform, so the probe scheduler never closes or extends them.
        source = (row.get("source") or "").strip() or OutageSource.IMPORT
        if source not in tuple(OutageSource):
            raise invalid("source", "source must be probe, manual or import, got {value!r}", value=source)
        return _outage_row(
            session,
            actor,
            tz,
            contract_id=row["contract"].strip(),
            start=row["start"],
            end=row["end"],
            source=OutageSource(source),
            note=row.get("note"),
            now=moment,
        )

    def settle(outage: Outage) -> str:
        same = stored_row(
            session,
            Outage,
            contract_id=outage.contract_id,
            start=outage.start,
            end=outage.end,
            source=outage.source,
            note=outage.note,
        )
        return DUPLICATE if same is not None else NEW

    report = import_rows(
        session, path, ("contract", "start", "end", "source", "note"), build, settle, optional=("source", "note")
    )
    if report.changed:
        record_audit(
            session, "outages.import", "outages", {"file": Path(path).name, "ids": report.ids}, actor=actor, now=now
        )
    return report


def list_outages(session: Session, *, actor: Actor, contract_id: str, period: Period | str) -> list[OutageRead]:
    """Every stored outage of a contract that meets the period (before merging)."""
    spec = readable_contract(session, contract_id, "sla.read", actor=actor)
    tz = province_zone(session)
    lo, hi = as_period(period).bounds(tz)
    query = scope_by_contract(_meeting(spec.id, lo, hi), Outage.contract_id, actor)
    return [OutageRead.of(o, tz) for o in session.exec(query)]


def _meeting(contract_id: str, lo: datetime, hi: datetime) -> SelectOfScalar[Outage]:
    """The outages of a contract that meet `[lo, hi)`, by start."""
    return (
        select(Outage)
        .where(
            Outage.contract_id == contract_id,
            Outage.start < hi,
            or_(col(Outage.end).is_(None), col(Outage.end) > lo),
        )
        .order_by(col(Outage.start), col(Outage.id))
    )


def outages_between(session: Session, contract_id: str, lo: datetime, hi: datetime) -> list[Outage]:
    return list(session.exec(_meeting(contract_id, lo, hi)))


# ---------------------------------------------------------------------------- maintenance


def _maintenance_read(row: MaintenanceWindow, tz: ZoneInfo, notice_hours: int) -> MaintenanceRead:
    return MaintenanceRead.of(row, tz, calc.timely(row.start, row.announced_at, notice_hours))


def _notice_hours(session: Session, contract_id: str) -> int:
    """The contract's maintenance notice (`sla.notice_hours`, default 24, docs/reference.md#sla)."""
    return referred_contract(session, contract_id).notice_hours


def request_maintenance(
    session: Session,
    *,
    actor: Actor,
    contract_id: str,
    start: datetime | str,
    end: datetime | str,
    note: str | None = None,
    now: Clock = utcnow,
) -> MaintenanceRead:
    """An operator announces a maintenance window now; it counts once approved, if announced at least the
    contract's `sla.notice_hours` (default 24) ahead."""
    tz = province_zone(session)
    spec = _writable_contract(session, actor, contract_id, "maintenance.request")
    lo, hi = _window(spec, tz, start, end)
    moment = floored_now(now)
    row = MaintenanceWindow(
        contract_id=spec.id,
        start=lo,
        end=hi,
        announced_at=moment,
        note=parse_text(note, "note"),
        requested_by=actor.name,
        requested_at=now(),
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        "maintenance.request",
        f"maintenance:{row.id}",
        {"contract": spec.id, "start": lo, "end": hi, "announced_at": moment, "note": row.note},
        actor=actor,
        now=now,
    )
    return _maintenance_read(row, tz, spec.notice_hours)


def decide_maintenance(
    session: Session, *, actor: Actor, window_id: int, approve: bool = True, now: Clock = utcnow
) -> MaintenanceRead:
    """The bureau approves (or rejects) a requested window; a decision is final. Whoever requested the window
    never decides it (docs/reference.md#four-eyes)."""
    require(actor, "maintenance.approve")
    tz = province_zone(session)
    row = session.get(MaintenanceWindow, window_id)
    if row is None:
        raise not_found("maintenance window", window_id, "id")
    if row.requested_by == actor.name:
        raise Forbidden(
            "four eyes: {name} requested maintenance window {id} and may not also decide it",
            name=actor.name,
            id=window_id,
        )
    if row.approved is not None:
        if row.approved == approve:
            return _maintenance_read(row, tz, _notice_hours(session, row.contract_id))
        raise Conflict(
            "maintenance window {id} was already {decision}",
            id=window_id,
            decision=t("approved" if row.approved else "rejected"),
        )
    row.approved, row.decided_by, row.decided_at = approve, actor.name, now()
    session.add(row)
    session.flush()
    record_audit(
        session,
        "maintenance.approve" if approve else "maintenance.reject",
        f"maintenance:{row.id}",
        {"contract": row.contract_id, "approved": approve},
        actor=actor,
        now=now,
    )
    return _maintenance_read(row, tz, _notice_hours(session, row.contract_id))


def import_maintenance(session: Session, *, actor: Actor, path: str | Path, now: Clock = utcnow) -> ImportReport:
    """Import `contract,start,end,announced_at,approved` rows (bureau only): the windows with the bureau's decision.

    A window already stored (same contract, start, end and announcement) is a duplicate when the
    decisions agree; a requested window not decided yet takes the row's decision; a decided window
    keeps its decision, whatever the route (docs/reference.md#sla), and a row that would flip it is rejected.
    """
    require(actor, "maintenance.import")
    tz = province_zone(session)
    moment = floored_now(now)
    updated: list[int] = []

    def build(row: dict[str, str]) -> MaintenanceWindow:
        spec = referred_contract(session, row["contract"].strip())
        lo, hi = _window(spec, tz, row["start"], row["end"])
        announced = _floor(parse_time(row["announced_at"], "announced_at"))
        if announced > moment:
            raise invalid(
                "announced_at", "announced_at cannot be in the future ({now})", now=moment.astimezone(tz).isoformat()
            )
        approved = parse_bool(row["approved"], "approved")
        return MaintenanceWindow(
            contract_id=spec.id,
            start=lo,
            end=hi,
            announced_at=announced,
            note="",
            requested_by=actor.name,
            requested_at=now(),
            approved=approved,
            decided_by=actor.name,
            decided_at=now(),
        )

    def settle(window: MaintenanceWindow) -> str:
        same = stored_row(
            session,
            MaintenanceWindow,
            contract_id=window.contract_id,
            start=window.start,
            end=window.end,
            announced_at=window.announced_at,
        )
        if same is None:
            return NEW
        if same.approved == window.approved:
            return DUPLICATE
        if same.approved is not None:
            raise invalid(
                "approved",
                "maintenance window {id} was already {decision}; a decision is final",
                id=same.id,
                decision=t("approved" if same.approved else "rejected"),
            )
        if (
            same.requested_by == actor.name
        ):  # the importer requested it: another user decides (docs/reference.md#four-eyes)
            raise invalid(
                "approved",
                "four eyes: {name} requested maintenance window {id} and may not also decide it",
                name=actor.name,
                id=same.id,
            )
        same.approved, same.decided_by, same.decided_at = window.approved, actor.name, now()
        session.add(same)
        session.flush()
        assert same.id is not None
        updated.append(same.id)
        return UPDATED

    report = import_rows(session, path, ("contract", "start", "end", "announced_at", "approved"), build, settle)
    if report.changed:
        record_audit(
            session,
            "maintenance.import",
            "maintenance",
            {"file": Path(path).name, "ids": report.ids, "updated": updated},
            actor=actor,
            now=now,
        )
    return report


def list_maintenance(
    session: Session, *, actor: Actor, contract_id: str | None = None, pending: bool = False
) -> list[MaintenanceRead]:
    """Maintenance windows the actor may see (an operator its own contracts', a department those of the
    contracts covering its cloud), newest first."""
    require(actor, "sla.read")
    tz = province_zone(session)
    query = select(MaintenanceWindow).order_by(col(MaintenanceWindow.start).desc(), col(MaintenanceWindow.id).desc())
    if contract_id is not None:
        readable_contract(session, contract_id, "sla.read", actor=actor)
        query = query.where(MaintenanceWindow.contract_id == contract_id)
    if pending:
        query = query.where(col(MaintenanceWindow.approved).is_(None))
    query = scope_by_contract(query, MaintenanceWindow.contract_id, actor)
    notice: dict[str, int] = {}
    out = []
    for r in session.exec(query):
        if r.contract_id not in notice:
            notice[r.contract_id] = _notice_hours(session, r.contract_id)
        out.append(_maintenance_read(r, tz, notice[r.contract_id]))
    return out


def counting_maintenance(session: Session, contract_id: str, lo: datetime, hi: datetime) -> list[Interval]:
    """Approved, timely maintenance windows that meet `[lo, hi)`."""
    rows = session.exec(
        select(MaintenanceWindow).where(
            MaintenanceWindow.contract_id == contract_id,
            col(MaintenanceWindow.approved).is_(True),
            MaintenanceWindow.start < hi,
            MaintenanceWindow.end > lo,
        )
    )
    notice = _notice_hours(session, contract_id)
    return [(r.start, r.end) for r in rows if calc.timely(r.start, r.announced_at, notice)]
