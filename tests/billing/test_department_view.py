"""docs/reference.md#roles, #contracts-and-bills, #exports: a department sees a bill's header without amounts,
its own shares and their sum — never a bill's or a line's total, base, credits, payable, the count of the
bill's other lines, nor a flag that only another department's usage raised. Service level (SQLite and
PostgreSQL) and the command line, on the worked example of docs/billing.md."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest

from billing.models import BillRead, BillShare, BillSummary, ShareSummary
from billing.views import export_bills, list_bills, show_bills
from tests.billing.conftest import BILL, CONTRACT, ok
from zhengyun import app

PERIOD = "2026-10"
#: gd-gat's own shares of the worked example's bill (docs/billing.md): storage and vCPU
OWN = {"storage_gib_hours": ("345678.9", "172.84"), "vcpu_hours": ("45000.5", "5166.72")}
SHARE = "5339.56"  # 172.84 + 5166.72


@pytest.fixture
def billed(world: Any) -> Any:
    ok(world("bills", "run", "--period", PERIOD, "--as", "fin1", "--json"))
    return world


def _as(user: str, work: Any) -> Any:
    return app.run(work, user=user)


def _secrets(full: BillRead) -> set[str]:
    """Every figure of the bill a department must not be able to read or compute: the bill's totals, each
    line's total, and what the bill less gd-gat's own shares leaves (the others' usage)."""
    own = sum((Decimal(a) for _q, a in OWN.values()), Decimal(0))
    figures = {full.base, full.payable, full.sla_credit, full.evaluation_deduction, full.base - own}
    figures |= {full.payable - own}
    for line in full.lines:
        if line.kind != "annual":  # the annual fee's share follows from the contract's terms, which it may see
            figures.add(line.amount)
            if line.quantity is not None:
                figures.add(line.quantity)
        for a in line.allocations or ():
            if a.department != "gd-gat":
                figures |= {a.amount, a.quantity}
            elif line.quantity is not None:  # the line less gd-gat's own: the others' quantity and charge
                figures |= {line.quantity - a.quantity, line.amount - a.amount}
    # usage of the others = base less own less the annual fee (the attack)
    annual = next(ln.amount for ln in full.lines if ln.kind == "annual")
    figures.add(full.base - own - annual)
    return {_plain(f) for f in figures if f not in (0, Decimal("0.00"))}


def _plain(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def _numbers(text: str) -> set[str]:
    return {_plain(Decimal(n.replace(",", ""))) for n in re.findall(r"-?\d[\d,]*(?:\.\d+)?", text)}


def test_the_service_gives_a_department_its_own_shares_and_no_total(billed: Any) -> None:
    (full,) = _as("fin1", lambda s, a: show_bills(s, actor=a, period=PERIOD, contract_id=CONTRACT))
    assert isinstance(full, BillRead) and full.payable == Decimal("100462.11")  # finance: unchanged
    (bill,) = _as("gat", lambda s, a: show_bills(s, actor=a, period=PERIOD, contract_id=CONTRACT))
    assert isinstance(bill, BillShare)
    assert (bill.id, bill.contract, bill.period, bill.status, bill.department) == (
        BILL,
        CONTRACT,
        PERIOD,
        "draft",
        "gd-gat",
    )
    assert bill.share == Decimal(SHARE)
    assert {s.meter: (str(s.quantity.normalize()), f"{s.amount:.2f}") for s in bill.shares} == OWN
    assert not any(hasattr(bill, name) for name in ("base", "payable", "sla_credit", "corrections", "lines"))
    # `unpriced_usage` is gd-edu's egress alone: the flag would tell gd-gat that another used an unpriced meter
    assert full.flags == ["unpriced_usage"] and bill.flags == []
    data = bill.to_dict()
    assert set(data) == {
        "id",
        "contract",
        "operator",
        "period",
        "currency",
        "status",
        "flags",
        "availability",
        "score",
        "department",
        "share",
        "payment_reference",
        "payment_date",
        "shares",
    }
    assert data["share"] == SHARE and [s["amount"] for s in data["shares"]] == ["172.84", "5166.72"]


def test_the_list_gives_a_department_its_share_not_the_payable(billed: Any) -> None:
    (full,) = _as("fin1", lambda s, a: list_bills(s, actor=a, period=PERIOD))[:1]
    assert isinstance(full, BillSummary)
    listed = _as("gat", lambda s, a: list_bills(s, actor=a, period=PERIOD))
    assert [type(b) for b in listed] == [ShareSummary]
    assert listed[0].to_dict() == {
        "id": BILL,
        "contract": CONTRACT,
        "operator": "dgcloud",
        "period": PERIOD,
        "status": "draft",
        "flags": [],
        "department": "gd-gat",
        "share": SHARE,
    }


@pytest.mark.parametrize("format", ["json", "csv", "focus"])
def test_no_export_lets_a_department_compute_another_departments_usage(billed: Any, format: str) -> None:
    (full,) = _as("fin1", lambda s, a: show_bills(s, actor=a, period=PERIOD, contract_id=CONTRACT))
    secrets = _secrets(full)
    assert {"118190.72", "100462.11", "15500.08", "135000.75", "90000.25"} <= secrets  # 90000.25: others' vCPU
    text = _as("gat", lambda s, a: export_bills(s, actor=a, period=PERIOD, format=format))
    assert sorted(_numbers(text) & secrets) == []
    for word in ("base", "payable", "sla_credit", "evaluation_deduction", "cap_adjustment", "gd-edu", "sw-gaj"):
        assert word not in text, word


def test_a_departments_csv_and_focus_rows_are_its_shares_and_sum_to_its_share(billed: Any) -> None:
    text = _as("gat", lambda s, a: export_bills(s, actor=a, period=PERIOD, format="csv"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["row"] for r in rows} == {"share"} and {r["department"] for r in rows} == {"gd-gat"}
    assert [r["line"] for r in rows] == ["1", "2"]  # numbered among its shares: no count of the bill's lines
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal(SHARE)
    focus = list(
        csv.DictReader(io.StringIO(_as("gat", lambda s, a: export_bills(s, actor=a, period=PERIOD, format="focus"))))
    )
    assert {r["x_Department"] for r in focus} == {"gd-gat"} and {r["x_LineKind"] for r in focus} == {"usage"}
    assert sum(Decimal(r["BilledCost"]) for r in focus) == Decimal(SHARE)
    # finance: unchanged, BilledCost summed is the payable
    full = list(
        csv.DictReader(
            io.StringIO(
                _as("fin1", lambda s, a: export_bills(s, actor=a, period=PERIOD, contract_id=CONTRACT, format="focus"))
            )
        )
    )
    assert sum(Decimal(r["BilledCost"]) for r in full) == Decimal("100462.11")


def test_the_command_line_shows_a_department_its_share_labelled_as_such(billed: Any) -> None:
    shown = billed("bills", "show", "--period", PERIOD, "--as", "gat")
    listed = billed("bills", "list", "--period", PERIOD, "--as", "gat")
    assert shown.code == 0 and listed.code == 0, (shown, listed)
    for text in (shown.stdout, listed.stdout):
        assert "your share" in text and SHARE in text, text
        for word in ("base", "payable", "100462.11", "118190.72", "15500.08", "135000.75"):
            assert word not in text, (word, text)
    assert "5166.72" in shown.stdout and "172.84" in shown.stdout
    data = ok(billed("bills", "list", "--period", PERIOD, "--as", "gat", "--json"))
    assert data["bills"] == [
        {
            "id": BILL,
            "contract": CONTRACT,
            "operator": "dgcloud",
            "period": PERIOD,
            "status": "draft",
            "flags": [],
            "department": "gd-gat",
            "share": SHARE,
        }
    ]
    # the finance office's view is unchanged
    full = billed("bills", "list", "--period", PERIOD, "--as", "fin1")
    assert "payable" in full.stdout and "100462.11" in full.stdout


def test_a_department_keeps_seeing_the_unpriced_flag_of_its_own_unpriced_usage(billed: Any, tmp_path: Any) -> None:
    from tests.billing.conftest import import_usage, write_usage

    path = write_usage(
        tmp_path / "gat-egress.csv", [("g-1", "2026-10-09T09:00:00+08:00", "gd-gat", "gd-prov", "egress_gib", "7")]
    )
    assert import_usage(billed, path)["accepted"] == 1
    ok(billed("bills", "run", "--period", PERIOD, "--as", "fin1", "--json"))
    (bill,) = _as("gat", lambda s, a: show_bills(s, actor=a, period=PERIOD, contract_id=CONTRACT))
    assert isinstance(bill, BillShare) and bill.flags == ["unpriced_usage"]
    unpriced = [s for s in bill.shares if s.kind == "unpriced"]
    assert [(s.meter, s.quantity) for s in unpriced] == [("egress_gib", Decimal(7))]  # its own 7, not the line's 127


def test_a_department_sees_its_own_share_of_a_correction_not_the_lines_total(world: Any, tmp_path: Any) -> None:
    from tests.billing.conftest import import_usage, write_usage

    august = write_usage(
        tmp_path / "aug.csv", [("aug-1", "2026-08-10T12:00:00+08:00", "gd-edu", "gd-prov", "vcpu_hours", "1000")]
    )
    assert import_usage(world, august)["accepted"] == 1
    ok(world("bills", "run", "--period", "2026-08", "--as", "fin1", "--json"))
    ok(world("bills", "approve", f"{CONTRACT}@2026-08", "--as", "fin2", "--json"))
    late = write_usage(
        tmp_path / "late.csv",
        [
            ("late-1", "2026-08-30T12:00:00+08:00", "gd-gat", "gd-prov", "vcpu_hours", "1000"),
            ("late-2", "2026-08-30T13:00:00+08:00", "sw-gaj", "gd-prov", "vcpu_hours", "500"),
        ],
    )
    assert import_usage(world, late)["accepted"] == 2
    ok(world("bills", "run", "--period", "2026-09", "--as", "fin1", "--json"))
    # re-rated: 2,500 × 0.12 = 300.00, billed 120.00: a correction of 180.00, 120.00 of it gd-gat's
    (full,) = ok(world("bills", "show", "--period", "2026-09", "--contract", CONTRACT, "--format", "json"))["bills"]
    assert [x["amount"] for x in full["lines"] if x["kind"] == "correction"] == ["180.00"]
    (bill,) = ok(world("bills", "show", "--period", "2026-09", "--format", "json", "--as", "gat"))["bills"]
    (share,) = [s for s in bill["shares"] if s["kind"] == "correction"]
    assert share == {
        "kind": "correction",
        "meter": "vcpu_hours",
        "quantity": "1000",
        "unit_price": None,
        "amount": "120.00",
        "period": "2026-08",
    }
    text = "".join(
        world("bills", "show", "--period", "2026-09", *f, "--as", "gat").stdout
        for f in (("--format", "json"), ("--format", "csv"), ("--format", "focus"), ())
    )
    for secret in ("180.00", "1500", "60.00", "sw-gaj", full["payable"], "corrections"):
        assert secret not in text, secret
