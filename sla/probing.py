"""Probes (docs/reference.md#sla): run every probe of the contracts in force, store each check, and open and close the
probe outages a majority of vantage points confirms. Functions may flush, never commit."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from core.clock import Clock, utcnow
from core.errors import InvalidInput, problem
from core.i18n import register, t
from sla.common import floored_now, readable_contract, record_audit
from sla.models import CheckRead, Outage, OutageRead, OutageSource, ProbeCheck
from sla.probes import CheckResult, Prober, is_reserved_host, network_prober, probe_host
from tenants.contracts import ContractSpec, Probe
from tenants.models import Contract
from tenants.permissions import Actor, require
from tenants.service import contract_spec, province_zone, scoped_contracts

register(
    {
        "reserved example host, never contacted": "保留的示例主机，从不访问",
        "probe {probe} is not declared by contract {contract}": "合同 {contract} 未声明探测 {probe}",
        "check times need an offset": "探测时间须带时区偏移",
        "only --once is supported here; `zhengyun serve` runs the probes every interval": "此处只支持 --once；`zhengyun serve` 会按间隔定期运行探测",
    }
)


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


def _last_checks(session: Session, contract_ids: list[str], vantage: str) -> dict[tuple[str, str], datetime]:
    """The time of the latest check of each probe of these contracts from `vantage`."""
    if not contract_ids:
        return {}
    rows = session.exec(
        select(ProbeCheck.contract_id, ProbeCheck.probe, func.max(ProbeCheck.time))
        .where(col(ProbeCheck.contract_id).in_(contract_ids), ProbeCheck.vantage == vantage)
        .group_by(col(ProbeCheck.contract_id), col(ProbeCheck.probe))
    )
    out: dict[tuple[str, str], datetime] = {}
    for contract, probe, moment in rows:
        if moment is not None:
            out[(contract, probe)] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return out


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
    due_only: bool = False,
) -> ProbeRun:
    """Run every probe of the contracts in force once, store each check, open and close probe outages.

    An operator runs only its own contracts' probes. Probes aimed at reserved example hosts are
    skipped: they are never contacted (docs/reference.md#the-network). With `due_only` (the scheduler), a probe checked from
    this vantage point less than its `interval_s` ago is left for a later run.
    """
    require(actor, "probes.run")
    tz = province_zone(session)
    moment = floored_now(now)
    vantage = (vantage or default_vantage())[:64]
    today = moment.astimezone(tz).date()
    if contract_id is not None:
        contracts = [readable_contract(session, contract_id, "probes.run", actor=actor)]
        contracts = [c for c in contracts if c.active_on(today)]
    else:
        in_force = select(Contract).where(col(Contract.start) <= today, col(Contract.end) >= today)
        contracts = [
            contract_spec(c) for c in session.exec(scoped_contracts(in_force, actor=actor).order_by(Contract.id))
        ]
    run = ProbeRun(vantage=vantage, time=moment.astimezone(tz))
    targets: list[tuple[ContractSpec, Probe]] = []
    last = _last_checks(session, [c.id for c in contracts], vantage) if due_only else {}
    for spec in contracts:
        for probe in spec.probes:
            previous = last.get((spec.id, probe.name))
            # a second of slack: a run started on the interval must not skip a check that is just due
            if previous is not None and moment < previous + timedelta(seconds=probe.interval_s - 1):
                continue
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


@dataclass(frozen=True)
class RecordedCheck:
    """A check made elsewhere (another monitor, a replayed history) to store as if a probe had run it."""

    contract: str
    probe: str
    time: datetime
    ok: bool
    status: int | None = None
    duration_ms: int = 0
    error: str | None = None
    #: the seconds this check covers (the monitor's own cadence); by default its probe's `interval_s`
    interval_s: int | None = None


def record_checks(
    session: Session, *, actor: Actor, vantage: str, checks: Sequence[RecordedCheck], now: Clock = utcnow
) -> ProbeRun:
    """Store checks made from `vantage` at their own times, then open and close the probe outages they
    imply, as if each check had been run then (docs/sla.md: probes and outages).

    Every contract must be one the actor may run probes for, and every probe one it declares; each
    check covers its own `interval_s`, by default its probe's. One audit entry for the batch, one per outage.
    """
    require(actor, "probes.run")
    tz = province_zone(session)
    vantage = vantage[:64]
    specs: dict[str, ContractSpec] = {}
    probes: dict[tuple[str, str], Probe] = {}
    for check in checks:
        if check.contract not in specs:
            specs[check.contract] = readable_contract(session, check.contract, "probes.run", actor=actor)
        key = (check.contract, check.probe)
        if key not in probes:
            found = next((p for p in specs[check.contract].probes if p.name == check.probe), None)
            if found is None:
                template = "probe {probe} is not declared by contract {contract}"
                raise InvalidInput(
                    template,
                    problems=[problem(template, path="probe", probe=check.probe, contract=check.contract)],
                    probe=check.probe,
                    contract=check.contract,
                )
            probes[key] = found
        if check.time.tzinfo is None:
            raise InvalidInput(
                "check times need an offset", problems=[problem("check times need an offset", path="time")]
            )
    run = ProbeRun(vantage=vantage, time=floored_now(now).astimezone(tz))
    if not checks:
        return run
    ordered = sorted(checks, key=lambda c: (c.contract, c.probe, c.time))
    session.execute(
        insert(ProbeCheck),
        [
            {
                "contract_id": c.contract,
                "probe": c.probe,
                "vantage": vantage,
                "time": c.time.replace(microsecond=0),
                "interval_s": c.interval_s or probes[(c.contract, c.probe)].interval_s,
                "ok": c.ok,
                "status": c.status,
                "duration_ms": c.duration_ms,
                "error": (c.error or None) and c.error[:500],
            }
            for c in ordered
        ],
    )
    session.flush()
    # the outage state of a probe can change only where its recent outcomes differ: evaluate it there
    # (and at the last check), not at each of thousands of checks. The first `confirm` checks are
    # always evaluated: their window reaches back before the batch, to checks stored earlier (or to
    # none), so a batch that starts failing must open its outage there, before any success closes it
    for (contract, name), probe in probes.items():
        series = [c for c in ordered if c.contract == contract and c.probe == name]
        for i, check in enumerate(series):
            recent = {c.ok for c in series[max(0, i - probe.confirm) : i + 1]}
            if len(recent) > 1 or i < probe.confirm or i == len(series) - 1:
                moment = check.time.replace(microsecond=0)
                opened, closed = _track_probe_outage(session, actor, contract, probe, moment, now)
                if opened is not None:
                    run.opened.append(OutageRead.of(opened, tz))
                if closed is not None:
                    run.closed.append(OutageRead.of(closed, tz))
    record_audit(
        session,
        "probe.checks.record",
        f"vantage:{vantage}",
        {
            "checks": len(ordered),
            "contracts": sorted(specs),
            "from": min(c.time for c in ordered),
            "to": max(c.time for c in ordered),
        },
        actor=actor,
        now=now,
    )
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
            record_audit(
                session,
                "outage.close",
                f"outage:{outage.id}",
                {
                    "contract": outage.contract_id,
                    "probe": outage.probe,
                    "start": outage.start,
                    "end": outage.end,
                    "reason": "probe no longer declared",
                },
                actor=actor,
                now=now,
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
    """Open or close the probe's outage from the latest checks of every vantage point (docs/reference.md#sla).

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
            source=OutageSource.PROBE,
            probe=probe.name,
            note=f"probe {probe.name}: {last_error or 'failed'}"[:2000],
            created_by=actor.name,
            created_at=now(),
            updated_at=now(),
        )
        session.add(outage)
        session.flush()
        record_audit(
            session,
            "outage.open",
            f"outage:{outage.id}",
            {"contract": contract_id, "probe": probe.name, "start": outage.start, "vantages": vantages},
            actor=actor,
            now=now,
        )
        return outage, None
    if current is not None and len(recovered) >= len(vantages) - need + 1:
        start = current.start
        current.end = sorted(max(r, start) for r in recovered)[len(vantages) - need]
        current.updated_at = now()
        session.add(current)
        session.flush()
        record_audit(
            session,
            "outage.close",
            f"outage:{current.id}",
            {"contract": contract_id, "probe": probe.name, "start": start, "end": current.end},
            actor=actor,
            now=now,
        )
        return None, current
    return None, None
