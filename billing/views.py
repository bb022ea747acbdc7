"""Reading bills: listing, showing and exporting them, scoped to what the acting user may see (docs/reference.md#roles, #a-departments-bill,
#command-line, #exports). The one scoping helper of billing is `_visible`: an operator its own contracts' bills, a
department the bills it has a share of — and a department gets a shape of its own (`BillShare`, `ShareSummary`):
the header without amounts and its own shares, never a bill's or a line's total."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

from sqlalchemy import and_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from billing.exports import Account, bills_csv, bills_focus, bills_json
from billing.models import (
    ZERO,
    Bill,
    BillAllocation,
    BillLine,
    BillRead,
    BillShare,
    BillStatus,
    BillSummary,
    Share,
    ShareSummary,
    bill_id,
    department_flags,
    summary_of,
)
from billing.rating import Allocation, Line
from billing.service import stale_reason
from core.errors import InvalidInput, NotFound
from core.periods import Period
from sla.availability import Interval
from tenants.models import Contract, Meter, Operator
from tenants.permissions import Actor, department_scope, operator_scope, require
from tenants.service import contract_spec, get_province


def _visible(session: Session, actor: Actor, period: str | None, contract_id: str | None) -> list[Bill]:
    """The bills the actor may see: an operator its own contracts', a department those it has a share of."""
    require(actor, "bills.read")
    query = select(Bill)
    if period is not None:
        query = query.where(Bill.period == str(Period.parse(period)))
    if contract_id is not None:
        query = query.where(Bill.contract_id == contract_id)
    if (op := operator_scope(actor)) is not None:
        query = query.where(Bill.operator_id == op)
    if (dept := department_scope(actor)) is not None:
        shared = sa_select(col(BillAllocation.bill_id)).where(col(BillAllocation.department_id) == dept)
        query = query.where(col(Bill.id).in_(shared))
    return list(session.exec(query.order_by(Bill.contract_id, Bill.period)))


def list_bills(session: Session, *, actor: Actor, period: str | None = None) -> list[BillSummary | ShareSummary]:
    """Bills by contract and period, with whether each draft is stale; for a department, each bill's header
    and its own share, nothing else (docs/reference.md#a-departments-bill)."""
    bills = _visible(session, actor, period, None)
    if (dept := department_scope(actor)) is not None:
        own = _own_shares(session, dept, [b.id for b in bills])
        return [_share_summary(b, dept, own[b.id]) for b in bills]
    counts: dict[Interval, dict[str, int]] = {}
    return [
        summary_of(b, stale=b.status == BillStatus.DRAFT and stale_reason(session, b, counts) is not None)
        for b in bills
    ]


def _own_shares(session: Session, department: str, ids: list[str]) -> dict[str, list[Share]]:
    """A department's own shares of the given bills, by bill, in line order: read from its allocations
    only — a line's total never leaves the query (docs/reference.md#a-departments-bill)."""
    out: dict[str, list[Share]] = defaultdict(list)
    if not ids:
        return out
    query = (
        select(BillAllocation, BillLine)
        .join(BillLine, and_(col(BillLine.bill_id) == BillAllocation.bill_id, col(BillLine.seq) == BillAllocation.seq))
        .where(col(BillAllocation.bill_id).in_(ids), BillAllocation.department_id == department)
        .order_by(col(BillAllocation.bill_id), col(BillAllocation.seq))
    )
    for a, ln in session.exec(query):
        out[a.bill_id].append(Share(ln.kind, ln.meter, a.quantity, ln.unit_price, a.amount, ln.period))
    return out


def _total(shares: list[Share]) -> Decimal:
    return sum((s.amount for s in shares), ZERO)


def _share_summary(bill: Bill, department: str, shares: list[Share]) -> ShareSummary:
    return ShareSummary(
        id=bill.id,
        contract=bill.contract_id,
        operator=bill.operator_id,
        period=bill.period,
        status=bill.status,
        flags=department_flags(bill.flag_list, has_unpriced=any(s.kind == "unpriced" for s in shares)),
        department=department,
        share=_total(shares),
    )


def _described(session: Session, bills: list[Bill]) -> tuple[dict[str, Contract], dict[str, str]]:
    """The contracts of the bills and the operators' names, for the exports."""
    contracts = {
        c.id: c
        for c in session.exec(select(Contract).where(col(Contract.id).in_(sorted({b.contract_id for b in bills}))))
    }
    return contracts, {o.id: o.name for o in session.exec(select(Operator))}


def show_bills(
    session: Session, *, actor: Actor, period: str, contract_id: str | None = None
) -> list[BillRead | BillShare]:
    """Bills of a period with their lines and allocations; a department gets a `BillShare` of each bill it
    has a share of: the header without amounts and only its own shares (docs/reference.md#a-departments-bill)."""
    bills = _visible(session, actor, period, contract_id)
    if contract_id is not None and not bills:
        raise NotFound("{kind} not found: {id}", kind="bill", id=bill_id(contract_id, str(Period.parse(period))))
    contracts, operators = _described(session, bills)
    if (dept := department_scope(actor)) is not None:
        return list(_bill_shares(bills, dept, _own_shares(session, dept, [b.id for b in bills]), contracts, operators))
    ids = [b.id for b in bills]
    lines: dict[str, list[BillLine]] = defaultdict(list)
    allocations: dict[tuple[str, int], list[Allocation]] = defaultdict(list)
    if ids:
        for ln in session.exec(
            select(BillLine).where(col(BillLine.bill_id).in_(ids)).order_by(col(BillLine.bill_id), col(BillLine.seq))
        ):
            lines[ln.bill_id].append(ln)
        query = select(BillAllocation).where(col(BillAllocation.bill_id).in_(ids))
        for a in session.exec(
            query.order_by(col(BillAllocation.bill_id), col(BillAllocation.seq), col(BillAllocation.department_id))
        ):
            allocations[(a.bill_id, a.seq)].append(Allocation(a.department_id, a.quantity, a.amount))
    out: list[BillRead | BillShare] = []
    for b in bills:
        read_lines = [
            Line(
                kind=ln.kind,
                amount=ln.amount,
                meter=ln.meter,
                quantity=ln.quantity,
                unit_price=ln.unit_price,
                period=ln.period,
                allocations=tuple(allocations.get((b.id, ln.seq), ()))
                if ln.kind in ("usage", "unpriced", "correction")
                else None,
            )
            for ln in lines[b.id]
        ]
        contract = contracts.get(b.contract_id)
        out.append(
            BillRead(
                id=b.id,
                contract=b.contract_id,
                operator=b.operator_id,
                period=b.period,
                currency=b.currency,
                status=b.status,
                flags=b.flag_list,
                availability=b.availability,
                score=b.score,
                base=b.base,
                sla_credit=b.sla_credit,
                evaluation_deduction=b.evaluation_deduction,
                cap_adjustment=b.cap_adjustment,
                corrections=b.corrections,
                payable=b.payable,
                lines=read_lines,
                payment_reference=b.payment_reference,
                payment_date=b.payment_date,
                operator_name=operators.get(b.operator_id, b.operator_id),
                service=contract.service if contract else "",
                service_category=contract.service_category if contract else "Other",
                service_subcategory=contract_spec(contract).focus_subcategory if contract else "Other (Other)",
            )
        )
    return out


def _bill_shares(
    bills: list[Bill],
    department: str,
    own: dict[str, list[Share]],
    contracts: dict[str, Contract],
    operators: dict[str, str],
) -> Iterator[BillShare]:
    for b in bills:
        shares = own[b.id]
        contract = contracts.get(b.contract_id)
        yield BillShare(
            id=b.id,
            contract=b.contract_id,
            operator=b.operator_id,
            period=b.period,
            currency=b.currency,
            status=b.status,
            flags=department_flags(b.flag_list, has_unpriced=any(s.kind == "unpriced" for s in shares)),
            availability=b.availability,
            score=b.score,
            department=department,
            share=_total(shares),
            shares=shares,
            payment_reference=b.payment_reference,
            payment_date=b.payment_date,
            operator_name=operators.get(b.operator_id, b.operator_id),
            service=contract.service if contract else "",
            service_category=contract.service_category if contract else "Other",
            service_subcategory=contract_spec(contract).focus_subcategory if contract else "Other (Other)",
        )


def export_bills(
    session: Session, *, actor: Actor, period: str, contract_id: str | None = None, format: str = "json"
) -> str:
    """`bills show --format json|csv|focus` (docs/reference.md#command-line, #exports)."""
    if format not in ("json", "csv", "focus"):
        raise InvalidInput("format must be one of {expected}", expected="json, csv, focus")
    bills = show_bills(session, actor=actor, period=period, contract_id=contract_id)
    if format == "json":
        return bills_json(bills)
    if format == "csv":
        return bills_csv(bills)
    province = get_province(session)
    units = {m.code: m.unit for m in session.exec(select(Meter))}
    return bills_focus(bills, Account(province.code, province.name, province.timezone), units)
