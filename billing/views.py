"""Reading bills: listing, showing and exporting them, scoped to what the acting user may see (docs/reference.md#roles,
#command-line, #exports). The one scoping helper of billing is `_visible`: an operator its own contracts' bills, a
department the bills it has a share of, and of those only its own shares."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from billing.exports import Account, bills_csv, bills_focus, bills_json
from billing.models import ZERO, Bill, BillAllocation, BillLine, BillRead, BillStatus, BillSummary, bill_id, summary_of
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


def list_bills(session: Session, *, actor: Actor, period: str | None = None) -> list[BillSummary]:
    """Bills by contract and period, with whether each draft is stale."""
    counts: dict[Interval, dict[str, int]] = {}
    return [
        summary_of(b, stale=b.status == BillStatus.DRAFT and stale_reason(session, b, counts) is not None)
        for b in _visible(session, actor, period, None)
    ]


def show_bills(session: Session, *, actor: Actor, period: str, contract_id: str | None = None) -> list[BillRead]:
    """Bills of a period with their lines and allocations; a department sees the bill's header and, of
    each line it has a share of, only its own share (quantity, amount, allocation)."""
    bills = _visible(session, actor, period, contract_id)
    if contract_id is not None and not bills:
        raise NotFound("{kind} not found: {id}", kind="bill", id=bill_id(contract_id, str(Period.parse(period))))
    ids = [b.id for b in bills]
    lines: dict[str, list[BillLine]] = defaultdict(list)
    allocations: dict[tuple[str, int], list[Allocation]] = defaultdict(list)
    if ids:
        for ln in session.exec(
            select(BillLine).where(col(BillLine.bill_id).in_(ids)).order_by(col(BillLine.bill_id), col(BillLine.seq))
        ):
            lines[ln.bill_id].append(ln)
        query = select(BillAllocation).where(col(BillAllocation.bill_id).in_(ids))
        if (dept := department_scope(actor)) is not None:
            query = query.where(BillAllocation.department_id == dept)
        for a in session.exec(
            query.order_by(col(BillAllocation.bill_id), col(BillAllocation.seq), col(BillAllocation.department_id))
        ):
            allocations[(a.bill_id, a.seq)].append(Allocation(a.department_id, a.quantity, a.amount))
    contracts = {
        c.id: c
        for c in session.exec(select(Contract).where(col(Contract.id).in_(sorted({b.contract_id for b in bills}))))
    }
    operators = {o.id: o.name for o in session.exec(select(Operator))}
    scoped = department_scope(actor) is not None
    out = []
    for b in bills:
        read_lines = []
        for ln in lines[b.id]:
            shares = allocations.get((b.id, ln.seq))
            if scoped and not shares:
                continue
            allocated = ln.kind in ("usage", "unpriced", "correction")
            quantity, amount = ln.quantity, ln.amount
            if scoped and shares:
                # a department sees its own share of a line, never the line's total: with another
                # department on the line, total less own would be the other's usage (docs/reference.md#roles)
                quantity = sum((a.quantity for a in shares), Decimal(0))
                amount = sum((a.amount for a in shares), ZERO)
            read_lines.append(
                Line(
                    kind=ln.kind,
                    amount=amount,
                    meter=ln.meter,
                    quantity=quantity,
                    unit_price=ln.unit_price,
                    period=ln.period,
                    allocations=tuple(shares or ()) if allocated else None,
                )
            )
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
                operator_name=operators.get(b.operator_id, b.operator_id),
                service=contract.service if contract else "",
                service_category=contract.service_category if contract else "Other",
                service_subcategory=contract_spec(contract).focus_subcategory if contract else "Other (Other)",
            )
        )
    return out


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
