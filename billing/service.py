"""Bill runs, four-eyes approval and payment, late-usage corrections, listing and exports (docs/reference.md#contracts-and-bills, #formulas, #interfaces).

Every function takes the session and the acting user; it may flush, never commit: a bill run is one
transaction, so a failure part-way leaves no bill half-written.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from billing import usage
from billing.metrics import RUN_SECONDS
from billing.models import (
    LOCKED_STATUSES,
    ZERO,
    Bill,
    BillAllocation,
    BillFlag,
    BillLine,
    BillStatus,
    BillSummary,
    bill_id,
    summary_of,
)
from billing.rating import BillInputs, CorrectionInput, Line, UsageInput, correction_line, exact, rate_bill
from core import audit
from core.clock import Clock, utcnow
from core.errors import Conflict, Forbidden, InvalidInput, NotFound, problem
from core.i18n import register, t
from core.periods import Period
from core.settings import get_settings
from core.validation import free_text
from metering.store import ingest_barrier
from sla.availability import Interval, subtract
from sla.evaluation import score_for
from sla.inputs import availability_for, sla_inputs_changed_at
from tenants.contracts import ContractSpec
from tenants.models import Contract, Operator
from tenants.permissions import Actor, require
from tenants.service import contract_spec, province_zone

register(
    {
        "bill": "账单",
        "bill {id} is {status}, not {expected}: it cannot be moved on by {action}": "账单 {id} 的状态为 {status}，不是 {expected}：不能执行 {action}",
        "four eyes: {name} ran the bills of {period} and may not also {action} them": "四眼原则：{name} 运行了 {period} 的账单计算，不能再{action}",
        "bill {id} is stale: {reason}; run the bills again": "账单 {id} 已过期：{reason}；请重新运行账单计算",
        "usage of its period changed after it was computed": "计算后本期用量发生了变化",
        "outages, maintenance or ratings of its period changed after it was computed": "计算后本期的故障、维护或评价发生了变化",
        "the contract's terms changed after it was computed": "计算后合同条款发生了变化",
        "an earlier bill of the contract was approved after it was computed": "计算后该合同更早的账单已被审批",
        "bill {id} is provisional (computed before its period ended); run the bills again after the period": "账单 {id} 为临时账单（在期间结束前计算）；请在期间结束后重新运行账单计算",
        "bill {id} needs review ({flags}); approve with --override REASON": "账单 {id} 需要复核（{flags}）；请使用 --override 原因 审批",
        "an override reason cannot be empty": "复核说明不能为空",
        "four eyes: {name} approved bill {id} and may not also pay it; another finance user pays": "四眼原则：{name} 审批了账单 {id}，不能再支付；请由另一名财务用户支付",
        "reference: a payment reference (付款凭证号) is required": "reference：付款凭证号为必填项",
        "reference: the payment reference is longer than {max} characters": "reference：付款凭证号超过 {max} 个字符",
        "reference: the payment reference contains a control character": "reference：付款凭证号含有控制字符",
        "date: a payment date (付款日期, YYYY-MM-DD) is required": "date：付款日期（YYYY-MM-DD）为必填项",
        "date: {value!r} is not a date (YYYY-MM-DD)": "date：{value!r} 不是有效日期（YYYY-MM-DD）",
        "date: the payment date must lie in the years 2000-2099, got {date}": "date：付款日期须在 2000-2099 年之间，实际为 {date}",
        "date: the payment date {date} is before the bill's period {period}": "date：付款日期 {date} 早于账单期间 {period}",
        "date: the payment date {date} is in the future (today is {today})": "date：付款日期 {date} 晚于今天（{today}）",
    }
)

#: Bill runs hold the ingest barrier, so every event a bill did not see was received after it was
#: computed. Late usage is nevertheless looked for this far back (belt and braces: the check that
#: follows is exact, this only decides which earlier periods are re-rated).
LATE_SLACK = timedelta(hours=1)


# ---------------------------------------------------------------------------- helpers


def terms_hash(contract: Contract) -> str:
    """A digest of a contract's stored terms (a draft computed under other terms is stale)."""
    return hashlib.sha256(contract.terms.encode("utf-8")).hexdigest()


def _get_bill(session: Session, id_: str) -> Bill:
    bill = session.get(Bill, id_)
    if bill is None:
        raise NotFound("{kind} not found: {id}", kind="bill", id=id_)
    return bill


@dataclass(frozen=True)
class PricingMap:
    """Which contract prices which (cloud, meter) over which time windows, and which contracts cover
    each cloud when (docs/reference.md#usage-charges: unpriced usage)."""

    windows: Mapping[tuple[str, str], list[tuple[str, Interval]]]
    covering: Mapping[str, list[tuple[str, Interval]]]

    @classmethod
    def build(cls, contracts: Iterable[ContractSpec], tz: ZoneInfo, lo: datetime, hi: datetime) -> PricingMap:
        windows: dict[tuple[str, str], list[tuple[str, Interval]]] = defaultdict(list)
        covering: dict[str, list[tuple[str, Interval]]] = defaultdict(list)
        for c in contracts:
            start, end = c.term_window(tz, lo, hi)
            if start >= end:
                continue
            for cloud in c.clouds:
                covering[cloud].append((c.id, (start, end)))
                for price in c.prices:
                    windows[(cloud, price.meter)].append((c.id, (start, end)))
        return cls(windows, covering)

    def unpriced(self, cloud: str, meter: str, lo: datetime, hi: datetime) -> list[Interval]:
        """The parts of `[lo, hi)` where no contract prices `meter` on `cloud`."""
        return subtract([(lo, hi)], [w for _, w in self.windows.get((cloud, meter), [])])

    def unpriced_for(self, contract_id: str, cloud: str, meter: str, lo: datetime, hi: datetime) -> list[Interval]:
        """The parts of `[lo, hi)` whose unpriced usage of `meter` on `cloud` the contract lists: where no
        contract prices it and no contract with a lower id is active on the cloud (docs/reference.md#usage-charges: once per
        cloud and meter, on the first contract by id active on that cloud)."""
        earlier = [w for cid, w in self.covering.get(cloud, []) if cid < contract_id]
        return subtract(self.unpriced(cloud, meter, lo, hi), earlier)


def _by_cloud(totals: usage.Totals) -> dict[str, list[tuple[str, str, Decimal, int]]]:
    """Usage totals grouped by cloud: (meter, department, quantity, count) rows."""
    out: dict[str, list[tuple[str, str, Decimal, int]]] = defaultdict(list)
    for (cloud, meter, dept), (qty, n) in totals.items():
        out[cloud].append((meter, dept, qty, n))
    return out


def _usage_inputs(
    session: Session,
    c: ContractSpec,
    window: Interval,
    pricing: PricingMap,
    totals: Mapping[str, list[tuple[str, str, Decimal, int]]] | None,
) -> tuple[list[UsageInput], int]:
    """Usage of the contract in `window` by meter and department, priced or unpriced, and its event count.

    `totals` are the period's sums over all clouds by cloud (reused when the window is the whole period).
    """
    lo, hi = window
    if lo >= hi:
        return [], 0
    clouds = sorted(c.clouds)
    by_cloud = totals if totals is not None else _by_cloud(usage.totals(session, lo, hi, clouds=clouds))
    priced = {p.meter for p in c.prices}
    quantities: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    count = 0
    partial: set[tuple[str, str, tuple[Interval, ...]]] = set()  # unpriced on part of the window only
    for cloud in clouds:
        gaps: dict[str, list[Interval]] = {}
        for meter, dept, qty, n in by_cloud.get(cloud, ()):
            count += n
            if meter not in priced:
                if meter not in gaps:
                    gaps[meter] = pricing.unpriced_for(c.id, cloud, meter, lo, hi)
                if gaps[meter] != [(lo, hi)]:
                    if gaps[meter]:
                        partial.add((cloud, meter, tuple(gaps[meter])))
                    continue
            quantities[meter][dept] += qty
    for cloud, meter, parts in sorted(partial):
        for g_lo, g_hi in parts:
            for (_, m, dept), (qty, _n) in usage.totals(session, g_lo, g_hi, clouds=[cloud], meter=meter).items():
                quantities[m][dept] += qty
    inputs = [
        UsageInput(meter, c.price_for(meter), {d: q for d, q in sorted(by_dept.items())})
        for meter, by_dept in sorted(quantities.items())
    ]
    return inputs, count


# ---------------------------------------------------------------------------- corrections (docs/reference.md#late-usage)


def _billed(session: Session, contract_id: str) -> dict[tuple[str, str], tuple[Decimal, dict[str, Decimal]]]:
    """What approved and paid bills billed per (period, meter): amount and quantity per department."""
    out: dict[tuple[str, str], tuple[Decimal, dict[str, Decimal]]] = {}
    rows = session.execute(
        sa_select(
            col(Bill.period),
            col(BillLine.kind),
            col(BillLine.meter),
            col(BillLine.period),
            col(BillLine.amount),
            col(BillLine.seq),
            col(BillLine.bill_id),
        )
        .join(BillLine, col(BillLine.bill_id) == Bill.id)
        .where(
            col(Bill.contract_id) == contract_id,
            col(Bill.status).in_(LOCKED_STATUSES),
            col(BillLine.kind).in_(("usage", "unpriced", "correction")),
        )
    )
    lines = list(rows)
    allocations: dict[tuple[str, int], list[tuple[str, Decimal]]] = defaultdict(list)
    if lines:
        for a in session.exec(
            select(BillAllocation).where(col(BillAllocation.bill_id).in_(sorted({r[6] for r in lines})))
        ):
            allocations[(a.bill_id, a.seq)].append((a.department_id, a.quantity))
    for bill_period, kind, meter, line_period, amount, seq, line_bill in lines:
        key = (line_period if kind == "correction" else bill_period, meter)
        total, by_dept = out.get(key, (ZERO, {}))
        by_dept = dict(by_dept)
        for dept, qty in allocations[(line_bill, seq)]:
            by_dept[dept] = by_dept.get(dept, Decimal(0)) + qty
        out[key] = (total + amount, by_dept)
    return out


def _corrections(
    session: Session, c: ContractSpec, period: Period, tz: ZoneInfo, pricing_for: Any
) -> list[CorrectionInput]:
    """Late usage of earlier periods with approved or paid bills, re-rated minus what was billed."""
    earlier = session.execute(
        sa_select(col(Bill.period), col(Bill.computed_at)).where(
            col(Bill.contract_id) == c.id, col(Bill.status).in_(LOCKED_STATUSES), col(Bill.period) < str(period)
        )
    ).all()
    if not earlier:
        return []
    candidates = []
    for p_text, computed_at in sorted(earlier):
        p = Period.parse(p_text)
        window = c.term_window(tz, *p.bounds(tz))
        if window[0] < window[1] and usage.received_since(
            session, sorted(c.clouds), *window, since=computed_at - LATE_SLACK
        ):
            candidates.append((p, window))
    if not candidates:
        return []
    billed = _billed(session, c.id)
    out: list[CorrectionInput] = []
    for p, window in candidates:
        inputs, _ = _usage_inputs(session, c, window, pricing_for(p), None)
        now_by_meter = {u.meter: u for u in inputs}
        meters = set(now_by_meter) | {m for (bp, m) in billed if bp == str(p) and m is not None}
        for meter in sorted(meters):
            current = dict(now_by_meter[meter].quantities) if meter in now_by_meter else {}
            amount, billed_q = billed.get((str(p), meter), (ZERO, {}))
            late = {d: q - billed_q.get(d, Decimal(0)) for d, q in current.items()}
            late = {d: q for d, q in late.items() if q > 0}
            out.append(
                CorrectionInput(
                    period=str(p),
                    meter=meter,
                    price=c.price_for(meter),
                    quantity_now=sum(current.values(), Decimal(0)),
                    billed=amount,
                    late=late,
                )
            )
    return out


# ---------------------------------------------------------------------------- the bill run


@dataclass(frozen=True)
class RunResult:
    """What a bill run did: every bill of the period, with the locked ones marked."""

    period: str
    provisional: bool
    bills: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period, "provisional": self.provisional, "bills": self.bills}


@RUN_SECONDS.time()
@exact  # sums of quantities in the exact decimal context too
def run_bills(
    session: Session,
    *,
    actor: Actor,
    period: str | Period,
    now: Clock = utcnow,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Compute a draft for every contract active in the period (and corrections-only bills), replacing drafts.

    Approved and paid bills are left untouched and reported as locked (docs/reference.md#contracts-and-bills, #formulas).
    `progress(done, total)`: called as the run goes — after the period's usage is summed, after each
    contract, and when the bills are stored (`done == total`).
    """
    report = progress or (lambda _done, _total: None)
    require(actor, "bills.run")
    p = period if isinstance(period, Period) else Period.parse(period)
    tz = province_zone(session)
    lo, hi = p.bounds(tz)
    # Hold usage ingest off, then read the clock: every event received before `moment` is visible to
    # this run and every event it does not see is received after it (late usage, docs/reference.md#late-usage).
    ingest_barrier(session)
    moment = now()

    contracts = {row.id: row for row in session.exec(select(Contract).order_by(Contract.id))}
    specs = {cid: contract_spec(row) for cid, row in contracts.items()}
    active = [s for s in specs.values() if s.start <= p.last_day and s.end >= p.first_day]
    pricing = PricingMap.build(active, tz, lo, hi)
    pricing_cache: dict[Period, PricingMap] = {p: pricing}

    def pricing_for(q: Period) -> PricingMap:
        if q not in pricing_cache:
            q_specs = [s for s in specs.values() if s.start <= q.last_day and s.end >= q.first_day]
            pricing_cache[q] = PricingMap.build(q_specs, tz, *q.bounds(tz))
        return pricing_cache[q]

    ended = [s for s in specs.values() if s.end < p.first_day]
    stamps = {s.id: sla_inputs_changed_at(session, s.id, p) for s in active}
    provisional = moment < hi
    through = moment.astimezone(tz).date() if provisional else None
    existing = {b.id: b for b in session.exec(select(Bill).where(Bill.period == str(p)))}
    locked = {i for i, b in existing.items() if b.status in LOCKED_STATUSES}
    drafts = sorted(i for i in existing if i not in locked)
    if drafts:
        for table in (BillAllocation, BillLine):
            session.execute(delete(table).where(col(table.bill_id).in_(drafts)))
        session.execute(delete(Bill).where(col(Bill.id).in_(drafts)))
    candidates = sorted(active + ended, key=lambda s: s.id)
    steps = len(candidates) + 2  # the usage sums, each contract, storing
    report(0, steps)
    totals = _by_cloud(usage.totals(session, lo, hi)) if active else {}
    report(1, steps)
    operators = {o.id: o.name for o in session.exec(select(Operator))}
    results: list[dict[str, Any]] = []
    rated_bills: list[tuple[Bill, Sequence[Line]]] = []
    for done, spec in enumerate(candidates, start=1):
        if done > 1:
            report(done, steps)  # the contracts before this one are rated
        id_ = bill_id(spec.id, str(p))
        if id_ in locked:
            results.append({"id": id_, "contract": spec.id, "status": existing[id_].status, "locked": True})
            continue
        is_active = spec in active
        corrections = _corrections(session, spec, p, tz, pricing_for)
        if not is_active and not any(correction_line(x) is not None for x in corrections):
            continue
        window = spec.term_window(tz, lo, hi)
        usage_inputs, seen = (
            _usage_inputs(session, spec, window, pricing, totals if window == (lo, hi) else None)
            if is_active
            else ([], 0)
        )
        availability = insufficient = None
        if is_active and spec.sla is not None:
            result = availability_for(session, spec.id, p, now=now)
            availability, insufficient = result.availability, result.insufficient
        score = score_for(session, spec.id, p) if is_active else None
        rated = rate_bill(
            BillInputs(
                contract=spec,
                period=p,
                active=is_active,
                annual_through=through,
                usage=usage_inputs,
                availability=availability,
                availability_insufficient=bool(insufficient),
                score=score.score if score else None,
                rating_count=score.count if score else 0,
                corrections=corrections,
            )
        )
        flags = set(rated.flags) | ({BillFlag.PROVISIONAL} if provisional else set())
        rated_bills.append(
            (
                Bill(
                    id=id_,
                    contract_id=spec.id,
                    period=str(p),
                    operator_id=spec.operator,
                    currency=spec.currency,
                    status=BillStatus.DRAFT,
                    flags=",".join(sorted(flags)),
                    availability=availability,
                    score=score.score if score and score.count else None,
                    base=rated.base,
                    sla_credit=rated.sla_credit,
                    evaluation_deduction=rated.evaluation_deduction,
                    cap_adjustment=rated.cap_adjustment,
                    corrections=rated.corrections,
                    payable=rated.payable,
                    computed_at=moment,
                    run_by=actor.name,
                    events_seen=seen,
                    terms_hash=terms_hash(contracts[spec.id]),
                    sla_stamp=stamps.get(spec.id),
                ),
                rated.lines,
            )
        )
        results.append(
            {
                "id": id_,
                "contract": spec.id,
                "status": BillStatus.DRAFT,
                "locked": False,
                "operator": operators.get(spec.operator, spec.operator),
                "payable": rated.payable,
            }
        )
    report(steps - 1, steps)
    _store(session, rated_bills)
    report(steps, steps)
    audit.append(
        session,
        actor=actor.name,
        action="bills.run",
        entity=f"period:{p}",
        payload={
            "provisional": provisional,
            "drafts": [r["id"] for r in results if not r["locked"]],
            "locked": [r["id"] for r in results if r["locked"]],
        },
        now=now,
    )
    return RunResult(
        period=str(p),
        provisional=provisional,
        bills=[{k: r[k] for k in ("id", "contract", "status", "locked")} for r in results],
    )


def _store(session: Session, rated: Sequence[tuple[Bill, Sequence[Line]]]) -> None:
    """Insert bills, their lines and their allocations (Core bulk inserts: province-scale bills)."""
    session.add_all([bill for bill, _ in rated])
    session.flush()
    line_rows = [
        {
            "bill_id": bill.id,
            "seq": seq,
            "kind": ln.kind,
            "meter": ln.meter,
            "quantity": ln.quantity,
            "unit_price": ln.unit_price,
            "amount": ln.amount,
            "period": ln.period,
        }
        for bill, lines in rated
        for seq, ln in enumerate(lines, start=1)
    ]
    if line_rows:
        session.execute(insert(BillLine.__table__), line_rows)  # type: ignore[attr-defined]
    alloc_rows = [
        {"bill_id": bill.id, "seq": seq, "department_id": a.department, "quantity": a.quantity, "amount": a.amount}
        for bill, lines in rated
        for seq, ln in enumerate(lines, start=1)
        for a in (ln.allocations or ())
    ]
    if alloc_rows:
        session.execute(insert(BillAllocation.__table__), alloc_rows)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- staleness, approval, payment


def stale_reason(session: Session, bill: Bill, counts: dict[Interval, dict[str, int]] | None = None) -> str | None:
    """Why a draft no longer matches its inputs (docs/reference.md#contracts-and-bills), or None when it is current.

    `counts` caches event counts by cloud per window, so that listing many drafts counts each window once.
    """
    contract = session.get(Contract, bill.contract_id)
    if contract is None or terms_hash(contract) != bill.terms_hash:
        return "the contract's terms changed after it was computed"
    spec = contract_spec(contract)
    tz = province_zone(session)
    p = Period.parse(bill.period)
    lo, hi = spec.term_window(tz, *p.bounds(tz))
    clouds = sorted(spec.clouds)
    term_lo, _ = spec.term_bounds(tz)
    if usage.received_since(session, clouds, term_lo, max(lo, hi), since=bill.computed_at):
        return "usage of its period changed after it was computed"
    if lo < hi:
        cache = {} if counts is None else counts
        if (lo, hi) not in cache:
            cache[(lo, hi)] = usage.counts_by_cloud(session, lo, hi)
        if sum(cache[(lo, hi)].get(cloud, 0) for cloud in clouds) != bill.events_seen:
            return "usage of its period changed after it was computed"
    if _sla_changed(sla_inputs_changed_at(session, bill.contract_id, p), bill.sla_stamp):
        return "outages, maintenance or ratings of its period changed after it was computed"
    later_approval = session.exec(
        select(Bill.id).where(
            Bill.contract_id == bill.contract_id,
            Bill.period < bill.period,
            col(Bill.status).in_(LOCKED_STATUSES),
            col(Bill.approved_at) > bill.computed_at,
        )
    ).first()
    if later_approval is not None:
        return "an earlier bill of the contract was approved after it was computed"
    return None


def _sla_changed(current: datetime | None, at_run: datetime | None) -> bool:
    """Whether the SLA inputs changed since the run: their latest change stamp is not the one the run saw."""
    return current is not None and current != at_run


def _for_transition(
    session: Session, actor: Actor, id: str, capability: str, expected: BillStatus, action: str
) -> Bill:
    """The bill, once the actor may move it on: finance, the expected status, four eyes (docs/reference.md#contracts-and-bills)."""
    require(actor, capability)
    bill = _get_bill(session, id)
    if bill.status != expected:
        raise Conflict(
            "bill {id} is {status}, not {expected}: it cannot be moved on by {action}",
            id=id,
            status=bill.status,
            expected=expected,
            action=action,
        )
    if actor.name == bill.run_by:
        raise Forbidden(
            "four eyes: {name} ran the bills of {period} and may not also {action} them",
            name=actor.name,
            period=bill.period,
            action=action,
        )
    return bill


def approve_bill(
    session: Session, *, actor: Actor, id: str, override: str | None = None, now: Clock = utcnow
) -> BillSummary:
    """draft → approved: finance, not the user who ran the bills, not stale, provisional or unreviewed."""
    bill = _for_transition(session, actor, id, "bills.approve", BillStatus.DRAFT, "approve")
    if BillFlag.PROVISIONAL in bill.flag_list:
        raise Conflict(
            "bill {id} is provisional (computed before its period ended); run the bills again after the period", id=id
        )
    reason = stale_reason(session, bill)
    if reason is not None:
        raise Conflict("bill {id} is stale: {reason}; run the bills again", id=id, reason=t(reason))
    if override is not None:
        override = free_text(override, "override")  # docs/reference.md#free-text
    if override is not None and not override:
        raise InvalidInput("an override reason cannot be empty")
    review = [f for f in bill.flag_list if f == BillFlag.NEEDS_REVIEW]
    if review and override is None:
        raise Conflict(
            "bill {id} needs review ({flags}); approve with --override REASON", id=id, flags=", ".join(review)
        )
    moment = now()
    bill.status, bill.approved_by, bill.approved_at = BillStatus.APPROVED, actor.name, moment
    bill.override_reason = override or None
    session.add(bill)
    session.flush()
    audit.append(
        session,
        actor=actor.name,
        action="bills.approve",
        entity=f"bill:{id}",
        payload={"payable": bill.payable, "flags": bill.flag_list, "override": bill.override_reason},
        now=now,
    )
    return summary_of(bill, stale=False)


#: A payment reference's limit, as stored (billing.models.Bill.payment_reference).
MAX_REFERENCE = 64
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _bad_payment(field: str, template: str, **params: Any) -> InvalidInput:
    """An InvalidInput about one field of a payment; the message and the problem's path name it."""
    return InvalidInput(template, problems=[problem(template, path=field, **params)], **params)


def payment_reference(value: str | None) -> str:
    """The payment voucher number (付款凭证号): trimmed, not empty, at most 64 characters, no control
    characters, line breaks or lone surrogates (docs/reference.md#contracts-and-bills)."""
    text = (value or "").strip()
    if not text:
        raise _bad_payment("reference", "reference: a payment reference (付款凭证号) is required")
    if len(text) > MAX_REFERENCE:
        raise _bad_payment(
            "reference", "reference: the payment reference is longer than {max} characters", max=MAX_REFERENCE
        )
    if any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in text):  # lone surrogates cannot be stored
        raise _bad_payment("reference", "reference: the payment reference contains a control character")
    return text


def payment_date(value: str | date | None, *, period: str, today: date) -> date:
    """The payment date (付款日期): a real `YYYY-MM-DD` day in 2000–2099, not before the first day of the
    bill's period and not after today in the province (docs/reference.md#contracts-and-bills)."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        day = value
    else:
        text = (value or "").strip()
        if not text:
            raise _bad_payment("date", "date: a payment date (付款日期, YYYY-MM-DD) is required")
        try:
            if not _DAY.fullmatch(text):
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            raise _bad_payment("date", "date: {value!r} is not a date (YYYY-MM-DD)", value=text) from None
    if not 2000 <= day.year <= 2099:
        raise _bad_payment(
            "date", "date: the payment date must lie in the years 2000-2099, got {date}", date=day.isoformat()
        )
    if day < Period.parse(period).first_day:
        raise _bad_payment(
            "date",
            "date: the payment date {date} is before the bill's period {period}",
            date=day.isoformat(),
            period=period,
        )
    if day > today:
        raise _bad_payment(
            "date",
            "date: the payment date {date} is in the future (today is {today})",
            date=day.isoformat(),
            today=today.isoformat(),
        )
    return day


def pay_bill(
    session: Session,
    *,
    actor: Actor,
    id: str,
    reference: str | None = None,
    date: str | date | None = None,
    now: Clock = utcnow,
) -> BillSummary:
    """approved → paid: finance, not the user who ran the bills, nor (unless the province's setting
    `ZHENGYUN_APPROVER_MAY_PAY` allows it) the one who approved it; with the payment's reference and date
    (docs/reference.md#four-eyes, #contracts-and-bills)."""
    bill = _for_transition(session, actor, id, "bills.pay", BillStatus.APPROVED, "pay")
    if actor.name == bill.approved_by and not get_settings().approver_may_pay:
        raise Forbidden(
            "four eyes: {name} approved bill {id} and may not also pay it; another finance user pays",
            name=actor.name,
            id=id,
        )
    moment = now()
    voucher = payment_reference(reference)
    day = payment_date(date, period=bill.period, today=moment.astimezone(province_zone(session)).date())
    bill.status, bill.paid_by, bill.paid_at = BillStatus.PAID, actor.name, moment
    bill.payment_reference, bill.payment_date = voucher, day
    session.add(bill)
    session.flush()
    audit.append(
        session,
        actor=actor.name,
        action="bills.pay",
        entity=f"bill:{id}",
        payload={"payable": bill.payable, "reference": voucher, "date": day.isoformat()},
        now=now,
    )
    return summary_of(bill, stale=False)


__all__ = [
    "approve_bill",
    "pay_bill",
    "payment_date",
    "payment_reference",
    "run_bills",
    "stale_reason",
]
