"""docs/billing.md: the worked example, computed through the command line, agrees with the document."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.billing.conftest import BILL, CONTRACT, PAYMENT, ok

DOC = Path(__file__).resolve().parents[2] / "docs" / "billing.md"


def _doc_bill_table() -> list[tuple[str, str, str]]:
    """(kind, meter, amount) rows of the document's "The bill" table."""
    text = DOC.read_text(encoding="utf-8").split("## The bill", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].isdigit():
            rows.append((cells[1], cells[2], cells[5].replace(",", "").replace("−", "-")))
    return rows


def _doc_figure(name: str) -> str:
    """The last `name = … = X` figure of a code block of the document, as a plain decimal."""
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(rf"^{name}\s*=.*?(-?[\d,]+\.\d\d)\s*(?:\(.*\))?$", text, flags=re.M)
    assert found, name
    return found[-1].replace(",", "")


def test_the_worked_example_through_the_command_line_matches_docs_billing_md(world: Any) -> None:
    ok(world("bills", "run", "--period", "2026-10", "--as", "fin1", "--json"))
    (bill,) = ok(world("bills", "show", "--period", "2026-10", "--contract", CONTRACT, "--format", "json"))["bills"]
    assert bill["id"] == BILL and bill["flags"] == ["unpriced_usage"]
    assert [(x["kind"], x["meter"] or "", x["amount"]) for x in bill["lines"]] == _doc_bill_table()
    assert bill["base"] == _doc_figure("base") == "118190.72"
    assert bill["sla_credit"] == _doc_figure("sla_credit") == "11819.07"
    assert bill["evaluation_deduction"] == _doc_figure("evaluation_deduction") == "5909.54"
    assert bill["payable"] == _doc_figure("payable") == "100462.11"
    assert bill["cap_adjustment"] == "0.00" and bill["corrections"] == "0.00"
    assert bill["availability"] == "99.663073" and bill["score"] == "66.666667"
    annual, unpriced, storage, vcpu = bill["lines"][:4]
    assert annual["quantity"] == "31"
    assert unpriced["allocations"] == [{"department": "gd-edu", "quantity": "120", "amount": "0.00"}]
    assert storage["quantity"] == "1545678.9" and storage["unit_price"] == "0.0005"
    assert [(a["department"], a["amount"]) for a in storage["allocations"]] == [
        ("gd-edu", "600.00"),
        ("gd-gat", "172.84"),
    ]
    assert vcpu["quantity"] == "135000.75" and vcpu["unit_price"] is None
    assert [(a["department"], a["amount"]) for a in vcpu["allocations"]] == [
        ("gd-edu", "9185.18"),
        ("gd-gat", "5166.72"),
        ("sw-gaj", "1148.18"),
    ]
    assert sum(Decimal(x["amount"]) for x in bill["lines"]) == Decimal(bill["payable"])
    # the worked example's approval path
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    ok(world("bills", "pay", BILL, "--as", "fin3", *PAYMENT, "--json"))
