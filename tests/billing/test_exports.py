"""Whole bills from the pure rating functions: lines sum to payable; JSON, CSV and FOCUS 1.2 conformance."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.exports import (
    CHARGE_CATEGORY,
    CHARGE_FREQUENCY,
    FOCUS_COLUMNS,
    Account,
    bills_csv,
    bills_focus,
    bills_json,
    focus_unit,
)
from billing.models import BillRead, bill_id
from billing.rating import BillInputs, CorrectionInput, RatedBill, UsageInput, rate_bill
from core.periods import Period
from tenants.contracts import ContractSpec

D = Decimal
ACCOUNT = Account(code="gd", name="广东省", timezone="Asia/Shanghai")
UNITS = {"vcpu_hours": "vCPU·h", "storage_gib_hours": "GiB·h", "egress_gib": "GiB", "gpu_hours": "GPU·h"}
METERS = sorted(UNITS)
MANDATORY_FOCUS_12 = {
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
}
UTC_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
PLACEHOLDERS = {'""', "N/A", "NA", "null", "NULL", "None", "-"}

money = st.decimals(min_value=0, max_value=D("100000000"), places=2)
share = st.decimals(min_value=0, max_value=1, places=2)
qty = st.decimals(min_value=0, max_value=D("99999999"), places=6)
unit_price = st.decimals(min_value=0, max_value=D("50"), places=4)


def bill_read(
    contract: ContractSpec,
    period: str,
    rated: RatedBill,
    *,
    status: str = "draft",
    availability: Decimal | None = None,
    score: Decimal | None = None,
    operator_name: str = "",
    flags: Sequence[str] = (),
) -> BillRead:
    """The BillRead of a freshly rated bill."""
    return BillRead(
        id=bill_id(contract.id, period),
        contract=contract.id,
        operator=contract.operator,
        period=period,
        currency=contract.currency,
        status=status,
        flags=sorted(set(rated.flags) | set(flags)),
        availability=availability if contract.sla is not None else None,
        score=score,
        base=rated.base,
        sla_credit=rated.sla_credit,
        evaluation_deduction=rated.evaluation_deduction,
        cap_adjustment=rated.cap_adjustment,
        corrections=rated.corrections,
        payable=rated.payable,
        lines=list(rated.lines),
        operator_name=operator_name,
        service=contract.service,
        service_category=contract.service_category,
    )


@st.composite
def price_terms(draw: st.DrawFn, meter: str) -> dict:
    model = draw(st.sampled_from(["flat", "graduated", "volume"]))
    if model == "flat":
        return {"meter": meter, "model": "flat", "unit_price": str(draw(unit_price))}
    bounds = sorted(set(draw(st.lists(st.integers(1, 10**6), max_size=3))))
    tiers = [{"up_to": str(b), "unit_price": str(draw(unit_price))} for b in bounds]
    return {"meter": meter, "model": model, "tiers": tiers + [{"up_to": None, "unit_price": str(draw(unit_price))}]}


@st.composite
def contracts(draw: st.DrawFn) -> ContractSpec:
    priced = draw(st.lists(st.sampled_from(METERS), unique=True, max_size=3))
    terms: dict = {
        "id": f"C{draw(st.integers(1, 99))}",
        "operator": "dgcloud",
        "clouds": ["gd-prov"],
        "service": "iaas",
        "start": date(2026, 1, 1) if draw(st.booleans()) else date(2026, 3, 17),
        "end": date(2026, 12, 31),
        "prices": [draw(price_terms(m)) for m in priced],
    }
    if draw(st.booleans()):
        terms["annual_fee"] = str(draw(money))
    if draw(st.booleans()):
        terms["sla"] = {
            "credits": [{"below": "99.95", "credit": str(draw(share))}, {"below": "99.0", "credit": str(draw(share))}]
        }
    if draw(st.booleans()):
        terms["evaluation"] = {
            "at_risk": str(draw(share)),
            "min_ratings": draw(st.integers(0, 3)),
            "payout": [
                {"min_score": "90", "pays": "1"},
                {"min_score": "60", "pays": "0.5"},
                {"min_score": "0", "pays": str(draw(share))},
            ],
        }
    if draw(st.booleans()):
        terms["max_deduction"] = str(draw(share))
    return ContractSpec.model_validate(terms)


departments = st.dictionaries(
    st.sampled_from(["gd-edu", "gd-gat", "gz-gaj", "sw-gaj", "gd-wjw"]), qty, min_size=1, max_size=5
)


@st.composite
def bills(draw: st.DrawFn) -> BillRead:
    contract = draw(contracts())
    period = Period(2026, draw(st.integers(1, 12)))
    usage = [
        UsageInput(m, contract.price_for(m), draw(departments))
        for m in draw(st.lists(st.sampled_from(METERS), unique=True, max_size=4))
    ]
    corrections = []
    for m in draw(st.lists(st.sampled_from(METERS), unique=True, max_size=2)):
        price = contract.price_for(m)
        corrections.append(
            CorrectionInput(
                period="2025-12",
                meter=m,
                price=price,
                quantity_now=draw(qty),
                billed=draw(money),
                late=draw(departments),
            )
        )
    availability = draw(st.decimals(min_value=90, max_value=100, places=6))
    count = draw(st.integers(0, 10))
    score = draw(st.decimals(min_value=0, max_value=100, places=4)) if count else None
    inputs = BillInputs(
        contract=contract,
        period=period,
        active=draw(st.booleans()) or not corrections,
        usage=usage,
        availability=availability,
        availability_insufficient=draw(st.booleans()),
        score=score,
        rating_count=count,
        corrections=corrections,
    )
    return bill_read(
        contract,
        str(period),
        rate_bill(inputs),
        availability=availability,
        score=score,
        operator_name="数字广东网络建设有限公司",
    )


def _focus(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


@settings(max_examples=200, deadline=None)
@given(bill=bills())
def test_a_bills_lines_always_sum_to_its_payable(bill: BillRead) -> None:
    assert sum(line.amount for line in bill.lines) == bill.payable
    # annual, usage and unpriced lines by meter, sla_credit, evaluation, cap_adjustment, corrections (docs/reference.md#command-line)
    rank = {
        "annual": 0,
        "usage": 1,
        "unpriced": 1,
        "sla_credit": 2,
        "evaluation": 3,
        "cap_adjustment": 4,
        "correction": 5,
    }
    keys = [(rank[line.kind], line.period or "", line.meter or "") for line in bill.lines]
    assert keys == sorted(keys)
    base = sum(line.amount for line in bill.lines if line.kind in ("annual", "usage"))
    assert bill.base == base
    assert bill.payable == (
        bill.base - bill.sla_credit - bill.evaluation_deduction + bill.cap_adjustment + bill.corrections
    )
    for line in bill.lines:
        assert line.amount.as_tuple().exponent == -2 and str(line.amount) != "-0.00"
        if line.allocations:
            assert sum(a.amount for a in line.allocations) == line.amount
    assert bill.sla_credit >= 0 and bill.evaluation_deduction >= 0 and bill.cap_adjustment >= 0


@settings(max_examples=100, deadline=None)
@given(bill=bills())
def test_focus_export_conforms_to_focus_1_2(bill: BillRead) -> None:
    text = bills_focus([bill], ACCOUNT, UNITS)
    header, rows = _focus(text)
    assert MANDATORY_FOCUS_12 <= set(header) and list(FOCUS_COLUMNS) == header[:21]
    assert header[21:24] == ["InvoiceId", "ChargeFrequency", "ServiceSubcategory"]  # recommended columns
    assert all(c in MANDATORY_FOCUS_12 or c in header[21:24] or c.startswith("x_") for c in header)
    # BilledCost summed per bill equals payable
    assert sum(D(r["BilledCost"]) for r in rows) == bill.payable
    allocated = sum(len(line.allocations) if line.allocations else 1 for line in bill.lines)
    assert len(rows) == allocated
    for r in rows:
        assert r["ChargeCategory"] in {"Adjustment", "Credit", "Purchase", "Tax", "Usage"}
        assert r["ChargeCategory"] == CHARGE_CATEGORY[r["x_LineKind"]]
        assert r["ChargeClass"] == ("Correction" if r["x_LineKind"] == "correction" else "")
        for col in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"):
            assert UTC_ISO.match(r[col]), (col, r[col])
        assert r["ChargePeriodStart"] < r["ChargePeriodEnd"] and r["BillingPeriodStart"] < r["BillingPeriodEnd"]
        if r["ChargeClass"] != "Correction":
            assert (r["ChargePeriodStart"], r["ChargePeriodEnd"]) == (r["BillingPeriodStart"], r["BillingPeriodEnd"])
        for col in (
            "BilledCost",
            "BillingAccountId",
            "BillingCurrency",
            "ChargeCategory",
            "ChargeDescription",
            "ContractedCost",
            "EffectiveCost",
            "InvoiceIssuerName",
            "ListCost",
            "ProviderName",
            "PublisherName",
            "ServiceCategory",
            "ServiceName",
        ):
            assert r[col] != "", col
        if r["ChargeCategory"] in ("Usage", "Purchase") and r["ChargeClass"] != "Correction":
            assert r["PricingQuantity"] != ""
        assert (r["PricingQuantity"] == "") == (r["PricingUnit"] == "")
        assert r["InvoiceId"] == bill.id and r["ServiceSubcategory"] == bill.service_subcategory
        assert r["ChargeFrequency"] == CHARGE_FREQUENCY[r["x_LineKind"]]
        assert r["ChargeFrequency"] in {"One-Time", "Recurring", "Usage-Based"}
        assert r["PricingUnit"] in {"", "Days", "Hours", "GiB-Hours", "GiB"}  # FOCUS unit format
        assert r["BilledCost"] == r["ContractedCost"] == r["ListCost"]
        # a purchase's EffectiveCost is 0 (FOCUS 1.2 EffectiveCost-C-005-C); every other row's is its cost
        assert r["EffectiveCost"] == ("0.00" if r["ChargeCategory"] == "Purchase" else r["BilledCost"])
        assert not set(r.values()) & PLACEHOLDERS
    # nulls are unquoted empty fields: never "" in the raw text
    assert '""' not in text
    assert "+08:00" not in text


def test_focus_periods_are_utc_month_bounds_in_the_provinces_timezone() -> None:
    contract = ContractSpec.model_validate(
        {
            "id": "C1",
            "operator": "dgcloud",
            "clouds": ["gd-prov"],
            "service": "iaas",
            "start": "2026-01-01",
            "end": "2026-12-31",
            "annual_fee": "365000",
        }
    )
    bill = bill_read(contract, "2026-10", rate_bill(BillInputs(contract=contract, period=Period(2026, 10))))
    _, rows = _focus(bills_focus([bill], ACCOUNT, UNITS))
    assert rows == [rows[0]] and rows[0]["BillingPeriodStart"] == "2026-09-30T16:00:00Z"
    assert rows[0]["BillingPeriodEnd"] == "2026-10-31T16:00:00Z"
    assert rows[0]["BilledCost"] == "31000.00" and rows[0]["PricingQuantity"] == "31"
    assert rows[0]["ChargeCategory"] == "Purchase" and rows[0]["PricingUnit"] == "Days"
    # the raw line: ChargeClass (null) is an unquoted empty field between two commas
    raw = bills_focus([bill], ACCOUNT, UNITS).splitlines()[1]
    assert ",Purchase,,Annual fee" in raw


@settings(max_examples=50, deadline=None)
@given(bill=bills())
def test_csv_rows_per_line_and_allocation_sum_to_payable(bill: BillRead) -> None:
    rows = list(csv.DictReader(io.StringIO(bills_csv([bill]))))
    lines = [r for r in rows if r["row"] == "line"]
    assert len(lines) == len(bill.lines)
    assert sum(D(r["amount"]) for r in lines) == bill.payable
    allocations = [r for r in rows if r["row"] == "allocation"]
    assert len(allocations) == sum(len(line.allocations or ()) for line in bill.lines)
    for seq, line in enumerate(bill.lines, start=1):
        if line.allocations:
            assert sum(D(r["amount"]) for r in allocations if r["line"] == str(seq)) == line.amount


@settings(max_examples=50, deadline=None)
@given(bill=bills())
def test_json_has_the_spec_fields_in_order_and_money_with_two_decimals(bill: BillRead) -> None:
    doc = json.loads(bills_json([bill]))
    (b,) = doc["bills"]
    assert list(b) == [
        "id",
        "contract",
        "operator",
        "period",
        "currency",
        "status",
        "flags",
        "availability",
        "score",
        "base",
        "sla_credit",
        "evaluation_deduction",
        "cap_adjustment",
        "corrections",
        "payable",
        "payment_reference",
        "payment_date",
        "lines",
    ]
    for key in ("base", "sla_credit", "evaluation_deduction", "cap_adjustment", "corrections", "payable"):
        assert re.fullmatch(r"-?\d+\.\d{2}", b[key]) and b[key] != "-0.00"
    for line in b["lines"]:
        assert list(line) == ["kind", "meter", "quantity", "unit_price", "amount", "period", "allocations"]
        assert re.fullmatch(r"-?\d+\.\d{2}", line["amount"])
    assert bills_json([bill]) == bills_json([bill])


def test_pricing_units_are_in_focus_unit_format() -> None:
    # built-in meters have fixed FOCUS units; a declared meter's unit is translated, or `Units`
    assert [focus_unit(m, "") for m in ("vcpu_hours", "memory_gib_hours", "egress_gib", "gpu_hours", "api_calls")] == [
        "Hours",
        "GiB-Hours",
        "GiB",
        "Hours",
        "Requests",
    ]
    assert focus_unit("backup_gib_hours", "GiB·h") == "GiB-Hours"
    assert focus_unit("sms", "calls") == "Requests"
    assert focus_unit("licences", "Licenses") == "Licenses"
    assert focus_unit("odd", "每次·件") == "Units"
