"""Bill tables and the bill shape that crosses the boundary (docs/reference.md#contracts-and-bills, #command-line).

A bill is one row per contract and period (id `<contract>@<period>`), its lines keyed by
(bill, seq) and each line's department allocations keyed by (bill, seq, department). Database
triggers (migration 0004) refuse any change to an approved or paid bill's lines, whatever the route.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Column, ForeignKeyConstraint, Text
from sqlmodel import AutoString, Field, Session, SQLModel, col, select

from core.db import enum_check
from core.i18n import register_labels
from core.types import EXACT, ExactDecimal, UtcDateTime, decimal_text, strip_zeros
from sla.availability import six_places

if TYPE_CHECKING:  # the rating formulas build on the kinds and flags below
    from billing.rating import Line

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class BillStatus(StrEnum):
    """A bill's status: draft → approved → paid (docs/reference.md#contracts-and-bills)."""

    DRAFT = "draft"
    APPROVED = "approved"
    PAID = "paid"


#: Statuses whose bills can no longer change (migration 0004's triggers refuse it).
LOCKED_STATUSES = (BillStatus.APPROVED, BillStatus.PAID)


class BillFlag(StrEnum):
    """A bill's flags (docs/reference.md#contracts-and-bills), stored sorted and comma-separated."""

    NEEDS_REVIEW = "needs_review"
    PROVISIONAL = "provisional"
    UNPRICED_USAGE = "unpriced_usage"


class LineKind(StrEnum):
    """The kind of a bill line, in the order a bill lists them (docs/reference.md#command-line)."""

    ANNUAL = "annual"
    USAGE = "usage"
    UNPRICED = "unpriced"
    SLA_CREDIT = "sla_credit"
    EVALUATION = "evaluation"
    CAP_ADJUSTMENT = "cap_adjustment"
    CORRECTION = "correction"


register_labels(
    {
        BillStatus.DRAFT: "草稿",
        BillStatus.APPROVED: "已批准",
        BillStatus.PAID: "已支付",
        BillFlag.NEEDS_REVIEW: "需复核",
        BillFlag.PROVISIONAL: "暂估",
        BillFlag.UNPRICED_USAGE: "含未定价用量",
        LineKind.ANNUAL: "年度费用",
        LineKind.USAGE: "按量费用",
        LineKind.UNPRICED: "未定价用量",
        LineKind.SLA_CREDIT: "服务水平扣减",
        LineKind.EVALUATION: "评价扣减",
        LineKind.CAP_ADJUSTMENT: "封顶调整",
        LineKind.CORRECTION: "更正",
    }
)


class Bill(SQLModel, table=True):
    """One contract's bill for one period: draft → approved → paid."""

    __tablename__ = "bill"

    id: str = Field(primary_key=True, max_length=80)
    contract_id: str = Field(foreign_key="contract.id", max_length=64, index=True)
    period: str = Field(max_length=7, index=True)
    operator_id: str = Field(max_length=40, index=True)
    currency: str = Field(max_length=3)
    status: BillStatus = Field(
        default=BillStatus.DRAFT,
        sa_type=AutoString(length=16),
        sa_column_args=[enum_check("bill", "status", BillStatus)],
    )
    flags: str = Field(default="", max_length=200)  # sorted, comma-separated
    availability: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    score: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    base: Decimal = Field(sa_type=ExactDecimal)
    sla_credit: Decimal = Field(sa_type=ExactDecimal)
    evaluation_deduction: Decimal = Field(sa_type=ExactDecimal)
    cap_adjustment: Decimal = Field(sa_type=ExactDecimal)
    corrections: Decimal = Field(sa_type=ExactDecimal)
    payable: Decimal = Field(sa_type=ExactDecimal)
    # what staleness is judged against (docs/reference.md#contracts-and-bills): when and by whom it was computed, from which inputs
    computed_at: datetime = Field(sa_type=UtcDateTime)
    run_by: str = Field(max_length=64)
    events_seen: int = Field(default=0, sa_type=BigInteger)
    terms_hash: str = Field(max_length=64)
    sla_stamp: datetime | None = Field(default=None, sa_type=UtcDateTime)  # SLA inputs' last change then
    approved_by: str | None = Field(default=None, max_length=64)
    approved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    override_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    paid_by: str | None = Field(default=None, max_length=64)
    paid_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # what paying records (docs/reference.md#contracts-and-bills): the payment voucher (付款凭证号) and its date (付款日期)
    payment_reference: str | None = Field(default=None, max_length=64)
    payment_date: date | None = Field(default=None)

    @property
    def flag_list(self) -> list[str]:
        """The bill's flags, sorted."""
        return [f for f in self.flags.split(",") if f]


class BillLine(SQLModel, table=True):
    """A line of a bill; amounts are signed so that the lines sum to the payable (docs/reference.md#the-bill)."""

    __tablename__ = "bill_line"

    bill_id: str = Field(foreign_key="bill.id", primary_key=True, max_length=80)
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    kind: LineKind = Field(sa_type=AutoString(length=16), sa_column_args=[enum_check("bill_line", "kind", LineKind)])
    meter: str | None = Field(default=None, max_length=40)
    quantity: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    unit_price: Decimal | None = Field(default=None, sa_type=ExactDecimal)
    amount: Decimal = Field(sa_type=ExactDecimal)
    period: str | None = Field(default=None, max_length=7)  # the corrected period of a correction line


class BillAllocation(SQLModel, table=True):
    """A department's share of a bill line (docs/reference.md#usage-charges, #late-usage)."""

    __tablename__ = "bill_allocation"
    __table_args__ = (ForeignKeyConstraint(["bill_id", "seq"], ["bill_line.bill_id", "bill_line.seq"]),)

    bill_id: str = Field(primary_key=True, max_length=80)
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    department_id: str = Field(foreign_key="department.id", primary_key=True, max_length=40, index=True)
    quantity: Decimal = Field(sa_type=ExactDecimal)
    amount: Decimal = Field(sa_type=ExactDecimal)


def bill_id(contract_id: str, period: str) -> str:
    """`<contract>@<period>`, e.g. `C1@2026-10` (docs/reference.md#contracts-and-bills)."""
    return f"{contract_id}@{period}"


def money_text(amount: Decimal) -> str:
    """Two decimals, never -0.00."""
    value = amount.quantize(CENT, context=EXACT)
    return decimal_text(ZERO if value == 0 else value)


def _six(value: Decimal | None) -> str | None:
    rounded = six_places(value)
    return None if rounded is None else decimal_text(rounded)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _number(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(strip_zeros(value))


def line_to_dict(line: Line) -> dict[str, Any]:
    """A bill line in the JSON of `bills show` (docs/reference.md#command-line)."""
    return {
        "kind": line.kind,
        "meter": line.meter,
        "quantity": _number(line.quantity),
        "unit_price": None if line.unit_price is None else decimal_text(line.unit_price),
        "amount": money_text(line.amount),
        "period": line.period,
        "allocations": None
        if line.allocations is None
        else [
            {"department": a.department, "quantity": _number(a.quantity), "amount": money_text(a.amount)}
            for a in line.allocations
        ],
    }


@dataclass
class BillRead:
    """A bill as the services return it; `to_dict` is exactly the JSON of docs/reference.md#command-line (no timestamps)."""

    id: str
    contract: str
    operator: str
    period: str
    currency: str
    status: str
    flags: list[str]
    availability: Decimal | None
    score: Decimal | None
    base: Decimal
    sla_credit: Decimal
    evaluation_deduction: Decimal
    cap_adjustment: Decimal
    corrections: Decimal
    payable: Decimal
    lines: list[Line]
    payment_reference: str | None = None
    payment_date: date | None = None
    # for the exports, not part of the JSON
    operator_name: str = ""
    service: str = ""
    service_category: str = "Other"
    service_subcategory: str = "Other (Other)"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "contract": self.contract,
            "operator": self.operator,
            "period": self.period,
            "currency": self.currency,
            "status": self.status,
            "flags": list(self.flags),
            "availability": _six(self.availability),
            "score": _six(self.score),
            "base": money_text(self.base),
            "sla_credit": money_text(self.sla_credit),
            "evaluation_deduction": money_text(self.evaluation_deduction),
            "cap_adjustment": money_text(self.cap_adjustment),
            "corrections": money_text(self.corrections),
            "payable": money_text(self.payable),
            "payment_reference": self.payment_reference,
            "payment_date": _day(self.payment_date),
            "lines": [line_to_dict(line) for line in self.lines],
        }


@dataclass(frozen=True)
class BillSummary:
    """A row of `bills list`."""

    id: str
    contract: str
    operator: str
    period: str
    status: str
    flags: list[str]
    payable: Decimal
    stale: bool
    run_by: str
    approved_by: str | None
    paid_by: str | None
    payment_reference: str | None = None
    payment_date: date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "contract": self.contract,
            "operator": self.operator,
            "period": self.period,
            "status": self.status,
            "flags": list(self.flags),
            "payable": money_text(self.payable),
            "stale": self.stale,
            "run_by": self.run_by,
            "approved_by": self.approved_by,
            "paid_by": self.paid_by,
            "payment_reference": self.payment_reference,
            "payment_date": _day(self.payment_date),
        }


@dataclass(frozen=True)
class Share:
    """A department's share of one bill line: its own quantity and amount, never the line's
    (docs/reference.md#a-departments-bill). `period` is the corrected period of a correction."""

    kind: str
    meter: str | None
    quantity: Decimal
    unit_price: Decimal | None
    amount: Decimal
    period: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "meter": self.meter,
            "quantity": _number(self.quantity),
            "unit_price": None if self.unit_price is None else decimal_text(self.unit_price),
            "amount": money_text(self.amount),
            "period": self.period,
        }


@dataclass
class BillShare:
    """A bill as a department sees it (docs/reference.md#a-departments-bill): the header without amounts, the
    department's own shares of the lines it has a share of, and `share`, their sum. No total of the
    bill or of a line, no count of its other lines: a total less the department's own would be
    another department's usage."""

    id: str
    contract: str
    operator: str
    period: str
    currency: str
    status: str
    flags: list[str]
    availability: Decimal | None
    score: Decimal | None
    department: str
    share: Decimal
    shares: list[Share]
    payment_reference: str | None = None
    payment_date: date | None = None
    # for the exports, not part of the JSON
    operator_name: str = ""
    service: str = ""
    service_category: str = "Other"
    service_subcategory: str = "Other (Other)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "contract": self.contract,
            "operator": self.operator,
            "period": self.period,
            "currency": self.currency,
            "status": self.status,
            "flags": list(self.flags),
            "availability": _six(self.availability),
            "score": _six(self.score),
            "department": self.department,
            "share": money_text(self.share),
            "payment_reference": self.payment_reference,
            "payment_date": _day(self.payment_date),
            "shares": [s.to_dict() for s in self.shares],
        }


@dataclass(frozen=True)
class ShareSummary:
    """A row of `bills list` for a department: the bill's header and its own share (docs/reference.md#a-departments-bill)."""

    id: str
    contract: str
    operator: str
    period: str
    status: str
    flags: list[str]
    department: str
    share: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "contract": self.contract,
            "operator": self.operator,
            "period": self.period,
            "status": self.status,
            "flags": list(self.flags),
            "department": self.department,
            "share": money_text(self.share),
        }


def department_flags(flags: Sequence[str], *, has_unpriced: bool) -> list[str]:
    """The flags a department sees: `unpriced_usage` only when it has an unpriced share itself — else the
    flag would say that another department used a meter no contract prices (docs/reference.md#a-departments-bill)."""
    return [f for f in flags if f != "unpriced_usage" or has_unpriced]


def locked_periods(session: Session, contract_id: str) -> list[str]:
    """Periods of a contract's approved or paid bills: its terms may not change (docs/reference.md#contracts-and-bills)."""
    rows = session.exec(
        select(Bill.period).where(Bill.contract_id == contract_id, col(Bill.status).in_(LOCKED_STATUSES))
    )
    return sorted(set(rows))


def summary_of(bill: Bill, *, stale: bool) -> BillSummary:
    """The summary of a bill as lists and transitions return it."""
    return BillSummary(
        id=bill.id,
        contract=bill.contract_id,
        operator=bill.operator_id,
        period=bill.period,
        status=bill.status,
        flags=bill.flag_list,
        payable=bill.payable,
        stale=stale,
        run_by=bill.run_by,
        approved_by=bill.approved_by,
        paid_by=bill.paid_by,
        payment_reference=bill.payment_reference,
        payment_date=bill.payment_date,
    )
