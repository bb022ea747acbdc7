"""SLA and evaluation services (SPEC 2.3, 2.4, 3.4, 4.3, 4.4): probes, outages, maintenance windows,
availability, ratings, rectification tickets and appeals.

Every function takes the session and, where it reads scoped data or changes state, the acting
user; it may flush, never commit. `availability_for`, `counted_ratings`, `score_for` and
`sla_inputs_changed_at` are the internal entry points billing uses (no acting user).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from core import audit
from core.clock import Clock, utcnow
from core.errors import Conflict, DomainError, Forbidden, NotFound, problem
from core.i18n import register, t
from core.periods import Period
from sla import availability as calc
from sla.availability import Availability, Interval, compute_availability
from sla.models import (
    Appeal,
    AppealRead,
    CheckRead,
    MaintenanceRead,
    MaintenanceWindow,
    Outage,
    OutageRead,
    ProbeCheck,
    Rating,
    RatingRead,
    Ticket,
    TicketRead,
)
from sla.probes import CheckResult, Prober, is_reserved_host, network_prober, probe_host
from sla.records import ImportReport, invalid, parse_bool, parse_level, parse_text, parse_time, read_records
from sla.scoring import BAD_LEVELS, Score, pays, score_of
from sla.workdays import WorkCalendar
from tenants.contracts import ContractSpec, Probe
from tenants.models import Contract, Department
from tenants.permissions import Actor, department_scope, operator_scope, require, require_department, require_operator
from tenants.service import all_contracts, contracts_active, get_contract, get_province, list_contracts

register(
    {
        "end must be after start": "结束时间必须晚于开始时间",
        "an outage cannot end in the future ({now})": "故障的结束时间不能晚于当前时间（{now}）",
        "the window lies outside the term of contract {contract} ({start}..{end})": "该时段不在合同 {contract} 的期限内（{start}..{end}）",
        "source must be manual or import ('probe' is reserved for outages the probes record), got {value!r}": "来源必须是 manual 或 import（probe 仅用于探测记录的故障），实际为 {value!r}",
        "announced_at cannot be in the future ({now})": "公告时间不能晚于当前时间（{now}）",
        "maintenance window {id} was already {decision}": "维护窗口 {id} 已被{decision}",
        "approved": "批准",
        "rejected": "驳回",
        "maintenance window": "维护窗口",
        "rating": "评价",
        "ticket": "整改工单",
        "appeal": "申诉",
        "department": "部门",
        "contract": "合同",
        "a bad review (level 1-2) needs a comment": "差评（1-2 级）必须填写评价内容",
        "the rating time is more than 5 minutes in the future ({now})": "评价时间晚于当前时间超过 5 分钟（{now}）",
        "department {department} is archived": "部门 {department} 已归档",
        "department {department} is placed on cloud {cloud}, which contract {contract} does not cover": "部门 {department} 部署在云 {cloud} 上，合同 {contract} 不覆盖该云",
        "the rating time {day} is outside the term of contract {contract} ({start}..{end})": "评价时间 {day} 不在合同 {contract} 的期限内（{start}..{end}）",
        "a department user rates only as its own department ({department})": "部门用户只能以本部门（{department}）名义评价",
        "department is required": "必须指定部门",
        "rating {id} no longer counts: its appeal was upheld": "评价 {id} 已不计入：其申诉已被支持",
        "rating {id} was already appealed (appeal {appeal})": "评价 {id} 已被申诉（申诉 {appeal}）",
        "the appeal deadline of rating {id} passed at {due}": "评价 {id} 的申诉期限已于 {due} 届满",
        "appeal {id} was already decided: {status}": "申诉 {id} 已裁决：{status}",
        "ticket {id} is {status}, not open": "整改工单 {id} 的状态为 {status}，不是待处理",
        "only --once is supported here; `zhengyun serve` runs the probes every interval": "此处只支持 --once；`zhengyun serve` 会按间隔定期运行探测",
        "reserved example host, never contacted": "保留的示例主机，从不访问",
    }
)

#: A rating may carry a time up to this far ahead of the clock (clock skew), as usage events do.
FUTURE_TOLERANCE = timedelta(minutes=5)


# ---------------------------------------------------------------------------- shared helpers


def _now(now: Clock) -> datetime:
    """The clock, floored to whole seconds (outage and check times are whole seconds)."""
    return now().replace(microsecond=0)


def _floor(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _zone(session: Session) -> ZoneInfo:
    return ZoneInfo(get_province(session).timezone)


def _period(period: Period | str) -> Period:
    return period if isinstance(period, Period) else Period.parse(period)


def _not_found(kind: str, id_: Any, field_: str) -> NotFound:
    """NotFound for a `kind` (translated) whose problem names the field that referred to it."""
    template = "{kind} not found: {id}"
    return NotFound(template, problems=[problem(template, path=field_, kind=t(kind), id=id_)], kind=t(kind), id=id_)


def _contract(session: Session, contract_id: str, field_: str = "contract") -> ContractSpec:
    if session.get(Contract, contract_id) is None:
        raise _not_found("contract", contract_id, field_)
    return get_contract(session, contract_id)


def _writable_contract(session: Session, actor: Actor, contract_id: str, capability: str) -> ContractSpec:
    """The contract, once the actor may `capability` and (an operator) it is its own."""
    require(actor, capability)
    spec = _contract(session, contract_id)
    require_operator(actor, spec.operator)
    return spec


def _readable_contract(session: Session, actor: Actor, contract_id: str, capability: str) -> ContractSpec:
    """The contract, once the actor may read it: an operator its own, a department one on its cloud."""
    require(actor, capability)
    spec = _contract(session, contract_id)
    require_operator(actor, spec.operator)
    if (dept_id := department_scope(actor)) is not None:
        dept = session.get(Department, dept_id)
        if dept is None or dept.cloud_id not in spec.clouds:
            require_department(actor, None)  # raises: outside its scope
    return spec


def _term_bounds(spec: ContractSpec, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The term `[start 00:00, day after end 00:00)` in local time."""
    return (
        datetime.combine(spec.start, time(0), tzinfo=tz),
        datetime.combine(spec.end + timedelta(days=1), time(0), tzinfo=tz),
    )


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
    term_lo, term_hi = _term_bounds(spec, tz)
    if hi <= term_lo or lo >= term_hi:
        raise invalid(
            "start",
            "the window lies outside the term of contract {contract} ({start}..{end})",
            contract=spec.id,
            start=spec.start,
            end=spec.end,
        )
    return lo, hi


def _audit(session: Session, actor: Actor, action: str, entity: str, payload: Any, now: Clock) -> None:
    audit.append(session, actor=actor.name, action=action, entity=entity, payload=payload, now=now)


NEW, DUPLICATE, UPDATED = "new", "duplicate", "updated"
Row = TypeVar("Row", Outage, MaintenanceWindow, Rating)


def _stored(session: Session, model: type[Row], **fields: Any) -> Row | None:
    """A stored row with exactly these field values, if any."""
    return session.exec(select(model).where(*(getattr(model, k) == v for k, v in fields.items()))).first()


def _import_rows(
    session: Session,
    path: str | Path,
    columns: tuple[str, ...],
    build: Callable[[dict[str, str]], Row],
    settle: Callable[[Row], str],
    *,
    store: Callable[[Row], Row] | None = None,
    optional: tuple[str, ...] = (),
) -> ImportReport:
    """The row-by-row import of a record file (SPEC 3.4): `build` validates a row (a DomainError rejects it
    with its line and field), `settle` says whether it is new, a duplicate or updated a stored row, and
    new rows are stored (by `store`, or added as they are)."""
    report = ImportReport(file=str(path))
    for line, row in read_records(path, columns, optional):
        try:
            item = build(row)
        except DomainError as exc:
            report.reject(line, exc)
            continue
        outcome = settle(item)
        if outcome == DUPLICATE:
            report.duplicates += 1
        elif outcome == UPDATED:
            report.updated += 1
        else:
            if store is not None:
                item = store(item)
            else:
                session.add(item)
                session.flush()
            assert item.id is not None
            report.accepted += 1
            report.ids.append(item.id)
    return report


# ---------------------------------------------------------------------------- probes


@dataclass
class ProbeRun:
    """What one round of probes did."""

    vantage: str
    time: datetime
    checks: list[CheckRead] = field(default_factory=list)
    opened: list[OutageRead] = field(default_factory=list)
    closed: list[OutageRead] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def default_vantage() -> str:
    """This process's vantage point name: the host name."""
    return socket.gethostname()[:64] or "local"


def _safe(prober: Prober, probe: Probe) -> CheckResult:
    try:
        return prober(probe)
    except Exception as exc:  # a prober that crashes is a failed check, not a failed round
        return CheckResult(False, None, 0, f"{type(exc).__name__}: {exc}"[:500])


def run_probes(
    session: Session,
    *,
    actor: Actor,
    vantage: str | None = None,
    prober: Prober = network_prober,
    contract_id: str | None = None,
    now: Clock = utcnow,
    max_workers: int = 16,
) -> ProbeRun:
    """Run every probe of the contracts in force once, store each check, open and close probe outages.

    An operator runs only its own contracts' probes. Probes aimed at reserved example hosts are
    skipped: they are never contacted (SPEC 7).
    """
    require(actor, "probes.run")
    tz = _zone(session)
    moment = _now(now)
    vantage = (vantage or default_vantage())[:64]
    today = moment.astimezone(tz).date()
    scope = operator_scope(actor)
    if contract_id is not None:
        contracts = [_readable_contract(session, actor, contract_id, "probes.run")]
        contracts = [c for c in contracts if c.active_on(today)]
    else:
        contracts = [c for c in contracts_active(session, today, today) if scope is None or c.operator == scope]
    run = ProbeRun(vantage=vantage, time=moment.astimezone(tz))
    targets: list[tuple[ContractSpec, Probe]] = []
    for spec in contracts:
        for probe in spec.probes:
            host = probe_host(probe)
            if is_reserved_host(host):
                run.skipped.append(
                    {
                        "contract": spec.id,
                        "probe": probe.name,
                        "host": host,
                        "reason": t("reserved example host, never contacted"),
                    }
                )
            else:
                targets.append((spec, probe))
    if len(targets) > 1:
        with ThreadPoolExecutor(max_workers=min(max_workers, len(targets))) as pool:
            results = list(pool.map(lambda target: _safe(prober, target[1]), targets))
    else:
        results = [_safe(prober, probe) for _, probe in targets]
    for (spec, probe), result in zip(targets, results, strict=True):
        session.add(
            ProbeCheck(
                contract_id=spec.id,
                probe=probe.name,
                vantage=vantage,
                time=moment,
                interval_s=probe.interval_s,
                ok=result.ok,
                status=result.status,
                duration_ms=result.duration_ms,
                error=result.error,
            )
        )
        run.checks.append(
            CheckRead(
                spec.id,
                probe.name,
                vantage,
                moment.astimezone(tz),
                result.ok,
                result.status,
                result.duration_ms,
                result.error,
            )
        )
    session.flush()
    for spec, probe in targets:
        opened, closed = _track_probe_outage(session, actor, spec.id, probe, moment, now)
        if opened is not None:
            run.opened.append(OutageRead.of(opened, tz))
        if closed is not None:
            run.closed.append(OutageRead.of(closed, tz))
    for outage in _close_undeclared(session, actor, contracts, moment, now):
        run.closed.append(OutageRead.of(outage, tz))
    return run


def _close_undeclared(
    session: Session, actor: Actor, contracts: list[ContractSpec], moment: datetime, now: Clock
) -> list[Outage]:
    """Close open probe outages whose probe the contract no longer declares (nothing would ever close them)."""
    declared = {c.id: {p.name for p in c.probes} for c in contracts}
    if not declared:
        return []
    closed = []
    for outage in session.exec(
        select(Outage).where(
            col(Outage.contract_id).in_(list(declared)), col(Outage.probe).is_not(None), col(Outage.end).is_(None)
        )
    ):
        if outage.probe not in declared[outage.contract_id]:
            outage.end, outage.updated_at = max(moment, outage.start), now()
            session.add(outage)
            session.flush()
            _audit(
                session,
                actor,
                "outage.close",
                f"outage:{outage.id}",
                {
                    "contract": outage.contract_id,
                    "probe": outage.probe,
                    "start": outage.start,
                    "end": outage.end,
                    "reason": "probe no longer declared",
                },
                now,
            )
            closed.append(outage)
    return closed


def _run_start(session: Session, contract_id: str, probe: str, vantage: str, ok: bool, moment: datetime) -> datetime:
    """The time of the first check of a vantage point's current run of checks with outcome `ok`."""
    C = ProbeCheck
    where = (C.contract_id == contract_id, C.probe == probe, C.vantage == vantage, C.time <= moment)
    other = session.exec(select(func.max(C.time)).where(*where, C.ok == (not ok))).one()
    first = select(func.min(C.time)).where(*where, C.ok == ok)
    if other is not None:
        first = first.where(C.time > other)
    value = session.exec(first).one()
    assert value is not None
    return value


def _track_probe_outage(
    session: Session, actor: Actor, contract_id: str, probe: Probe, moment: datetime, now: Clock
) -> tuple[Outage | None, Outage | None]:
    """Open or close the probe's outage from the latest checks of every vantage point (SPEC 2.3).

    The vantage points are those that reported a check of this probe in the last `confirm + 1`
    intervals; a majority is more than half of them. The outage opens when a majority has failed
    `confirm` consecutive checks, and starts when a majority had begun its current run of failures
    (the first failed check of that run, with one vantage point). It ends when the successes leave
    no majority failing: at the first success, with one vantage point.
    """
    C = ProbeCheck
    lookback = moment - timedelta(seconds=(probe.confirm + 1) * probe.interval_s)
    vantages = sorted(
        session.exec(
            select(C.vantage)
            .where(C.contract_id == contract_id, C.probe == probe.name, C.time > lookback, C.time <= moment)
            .distinct()
        )
    )
    if not vantages:
        return None, None
    need = len(vantages) // 2 + 1
    failing: list[datetime] = []
    recovered: list[datetime] = []
    for vantage in vantages:
        recent = session.exec(
            select(C.ok)
            .where(
                C.contract_id == contract_id,
                C.probe == probe.name,
                C.vantage == vantage,
                C.time <= moment,
            )
            .order_by(col(C.time).desc(), col(C.id).desc())
            .limit(probe.confirm)
        ).all()
        if recent[0]:
            recovered.append(_run_start(session, contract_id, probe.name, vantage, True, moment))
        elif len(recent) >= probe.confirm and not any(recent):
            failing.append(_run_start(session, contract_id, probe.name, vantage, False, moment))
    current = session.exec(
        select(Outage).where(Outage.contract_id == contract_id, Outage.probe == probe.name, col(Outage.end).is_(None))
    ).first()
    if current is None and len(failing) >= need:
        last_error = session.exec(
            select(C.error)
            .where(
                C.contract_id == contract_id,
                C.probe == probe.name,
                C.time <= moment,
                col(C.ok).is_(False),
            )
            .order_by(col(C.time).desc(), col(C.id).desc())
            .limit(1)
        ).first()
        outage = Outage(
            contract_id=contract_id,
            start=sorted(failing)[need - 1],
            end=None,
            source="probe",
            probe=probe.name,
            note=f"probe {probe.name}: {last_error or 'failed'}"[:2000],
            created_by=actor.name,
            created_at=now(),
            updated_at=now(),
        )
        session.add(outage)
        session.flush()
        _audit(
            session,
            actor,
            "outage.open",
            f"outage:{outage.id}",
            {"contract": contract_id, "probe": probe.name, "start": outage.start, "vantages": vantages},
            now,
        )
        return outage, None
    if current is not None and len(recovered) >= len(vantages) - need + 1:
        start = current.start
        current.end = sorted(max(r, start) for r in recovered)[len(vantages) - need]
        current.updated_at = now()
        session.add(current)
        session.flush()
        _audit(
            session,
            actor,
            "outage.close",
            f"outage:{current.id}",
            {"contract": contract_id, "probe": probe.name, "start": start, "end": current.end},
            now,
        )
        return None, current
    return None, None


# ---------------------------------------------------------------------------- outages


def _outage_row(
    session: Session,
    actor: Actor,
    tz: ZoneInfo,
    *,
    contract_id: str,
    start: Any,
    end: Any,
    source: str,
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
    tz = _zone(session)
    row = _outage_row(
        session, actor, tz, contract_id=contract_id, start=start, end=end, source="manual", note=note, now=now()
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        actor,
        "outage.add",
        f"outage:{row.id}",
        {"contract": row.contract_id, "start": row.start, "end": row.end, "note": row.note},
        now,
    )
    return OutageRead.of(row, tz)


def import_outages(session: Session, *, actor: Actor, path: str | Path, now: Clock = utcnow) -> ImportReport:
    """Import `contract,start,end,source,note` rows (SPEC 3.4); valid rows stored, each bad row reported."""
    require(actor, "outages.write")
    tz = _zone(session)
    moment = now()  # change stamps keep their microseconds (billing staleness)

    def build(row: dict[str, str]) -> Outage:
        source = (row.get("source") or "").strip() or "import"
        if source not in ("manual", "import"):
            raise invalid(
                "source",
                "source must be manual or import ('probe' is reserved for outages the probes record), got {value!r}",
                value=source,
            )
        return _outage_row(
            session,
            actor,
            tz,
            contract_id=row["contract"].strip(),
            start=row["start"],
            end=row["end"],
            source=source,
            note=row.get("note"),
            now=moment,
        )

    def settle(outage: Outage) -> str:
        same = _stored(
            session,
            Outage,
            contract_id=outage.contract_id,
            start=outage.start,
            end=outage.end,
            source=outage.source,
            note=outage.note,
        )
        return DUPLICATE if same is not None else NEW

    report = _import_rows(
        session, path, ("contract", "start", "end", "source", "note"), build, settle, optional=("source", "note")
    )
    if report.changed:
        _audit(session, actor, "outages.import", "outages", {"file": Path(path).name, "ids": report.ids}, now)
    return report


def list_outages(session: Session, *, actor: Actor, contract_id: str, period: Period | str) -> list[OutageRead]:
    """Every stored outage of a contract that meets the period (before merging)."""
    spec = _readable_contract(session, actor, contract_id, "sla.read")
    tz = _zone(session)
    lo, hi = _period(period).bounds(tz)
    return [OutageRead.of(o, tz) for o in _outages_between(session, spec.id, lo, hi)]


def _outages_between(session: Session, contract_id: str, lo: datetime, hi: datetime) -> list[Outage]:
    return list(
        session.exec(
            select(Outage)
            .where(
                Outage.contract_id == contract_id,
                Outage.start < hi,
                or_(col(Outage.end).is_(None), col(Outage.end) > lo),
            )
            .order_by(Outage.start, Outage.id)
        )
    )


# ---------------------------------------------------------------------------- maintenance


def _maintenance_read(row: MaintenanceWindow, tz: ZoneInfo) -> MaintenanceRead:
    return MaintenanceRead.of(row, tz, calc.timely(row.start, row.announced_at))


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
    """An operator announces a maintenance window now; it counts once approved, if announced ≥ 24 h ahead."""
    tz = _zone(session)
    spec = _writable_contract(session, actor, contract_id, "maintenance.request")
    lo, hi = _window(spec, tz, start, end)
    moment = _now(now)
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
    _audit(
        session,
        actor,
        "maintenance.request",
        f"maintenance:{row.id}",
        {"contract": spec.id, "start": lo, "end": hi, "announced_at": moment, "note": row.note},
        now,
    )
    return _maintenance_read(row, tz)


def decide_maintenance(
    session: Session, *, actor: Actor, window_id: int, approve: bool = True, now: Clock = utcnow
) -> MaintenanceRead:
    """The bureau approves (or rejects) a requested window; a decision is final."""
    require(actor, "maintenance.approve")
    tz = _zone(session)
    row = session.get(MaintenanceWindow, window_id)
    if row is None:
        raise _not_found("maintenance window", window_id, "id")
    if row.approved is not None:
        if row.approved == approve:
            return _maintenance_read(row, tz)
        raise Conflict(
            "maintenance window {id} was already {decision}",
            id=window_id,
            decision=t("approved" if row.approved else "rejected"),
        )
    row.approved, row.decided_by, row.decided_at = approve, actor.name, now()
    session.add(row)
    session.flush()
    _audit(
        session,
        actor,
        "maintenance.approve" if approve else "maintenance.reject",
        f"maintenance:{row.id}",
        {"contract": row.contract_id, "approved": approve},
        now,
    )
    return _maintenance_read(row, tz)


def import_maintenance(session: Session, *, actor: Actor, path: str | Path, now: Clock = utcnow) -> ImportReport:
    """Import `contract,start,end,announced_at,approved` rows (bureau only): the windows with the bureau's decision.

    A window already stored (same contract, start, end and announcement) is a duplicate, or takes the
    row's decision when that differs.
    """
    require(actor, "maintenance.import")
    tz = _zone(session)
    moment = _now(now)
    updated: list[int] = []

    def build(row: dict[str, str]) -> MaintenanceWindow:
        spec = _contract(session, row["contract"].strip())
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
        same = _stored(
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
        same.approved, same.decided_by, same.decided_at = window.approved, actor.name, now()
        session.add(same)
        session.flush()
        assert same.id is not None
        updated.append(same.id)
        return UPDATED

    report = _import_rows(session, path, ("contract", "start", "end", "announced_at", "approved"), build, settle)
    if report.changed:
        _audit(
            session,
            actor,
            "maintenance.import",
            "maintenance",
            {"file": Path(path).name, "ids": report.ids, "updated": updated},
            now,
        )
    return report


def list_maintenance(
    session: Session, *, actor: Actor, contract_id: str | None = None, pending: bool = False
) -> list[MaintenanceRead]:
    """Maintenance windows the actor may see (an operator its own contracts'), newest first."""
    require(actor, "sla.read")
    tz = _zone(session)
    query = select(MaintenanceWindow).order_by(col(MaintenanceWindow.start).desc(), col(MaintenanceWindow.id).desc())
    if contract_id is not None:
        _readable_contract(session, actor, contract_id, "sla.read")
        query = query.where(MaintenanceWindow.contract_id == contract_id)
    if pending:
        query = query.where(col(MaintenanceWindow.approved).is_(None))
    rows = list(session.exec(query))
    if (op := operator_scope(actor)) is not None:
        own = {c.id for c in _contracts_of(session, op)}
        rows = [r for r in rows if r.contract_id in own]
    elif department_scope(actor) is not None and contract_id is None:
        seen = {c.id for c in _visible_to_department(session, actor)}
        rows = [r for r in rows if r.contract_id in seen]
    return [_maintenance_read(r, tz) for r in rows]


def _contracts_of(session: Session, operator_id: str) -> list[ContractSpec]:
    return [c for c in all_contracts(session) if c.operator == operator_id]


def _visible_to_department(session: Session, actor: Actor) -> list[ContractSpec]:
    return list_contracts(session, actor=actor)


def _counting_maintenance(session: Session, contract_id: str, lo: datetime, hi: datetime) -> list[Interval]:
    """Approved, timely maintenance windows that meet `[lo, hi)`."""
    rows = session.exec(
        select(MaintenanceWindow).where(
            MaintenanceWindow.contract_id == contract_id,
            col(MaintenanceWindow.approved).is_(True),
            MaintenanceWindow.start < hi,
            MaintenanceWindow.end > lo,
        )
    )
    return [(r.start, r.end) for r in rows if calc.timely(r.start, r.announced_at)]


# ---------------------------------------------------------------------------- availability


def active_window(spec: ContractSpec, period: Period, tz: ZoneInfo, until: datetime | None = None) -> Interval:
    """The part of the period inside the contract's term (and before `until`); empty when none."""
    lo, hi = period.bounds(tz)
    term_lo, term_hi = _term_bounds(spec, tz)
    start = max(lo, term_lo)
    end = min(hi, term_hi) if until is None else min(hi, term_hi, until)
    return start, max(start, end)


def _availability_between(
    session: Session, spec: ContractSpec, lo: datetime, hi: datetime, moment: datetime
) -> Availability:
    """SPEC 4.3 over `[lo, hi)`; an open probe outage lasts until `moment`."""
    # stored times come back in UTC: comparing them with UTC bounds avoids a zone lookup per comparison
    lo, hi = lo.astimezone(UTC), hi.astimezone(UTC)
    outages = [(o.start, o.end or max(moment, o.start)) for o in _outages_between(session, spec.id, lo, hi)]
    maintenance = _counting_maintenance(session, spec.id, lo, hi)
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
            .order_by(ProbeCheck.time)
        )
        steps: dict[int, timedelta] = {}
        checks = [
            (when, when + (steps.get(interval) or steps.setdefault(interval, timedelta(seconds=interval))))
            for when, interval in rows
        ]
    return compute_availability(start=lo, end=hi, outages=outages, maintenance=maintenance, checks=checks)


def availability_for(session: Session, contract_id: str, period: Period | str, *, now: Clock = utcnow) -> Availability:
    """Availability of a contract in a period (SPEC 4.3): the active part inside the term, so far.

    Uses stored outages (merged), approved and timely maintenance, and probe checks for coverage.
    Internal: billing calls it; `get_availability` is the scoped entry point.
    """
    spec = get_contract(session, contract_id)
    tz = _zone(session)
    moment = _now(now)
    lo, hi = active_window(spec, _period(period), tz, until=moment)
    return _availability_between(session, spec, lo, hi, moment)


def get_availability(
    session: Session, *, actor: Actor, contract_id: str, period: Period | str, now: Clock = utcnow
) -> dict[str, Any]:
    """`sla availability`: the contract's availability in the period with its eligible, down and
    maintenance seconds, coverage, the insufficient flag and the merged outages."""
    spec = _readable_contract(session, actor, contract_id, "sla.read")
    p = _period(period)
    result = availability_for(session, spec.id, p, now=now)
    tz = _zone(session)
    body = result.to_dict()
    body["start"], body["end"] = result.start.astimezone(tz), result.end.astimezone(tz)
    for item in body["outages"]:
        item["start"], item["end"] = item["start"].astimezone(tz), item["end"].astimezone(tz)
    return {"contract": spec.id, "period": str(p), **body}


def sla_inputs_changed_at(session: Session, contract_id: str, period: Period | str) -> datetime | None:
    """When the SLA inputs of a contract's period last changed: outages, maintenance, ratings and appeal
    decisions that affect it (billing marks drafts computed before that stale)."""
    tz = _zone(session)
    p = _period(period)
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
    tz = _zone(session)
    moment = _now(now)
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


# ---------------------------------------------------------------------------- ratings


@dataclass
class RatingResult:
    """A stored rating, the ticket it opened (a bad review) and calendar warnings."""

    rating: RatingRead
    ticket: TicketRead | None
    warnings: list[str]


def _rating_row(
    session: Session,
    actor: Actor,
    tz: ZoneInfo,
    *,
    contract_id: str,
    department_id: str | None,
    level: int | str | None,
    comment: str | None,
    when: Any,
    source: str,
    moment: datetime,
) -> Rating:
    """A validated rating (not yet stored): every rule of SPEC 2.4 except the ticket."""
    require(actor, "ratings.write")
    value = parse_level(level)
    text = parse_text(comment, "comment")
    if value in BAD_LEVELS and not text:
        raise invalid("comment", "a bad review (level 1-2) needs a comment")
    instant = parse_time(when, "time")
    if instant > moment + FUTURE_TOLERANCE:
        raise invalid(
            "time",
            "the rating time is more than 5 minutes in the future ({now})",
            now=moment.astimezone(tz).isoformat(),
        )
    spec = _contract(session, (contract_id or "").strip())
    if (own := department_scope(actor)) is not None:
        if department_id and department_id.strip() != own:
            template = "a department user rates only as its own department ({department})"
            raise Forbidden(template, problems=[problem(template, path="department", department=own)], department=own)
        department_id = own
    if not department_id:
        raise invalid("department", "department is required")
    dept = session.get(Department, department_id.strip())
    if dept is None:
        raise _not_found("department", department_id, "department")
    if dept.status != "active":
        raise invalid("department", "department {department} is archived", department=dept.id)
    if dept.cloud_id not in spec.clouds:
        raise invalid(
            "department",
            "department {department} is placed on cloud {cloud}, which contract {contract} does not cover",
            department=dept.id,
            cloud=dept.cloud_id,
            contract=spec.id,
        )
    day = instant.astimezone(tz).date()
    if not spec.active_on(day):
        raise invalid(
            "time",
            "the rating time {day} is outside the term of contract {contract} ({start}..{end})",
            day=day,
            contract=spec.id,
            start=spec.start,
            end=spec.end,
        )
    return Rating(
        contract_id=spec.id,
        department_id=dept.id,
        time=instant,
        period=str(Period.of(instant, tz)),
        level=value,
        comment=text,
        source=source,
        created_by=actor.name,
        received_at=moment,
        appeal_due=instant,
        excluded=False,
    )


def _store_rating(
    session: Session, actor: Actor, row: Rating, tz: ZoneInfo, calendar: WorkCalendar, now: Clock
) -> tuple[Rating, Ticket | None]:
    """Store a validated rating; a bad review opens a rectification ticket due in 5 working days."""
    due = calendar.deadline(row.time, tz)
    row.appeal_due = due
    session.add(row)
    session.flush()
    ticket = None
    if row.level in BAD_LEVELS:
        spec = get_contract(session, row.contract_id)
        assert row.id is not None
        ticket = Ticket(
            rating_id=row.id,
            contract_id=row.contract_id,
            operator_id=spec.operator,
            department_id=row.department_id,
            opened_at=row.received_at,
            due_at=due,
        )
        session.add(ticket)
        session.flush()
        _audit(
            session,
            actor,
            "ticket.open",
            f"ticket:{ticket.id}",
            {"rating": row.id, "contract": row.contract_id, "operator": spec.operator, "due_at": due},
            now,
        )
    return row, ticket


def add_rating(
    session: Session,
    *,
    actor: Actor,
    contract_id: str,
    level: int | str,
    comment: str | None = None,
    department_id: str | None = None,
    time: datetime | str | None = None,
    calendar: WorkCalendar | None = None,
    now: Clock = utcnow,
) -> RatingResult:
    """A department rates a contract (SPEC 2.4); a bad review opens a rectification ticket."""
    tz = _zone(session)
    moment = now()  # received_at keeps its microseconds (billing staleness)
    calendar = calendar or WorkCalendar()
    row = _rating_row(
        session,
        actor,
        tz,
        contract_id=contract_id,
        department_id=department_id,
        level=level,
        comment=comment,
        when=time if time is not None else now(),
        source="service",
        moment=moment,
    )
    row, ticket = _store_rating(session, actor, row, tz, calendar, now)
    _audit(
        session,
        actor,
        "rating.add",
        f"rating:{row.id}",
        {
            "contract": row.contract_id,
            "department": row.department_id,
            "time": row.time,
            "level": row.level,
            "comment": row.comment,
        },
        now,
    )
    return RatingResult(
        RatingRead.of(row, tz), TicketRead.of(ticket, tz, moment) if ticket else None, list(calendar.warnings)
    )


def import_ratings(
    session: Session, *, actor: Actor, path: str | Path, calendar: WorkCalendar | None = None, now: Clock = utcnow
) -> ImportReport:
    """Import `department,contract,time,level,comment` rows (SPEC 3.4); valid rows stored, each bad row reported.

    A row equal to a stored rating (same department, contract, instant, level and comment) is a duplicate.
    """
    require(actor, "ratings.write")
    tz = _zone(session)
    moment = now()  # received_at keeps its microseconds (billing staleness)
    calendar = calendar or WorkCalendar()
    tickets: list[int] = []

    def build(row: dict[str, str]) -> Rating:
        return _rating_row(
            session,
            actor,
            tz,
            contract_id=row["contract"],
            department_id=row["department"],
            level=row["level"],
            comment=row.get("comment"),
            when=row["time"],
            source="import",
            moment=moment,
        )

    def settle(rating: Rating) -> str:
        same = _stored(
            session,
            Rating,
            contract_id=rating.contract_id,
            department_id=rating.department_id,
            time=rating.time,
            level=rating.level,
            comment=rating.comment,
        )
        return DUPLICATE if same is not None else NEW

    def store(rating: Rating) -> Rating:
        stored, ticket = _store_rating(session, actor, rating, tz, calendar, now)
        if ticket is not None and ticket.id is not None:
            tickets.append(ticket.id)
        return stored

    report = _import_rows(
        session,
        path,
        ("department", "contract", "time", "level", "comment"),
        build,
        settle,
        store=store,
        optional=("comment",),
    )
    report.warnings = list(calendar.warnings)
    if report.changed:
        _audit(
            session,
            actor,
            "ratings.import",
            "ratings",
            {"file": Path(path).name, "ids": report.ids, "tickets": tickets},
            now,
        )
    return report


def list_ratings(
    session: Session,
    *,
    actor: Actor,
    contract_id: str | None = None,
    period: Period | str | None = None,
    department_id: str | None = None,
) -> list[RatingRead]:
    """Ratings the actor may see, history included: an operator its contracts', a department its own."""
    require(actor, "ratings.read")
    tz = _zone(session)
    query = select(Rating).order_by(Rating.contract_id, Rating.period, Rating.department_id, Rating.time, Rating.id)
    if contract_id is not None:
        spec = _contract(session, contract_id)
        require_operator(actor, spec.operator)
        query = query.where(Rating.contract_id == contract_id)
    if period is not None:
        query = query.where(Rating.period == str(_period(period)))
    if (own := department_scope(actor)) is not None:
        department_id = own
    if department_id is not None:
        query = query.where(Rating.department_id == department_id)
    rows = list(session.exec(query))
    if (op := operator_scope(actor)) is not None:
        own_contracts = {c.id for c in _contracts_of(session, op)}
        rows = [r for r in rows if r.contract_id in own_contracts]
    return [RatingRead.of(r, tz) for r in rows]


def counted_ratings(session: Session, contract_id: str, period: Period | str) -> list[Rating]:
    """The ratings that count in a period (SPEC 2.4): per department its latest (by time, then arrival)
    rating inside the term whose appeal was not upheld. Internal: billing calls it."""
    spec = get_contract(session, contract_id)
    tz = _zone(session)
    rows = session.exec(
        select(Rating)
        .where(
            Rating.contract_id == contract_id,
            Rating.period == str(_period(period)),
            col(Rating.excluded).is_(False),
        )
        .order_by(Rating.department_id, Rating.time, Rating.id)
    )
    latest: dict[str, Rating] = {}
    for row in rows:
        if spec.active_on(row.time.astimezone(tz).date()):
            latest[row.department_id] = row
    return [latest[k] for k in sorted(latest)]


def score_for(session: Session, contract_id: str, period: Period | str) -> Score:
    """The evaluation score of a contract's period from its counted ratings (SPEC 4.4). Internal."""
    return score_of(r.level for r in counted_ratings(session, contract_id, period))


def get_score(session: Session, *, actor: Actor, contract_id: str, period: Period | str) -> dict[str, Any]:
    """`ratings score`: count, distribution, score S, satisfaction and bad-review rates (and what it pays)."""
    spec = _readable_contract(session, actor, contract_id, "ratings.read")
    p = _period(period)
    score = score_for(session, spec.id, p)
    body: dict[str, Any] = {"contract": spec.id, "period": str(p), **score.to_dict()}
    if spec.evaluation is not None:
        body["min_ratings"] = spec.evaluation.min_ratings
        body["pays"] = pays(score, spec.evaluation)
    return body


# ---------------------------------------------------------------------------- appeals


def _rating(session: Session, rating_id: int) -> Rating:
    row = session.get(Rating, rating_id)
    if row is None:
        raise _not_found("rating", rating_id, "rating")
    return row


def appeal_rating(session: Session, *, actor: Actor, rating_id: int, reason: str, now: Clock = utcnow) -> AppealRead:
    """The contract's operator appeals a rating within 5 working days of the rating's day (SPEC 2.4)."""
    require(actor, "ratings.appeal")
    tz = _zone(session)
    moment = _now(now)
    rating = _rating(session, rating_id)
    spec = get_contract(session, rating.contract_id)
    require_operator(actor, spec.operator)
    text = parse_text(reason, "reason", required=True)
    if rating.excluded:
        raise Conflict("rating {id} no longer counts: its appeal was upheld", id=rating_id)
    existing = session.exec(select(Appeal).where(Appeal.rating_id == rating_id)).first()
    if existing is not None:
        raise Conflict("rating {id} was already appealed (appeal {appeal})", id=rating_id, appeal=existing.id)
    if moment >= rating.appeal_due:
        raise invalid(
            "rating",
            "the appeal deadline of rating {id} passed at {due}",
            id=rating_id,
            due=rating.appeal_due.astimezone(tz).isoformat(),
        )
    appeal = Appeal(
        rating_id=rating_id, contract_id=rating.contract_id, reason=text, filed_by=actor.name, filed_at=moment
    )
    session.add(appeal)
    session.flush()
    _audit(
        session,
        actor,
        "appeal.file",
        f"appeal:{appeal.id}",
        {"rating": rating_id, "contract": rating.contract_id, "reason": text},
        now,
    )
    return AppealRead.of(appeal, tz)


def decide_appeal(
    session: Session, *, actor: Actor, appeal_id: int, uphold: bool, note: str | None = None, now: Clock = utcnow
) -> AppealRead:
    """The bureau upholds an appeal (the rating stops counting; its open ticket is withdrawn) or rejects it."""
    require(actor, "ratings.decide")
    tz = _zone(session)
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:
        raise _not_found("appeal", appeal_id, "appeal")
    if appeal.status != "pending":
        raise Conflict("appeal {id} was already decided: {status}", id=appeal_id, status=appeal.status)
    moment = now()
    appeal.status = "upheld" if uphold else "rejected"
    appeal.decided_by, appeal.decided_at, appeal.note = actor.name, moment, parse_text(note, "note") or None
    session.add(appeal)
    withdrawn = None
    if uphold:
        rating = _rating(session, appeal.rating_id)
        rating.excluded = True
        session.add(rating)
        ticket = session.exec(select(Ticket).where(Ticket.rating_id == rating.id)).first()
        if ticket is not None and ticket.status == "open":
            ticket.status = "withdrawn"
            session.add(ticket)
            withdrawn = ticket.id
    session.flush()
    _audit(
        session,
        actor,
        f"appeal.{'uphold' if uphold else 'reject'}",
        f"appeal:{appeal.id}",
        {
            "rating": appeal.rating_id,
            "contract": appeal.contract_id,
            "note": appeal.note,
            "ticket_withdrawn": withdrawn,
        },
        now,
    )
    return AppealRead.of(appeal, tz)


# ---------------------------------------------------------------------------- tickets


def list_tickets(
    session: Session, *, actor: Actor, overdue: bool = False, contract_id: str | None = None, now: Clock = utcnow
) -> list[TicketRead]:
    """Rectification tickets the actor may see (an operator its own, a department its own); `overdue`: open
    tickets past their due time."""
    require(actor, "tickets.read")
    tz = _zone(session)
    moment = _now(now)
    query = select(Ticket).order_by(Ticket.due_at, Ticket.id)
    if (op := operator_scope(actor)) is not None:
        query = query.where(Ticket.operator_id == op)
    if (dept := department_scope(actor)) is not None:
        query = query.where(Ticket.department_id == dept)
    if contract_id is not None:
        query = query.where(Ticket.contract_id == contract_id)
    if overdue:
        query = query.where(Ticket.status == "open", Ticket.due_at <= moment)
    return [TicketRead.of(row, tz, moment) for row in session.exec(query)]


def answer_ticket(session: Session, *, actor: Actor, ticket_id: int, text: str, now: Clock = utcnow) -> TicketRead:
    """The operator answers a rectification ticket (once)."""
    require(actor, "tickets.answer")
    tz = _zone(session)
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise _not_found("ticket", ticket_id, "ticket")
    require_operator(actor, ticket.operator_id)
    answer = parse_text(text, "text", required=True)
    if ticket.status != "open":
        raise Conflict("ticket {id} is {status}, not open", id=ticket_id, status=ticket.status)
    moment = _now(now)
    ticket.status, ticket.answer, ticket.answered_by, ticket.answered_at = "answered", answer, actor.name, moment
    session.add(ticket)
    session.flush()
    _audit(
        session,
        actor,
        "ticket.answer",
        f"ticket:{ticket.id}",
        {"rating": ticket.rating_id, "contract": ticket.contract_id, "late": moment >= ticket.due_at, "answer": answer},
        now,
    )
    return TicketRead.of(ticket, tz, moment)
