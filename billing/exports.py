"""Bills as JSON, CSV and FOCUS 1.2 CSV (SPEC 5.1, 5.3): pure rendering, no database."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from billing.models import BillRead, money_text
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
#: Custom columns (FOCUS: prefixed `x_`).
FOCUS_CUSTOM_COLUMNS = ("x_BillId", "x_Contract", "x_Period", "x_Status", "x_LineKind", "x_Meter", "x_Department")

#: ChargeCategory per line kind (SPEC 5.3); a correction keeps its line's category, Usage.
CHARGE_CATEGORY = {
    "annual": "Purchase",
    "usage": "Usage",
    "unpriced": "Usage",
    "sla_credit": "Credit",
    "evaluation": "Credit",
    "cap_adjustment": "Adjustment",
    "correction": "Usage",
}

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
)

DAYS_UNIT = "Days"


@dataclass(frozen=True)
class Account:
    """The billing account of the FOCUS export: the province (SPEC 5.3)."""

    code: str
    name: str
    timezone: str


def bills_json(bills: Sequence[BillRead]) -> str:
    """`{"bills": [...]}` ordered by contract id, as `bills show --format json` prints it (SPEC 5.1)."""
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


def bills_csv(bills: Sequence[BillRead]) -> str:
    """One row per bill line, and per allocation of an allocated line (`row` says which) (SPEC 5.3)."""

    def rows() -> Iterator[list[Any]]:
        for b in sorted(bills, key=lambda b: (b.contract, b.period)):
            head = [b.id, b.contract, b.operator, b.period, b.currency, b.status]
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
                    ]

    return _write(CSV_COLUMNS, rows())


def utc_iso(moment: datetime) -> str:
    """UTC ISO 8601 with a `Z`, whole seconds (FOCUS date/time format)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bounds(period: str, tz: str) -> tuple[str, str]:
    start, end = Period.parse(period).bounds(tz)
    return utc_iso(start), utc_iso(end)


def _description(bill: BillRead, line: Line, unit: str | None) -> str:
    qty = _number(line.quantity)
    if line.kind == "annual":
        return f"Annual fee of {bill.contract}: {qty} day(s) of {bill.period}"
    if line.kind == "usage":
        return f"{line.meter} usage on {bill.contract}: {qty} {unit or ''}".rstrip()
    if line.kind == "unpriced":
        return f"{line.meter} usage not priced by any contract: {qty} {unit or ''}".rstrip()
    if line.kind == "sla_credit":
        return f"SLA credit of {bill.contract} for {bill.period}"
    if line.kind == "evaluation":
        return f"Evaluation deduction of {bill.contract} for {bill.period}"
    if line.kind == "cap_adjustment":
        return f"Deductions above the cap of {bill.contract} added back"
    return f"Correction of {line.meter} usage for {line.period} (late usage)"


def focus_rows(bill: BillRead, account: Account, units: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """The FOCUS rows of one bill: one per allocation of an allocated line, one per other line."""
    billing_start, billing_end = _bounds(bill.period, account.timezone)
    issuer = bill.operator_name or bill.operator
    for line in bill.lines:
        charge_start, charge_end = (
            _bounds(line.period, account.timezone) if line.period else (billing_start, billing_end)
        )
        unit = DAYS_UNIT if line.kind == "annual" else (units.get(line.meter, line.meter) if line.meter else None)
        parts: Sequence[Allocation | None] = line.allocations if line.allocations else (None,)
        for part in parts:
            amount = money_text(line.amount if part is None else part.amount)
            quantity = line.quantity if part is None else part.quantity
            yield {
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
                "EffectiveCost": amount,
                "InvoiceIssuerName": issuer,
                "ListCost": amount,
                "PricingQuantity": _number(quantity),
                "PricingUnit": unit if quantity is not None else None,
                "ProviderName": issuer,
                "PublisherName": issuer,
                "ServiceCategory": bill.service_category or "Other",
                "ServiceName": bill.service or bill.contract,
                "x_BillId": bill.id,
                "x_Contract": bill.contract,
                "x_Period": bill.period,
                "x_Status": bill.status,
                "x_LineKind": line.kind,
                "x_Meter": line.meter,
                "x_Department": None if part is None else part.department,
            }


def bills_focus(bills: Sequence[BillRead], account: Account, units: Mapping[str, str]) -> str:
    """FOCUS 1.2 CSV: the 21 mandatory columns, then `x_` columns; nulls as unquoted empty fields (SPEC 5.3)."""
    header = FOCUS_COLUMNS + FOCUS_CUSTOM_COLUMNS
    ordered = sorted(bills, key=lambda b: (b.contract, b.period))
    return _write(header, ([row[c] for c in header] for b in ordered for row in focus_rows(b, account, units)))
