"""Bills as JSON, CSV and FOCUS 1.2 CSV (docs/reference.md#command-line, #exports): pure rendering, no database."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from billing.models import BillRead, BillShare, LineKind, Share, money_text
from billing.rating import Allocation, Line
from core.output import dumps
from core.periods import Period
from core.types import decimal_text, strip_zeros

#: The 21 mandatory columns of FOCUS 1.2, in the specification's alphabetical order.
FOCUS_COLUMNS = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)
#: Recommended FOCUS 1.2 columns the export carries too (docs/reference.md#exports).
FOCUS_RECOMMENDED_COLUMNS = ("InvoiceId", "ChargeFrequency", "ServiceSubcategory")
#: Custom columns (FOCUS: prefixed `x_`).
FOCUS_CUSTOM_COLUMNS = (
    "x_BillId",
    "x_Contract",
    "x_Period",
    "x_Status",
    "x_LineKind",
    "x_Meter",
    "x_Department",
    "x_PaymentReference",
    "x_PaymentDate",
)

#: ChargeCategory per line kind (docs/reference.md#exports); a correction keeps its line's category, Usage.
CHARGE_CATEGORY = {
    "annual": "Purchase",
    "usage": "Usage",
    "unpriced": "Usage",
    "sla_credit": "Credit",
    "evaluation": "Credit",
    "cap_adjustment": "Adjustment",
    "correction": "Usage",
}

#: ChargeFrequency per line kind (docs/reference.md#exports); a correction keeps its line's, Usage-Based.
CHARGE_FREQUENCY = {
    "annual": "Recurring",
    "usage": "Usage-Based",
    "unpriced": "Usage-Based",
    "sla_credit": "One-Time",
    "evaluation": "One-Time",
    "cap_adjustment": "One-Time",
    "correction": "Usage-Based",
}

#: PricingUnit of the built-in meters in FOCUS unit format (FOCUS 1.2 "Unit Format").
FOCUS_UNITS = {
    "vcpu_hours": "Hours",
    "memory_gib_hours": "GiB-Hours",
    "storage_gib_hours": "GiB-Hours",
    "egress_gib": "GiB",
    "gpu_hours": "Hours",
    "api_calls": "Requests",
}
_DATA_SIZES = ("KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "PiB", "B")
_TIME_SUFFIXES = {"·h": "Hours", "*h": "Hours", "-h": "Hours", "h": "Hours", "·d": "Days", "·month": "Months"}
_COUNT_UNIT = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?: [A-Za-z][A-Za-z0-9]*)*$")
_COUNT_NAMES = {"calls": "Requests", "call": "Requests", "requests": "Requests", "次": "Requests"}
FALLBACK_UNIT = "Units"


def focus_unit(meter: str, unit: str) -> str:
    """A meter's PricingUnit in FOCUS unit format: `Hours`, `GiB-Hours`, `GiB`, `Requests`, … (docs/reference.md#exports).

    Built-in meters have fixed units; a declared meter's unit is translated (`GiB·h` → `GiB-Hours`,
    `calls` → `Requests`), and one that cannot be is written as `Units`.
    """
    if meter in FOCUS_UNITS:
        return FOCUS_UNITS[meter]
    text = unit.strip()
    for suffix, time_unit in _TIME_SUFFIXES.items():
        if text.endswith(suffix) and len(text) > len(suffix):
            base = text[: -len(suffix)].strip()
            if base in _DATA_SIZES or _COUNT_UNIT.match(base):
                return f"{base}-{time_unit}"
    if text in _DATA_SIZES:
        return text
    if text.lower() in _COUNT_NAMES or text in _COUNT_NAMES:
        return _COUNT_NAMES.get(text.lower(), _COUNT_NAMES.get(text, FALLBACK_UNIT))
    return text if _COUNT_UNIT.match(text) else FALLBACK_UNIT


CSV_COLUMNS = (
    "bill_id",
    "contract",
    "operator",
    "period",
    "currency",
    "status",
    "row",
    "line",
    "kind",
    "meter",
    "charge_period",
    "department",
    "quantity",
    "unit_price",
    "amount",
    "payment_reference",
    "payment_date",
)

DAYS_UNIT = "Days"


@dataclass(frozen=True)
class Account:
    """The billing account of the FOCUS export: the province (docs/reference.md#exports)."""

    code: str
    name: str
    timezone: str


def bills_json(bills: Sequence[BillRead | BillShare]) -> str:
    """`{"bills": [...]}` ordered by contract id, as `bills show --format json` prints it (docs/reference.md#command-line)."""
    return dumps({"bills": [b.to_dict() for b in sorted(bills, key=lambda b: (b.contract, b.period))]})


def _number(value: Any) -> str | None:
    return None if value is None else decimal_text(strip_zeros(value))


def _write(header: Sequence[str], rows: Iterator[Sequence[Any]]) -> str:
    """CSV text; None is written as an unquoted empty field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def bills_csv(bills: Sequence[BillRead | BillShare]) -> str:
    """One row per bill line, and per allocation of an allocated line (`row` says which); of a department's
    `BillShare`, one `share` row per share, numbered among its shares (docs/reference.md#exports)."""

    def rows() -> Iterator[list[Any]]:
        for b in sorted(bills, key=lambda b: (b.contract, b.period)):
            head = [b.id, b.contract, b.operator, b.period, b.currency, b.status]
            paid = [b.payment_reference, None if b.payment_date is None else b.payment_date.isoformat()]
            if isinstance(b, BillShare):
                for seq, share in enumerate(b.shares, start=1):
                    unit = None if share.unit_price is None else decimal_text(share.unit_price)
                    yield head + [
                        "share",
                        seq,
                        share.kind,
                        share.meter,
                        share.period,
                        b.department,
                        _number(share.quantity),
                        unit,
                        money_text(share.amount),
                        *paid,
                    ]
                continue
            for seq, line in enumerate(b.lines, start=1):
                unit = None if line.unit_price is None else decimal_text(line.unit_price)
                yield head + [
                    "line",
                    seq,
                    line.kind,
                    line.meter,
                    line.period,
                    None,
                    _number(line.quantity),
                    unit,
                    money_text(line.amount),
                    *paid,
                ]
                for a in line.allocations or ():
                    yield head + [
                        "allocation",
                        seq,
                        line.kind,
                        line.meter,
                        line.period,
                        a.department,
                        _number(a.quantity),
                        None,
                        money_text(a.amount),
                        *paid,
                    ]

    return _write(CSV_COLUMNS, rows())


def utc_iso(moment: datetime) -> str:
    """UTC ISO 8601 with a `Z`, whole seconds (FOCUS date/time format)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bounds(period: str, tz: str) -> tuple[str, str]:
    start, end = Period.parse(period).bounds(tz)
    return utc_iso(start), utc_iso(end)


def _description(bill: BillRead | BillShare, line: Line | Share, unit: str | None) -> str:
    qty = _number(line.quantity)
    if line.kind == LineKind.ANNUAL:
        return f"Annual fee of {bill.contract}: {qty} day(s) of {bill.period}"
    if line.kind == LineKind.USAGE:
        return f"{line.meter} usage on {bill.contract}: {qty} {unit or ''}".rstrip()
    if line.kind == LineKind.UNPRICED:
        return f"{line.meter} usage not priced by any contract: {qty} {unit or ''}".rstrip()
    if line.kind == LineKind.SLA_CREDIT:
        return f"SLA credit of {bill.contract} for {bill.period}"
    if line.kind == LineKind.EVALUATION:
        return f"Evaluation deduction of {bill.contract} for {bill.period}"
    if line.kind == LineKind.CAP_ADJUSTMENT:
        return f"Deductions above the cap of {bill.contract} added back"
    return f"Correction of {line.meter} usage for {line.period} (late usage)"


def focus_rows(bill: BillRead | BillShare, account: Account, units: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """The FOCUS rows of one bill: one per allocation of an allocated line, one per other line; of a
    department's `BillShare`, one per share (docs/reference.md#exports)."""
    if isinstance(bill, BillShare):
        for share in bill.shares:
            yield _focus_row(bill, account, units, share, share.amount, share.quantity, bill.department)
        return
    for line in bill.lines:
        parts: Sequence[Allocation | None] = line.allocations if line.allocations else (None,)
        for part in parts:
            if part is None:
                yield _focus_row(bill, account, units, line, line.amount, line.quantity, None)
            else:
                yield _focus_row(bill, account, units, line, part.amount, part.quantity, part.department)


def _focus_row(
    bill: BillRead | BillShare,
    account: Account,
    units: Mapping[str, str],
    line: Line | Share,
    cost: Decimal,
    quantity: Decimal | None,
    department: str | None,
) -> dict[str, Any]:
    billing_start, billing_end = _bounds(bill.period, account.timezone)
    issuer = bill.operator_name or bill.operator
    charge_start, charge_end = _bounds(line.period, account.timezone) if line.period else (billing_start, billing_end)
    unit = (
        DAYS_UNIT
        if line.kind == "annual"
        else (focus_unit(line.meter, units.get(line.meter, "")) if line.meter else None)
    )
    amount = money_text(cost)
    return {
        "BilledCost": amount,
        "BillingAccountId": account.code,
        "BillingAccountName": account.name,
        "BillingCurrency": bill.currency,
        "BillingPeriodEnd": billing_end,
        "BillingPeriodStart": billing_start,
        "ChargeCategory": CHARGE_CATEGORY[line.kind],
        "ChargeClass": "Correction" if line.kind == "correction" else None,
        "ChargeDescription": _description(bill, line, unit),
        "ChargePeriodEnd": charge_end,
        "ChargePeriodStart": charge_start,
        "ContractedCost": amount,
        # FOCUS 1.2 (EffectiveCost-C-005-C): a purchase's EffectiveCost is 0 — its cost is what
        # it covers; BilledCost carries the month's share of the annual fee.
        "EffectiveCost": "0.00" if line.kind == "annual" else amount,
        "InvoiceIssuerName": issuer,
        "ListCost": amount,
        "PricingQuantity": _number(quantity),
        "PricingUnit": unit if quantity is not None else None,
        "ProviderName": issuer,
        "PublisherName": issuer,
        "ServiceCategory": bill.service_category or "Other",
        "ServiceName": bill.service or bill.contract,
        "InvoiceId": bill.id,
        "ChargeFrequency": CHARGE_FREQUENCY[line.kind],
        "ServiceSubcategory": bill.service_subcategory,
        "x_BillId": bill.id,
        "x_Contract": bill.contract,
        "x_Period": bill.period,
        "x_Status": bill.status,
        "x_LineKind": line.kind,
        "x_Meter": line.meter,
        "x_Department": department,
        "x_PaymentReference": bill.payment_reference,
        "x_PaymentDate": None if bill.payment_date is None else bill.payment_date.isoformat(),
    }


def bills_focus(bills: Sequence[BillRead | BillShare], account: Account, units: Mapping[str, str]) -> str:
    """FOCUS 1.2 CSV: the 21 mandatory columns, the recommended InvoiceId, ChargeFrequency and
    ServiceSubcategory, then `x_` columns; nulls as unquoted empty fields (docs/reference.md#exports)."""
    header = FOCUS_COLUMNS + FOCUS_RECOMMENDED_COLUMNS + FOCUS_CUSTOM_COLUMNS
    ordered = sorted(bills, key=lambda b: (b.contract, b.period))
    return _write(header, ([row[c] for c in header] for b in ordered for row in focus_rows(b, account, units)))
