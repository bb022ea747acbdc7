"""`zhengyun bills run|show|list`: drafts for every active contract, one transaction, locked bills untouched."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billing import service
from billing.rating import round2
from core.db import session_scope
from tenants.permissions import Actor
from tests.billing.conftest import BILL, CONTRACT, DATA, import_usage, ok, write_usage

FIN1 = Actor(name="fin1", role="finance")


def _show(cli: Any, *extra: str) -> Any:
    return ok(cli("bills", "show", "--period", "2026-10", "--format", "json", *extra))


def _bill(cli: Any, bill_id: str = BILL, *extra: str) -> dict[str, Any]:
    return next(b for b in _show(cli, *extra)["bills"] if b["id"] == bill_id)


def test_run_makes_a_draft_for_every_contract_active_in_the_period(world: Any) -> None:
    run = ok(world("bills", "run", "--period", "2026-10", "--as", "fin1", "--json"))
    assert run["bills"] == [
        {"id": "GZ-PAYG-2026@2026-10", "contract": "GZ-PAYG-2026", "status": "draft", "locked": False},
        {"id": BILL, "contract": CONTRACT, "status": "draft", "locked": False},
    ]
    bills = _show(world)["bills"]
    assert [b["id"] for b in bills] == ["GZ-PAYG-2026@2026-10", BILL]
    gz = bills[0]
    assert gz["payable"] == "165.00" and gz["lines"][0]["unit_price"] == "0.11"  # volume: 1500 at 0.11
    # events at 2026-09-30 23:59:59 and 2026-11-01 00:00 local fall outside the period
    vcpu = next(line for line in bills[1]["lines"] if line["meter"] == "vcpu_hours")
    assert vcpu["quantity"] == "135000.75"
    listed = ok(world("bills", "list", "--period", "2026-10", "--json"))["bills"]
    assert [(b["id"], b["status"], b["run_by"], b["stale"]) for b in listed] == [
        ("GZ-PAYG-2026@2026-10", "draft", "fin1", False),
        (BILL, "draft", "fin1", False),
    ]


def test_a_run_reports_its_progress_step_by_step_to_the_end(world: Any) -> None:
    steps: list[tuple[int, int]] = []
    with session_scope() as session:
        run = service.run_bills(
            session, actor=FIN1, period="2026-10", progress=lambda done, total: steps.append((done, total))
        )
    total = len(run.bills) + 2  # the usage sums, each contract, storing
    assert steps == [(done, total) for done in range(total + 1)]


def test_running_twice_on_the_same_data_gives_byte_identical_json(world: Any) -> None:
    ok(world("bills", "run", "--period", "2026-10", "--json"))
    first = world("bills", "show", "--period", "2026-10", "--format", "json").stdout
    ok(world("bills", "run", "--period", "2026-10", "--as", "fin1", "--json"))
    second = world("bills", "show", "--period", "2026-10", "--format", "json").stdout
    assert first == second and "computed" not in first
    assert world("bills", "show", "--period", "2026-10", "--json").stdout == second


def test_a_rerun_replaces_drafts_with_the_new_figures(world: Any, tmp_path: Path) -> None:
    ok(world("bills", "run", "--period", "2026-10", "--json"))
    before = _bill(world)
    import_usage(
        world,
        write_usage(
            tmp_path / "more.csv", [("x-1", "2026-10-30T12:00:00+08:00", "gd-gat", "gd-prov", "vcpu_hours", "1000")]
        ),
    )
    ok(world("bills", "run", "--period", "2026-10", "--json"))
    after = _bill(world)
    vcpu = [line for line in after["lines"] if line["meter"] == "vcpu_hours"]
    assert len(vcpu) == 1 and vcpu[0]["quantity"] == "136000.75" and vcpu[0]["amount"] == "15600.08"
    assert Decimal(after["base"]) - Decimal(before["base"]) == Decimal("100.00")
    assert len(after["lines"]) == len(before["lines"])


@pytest.mark.parametrize("where", ["rating the second contract", "after every bill is written"])
def test_a_failure_part_way_leaves_no_bill_half_written(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    ok(world("bills", "run", "--period", "2026-10", "--json"))
    before = world("bills", "show", "--period", "2026-10", "--format", "json").stdout
    import_usage(
        world,
        write_usage(
            tmp_path / "more.csv",
            [
                ("x-1", "2026-10-30T12:00:00+08:00", "gz-gaj", "gz", "vcpu_hours", "500"),
                ("x-2", "2026-10-30T12:00:00+08:00", "gd-gat", "gd-prov", "vcpu_hours", "500"),
            ],
        ),
    )
    calls = {"n": 0}
    if where == "rating the second contract":  # the old drafts are already deleted by then
        real = service.rate_bill

        def failing(inputs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("injected failure")
            return real(inputs)

        monkeypatch.setattr(service, "rate_bill", failing)
    else:  # the new bills, lines and allocations are flushed when the audit entry is appended

        def failing_audit(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            with session_scope() as other:  # nothing of the run is visible outside its transaction
                from billing.models import Bill

                assert other.get(Bill, BILL) is not None  # the old draft, still committed
            raise RuntimeError("injected failure")

        monkeypatch.setattr(service.audit, "append", failing_audit)
    failed = world("bills", "run", "--period", "2026-10", "--json")
    assert failed.code == 1 and "RuntimeError: injected failure" in failed.json()["error"]
    assert "Traceback" in failed.logged and "injected failure" in failed.logged
    assert calls["n"] >= 1
    monkeypatch.undo()
    assert world("bills", "show", "--period", "2026-10", "--format", "json").stdout == before
    runs = [e for e in _audit(world) if e["action"] == "bills.run"]
    assert len(runs) == 1


def _audit(cli: Any) -> list[dict[str, Any]]:
    from sqlmodel import select

    from core.audit import AuditEntry

    with session_scope() as s:
        return [
            {"action": e.action, "entity": e.entity, "actor": e.actor, "payload": e.payload}
            for e in s.exec(select(AuditEntry).order_by(AuditEntry.seq))
        ]


def test_a_run_before_the_period_ends_is_provisional(world: Any) -> None:
    moment = datetime(2026, 10, 10, 12, 0, tzinfo=UTC)  # 2026-10-10 20:00 in Shanghai
    with session_scope() as s:
        result = service.run_bills(s, actor=FIN1, period="2026-10", now=lambda: moment)
    assert result.provisional
    bill = _bill(world)
    assert "provisional" in bill["flags"]
    annual = bill["lines"][0]
    assert annual["kind"] == "annual" and annual["quantity"] == "10"  # 1–10 October so far
    # round2(1,200,000 × 283 / 365) − round2(1,200,000 × 273 / 365)
    assert annual["amount"] == "32876.71"
    refused = world("bills", "approve", BILL, "--as", "fin2", "--json")
    assert refused.code == 1 and "provisional" in refused.json()["error"]


def test_contracts_not_active_in_the_period_get_no_bill(world: Any) -> None:
    run = ok(world("bills", "run", "--period", "2025-12", "--json"))
    assert run["bills"] == []
    assert ok(world("bills", "show", "--period", "2025-12", "--format", "json")) == {"bills": []}


def test_who_may_run_and_see_bills(world: Any) -> None:
    for user in ("ops", "gat", "aud"):
        refused = world("bills", "run", "--period", "2026-10", "--as", user, "--json")
        assert refused.code == 1 and "may not run bills" in refused.json()["error"], user
    ok(world("bills", "run", "--period", "2026-10", "--as", "fin1", "--json"))
    assert [b["id"] for b in _show(world, "--as", "aud")["bills"]] == ["GZ-PAYG-2026@2026-10", BILL]
    assert [b["id"] for b in _show(world, "--as", "ops")["bills"]] == [BILL]
    assert [b["id"] for b in _show(world, "--as", "gzop")["bills"]] == ["GZ-PAYG-2026@2026-10"]
    # a department sees only its own shares of the lines it has a share of, never a line or the bill whole
    (mine,) = _show(world, "--as", "gat")["bills"]
    assert mine["department"] == "gd-gat"
    assert [share["meter"] for share in mine["shares"]] == ["storage_gib_hours", "vcpu_hours"]
    assert mine["shares"][1]["amount"] == "5166.72"
    assert not {"lines", "payable", "base"} & set(mine)
    hidden = world("bills", "show", "--period", "2026-10", "--contract", "GZ-PAYG-2026", "--as", "ops", "--json")
    assert hidden.code == 1


def test_csv_export_has_a_row_per_line_and_per_allocation(world: Any) -> None:
    ok(world("bills", "run", "--period", "2026-10", "--json"))
    text = world("bills", "show", "--period", "2026-10", "--contract", CONTRACT, "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    lines = [r for r in rows if r["row"] == "line"]
    assert [r["kind"] for r in lines] == ["annual", "unpriced", "usage", "usage", "sla_credit", "evaluation"]
    assert sum(Decimal(r["amount"]) for r in lines) == Decimal("100462.11")
    shares = [(r["department"], r["amount"]) for r in rows if r["row"] == "allocation" and r["meter"] == "vcpu_hours"]
    assert shares == [("gd-edu", "9185.18"), ("gd-gat", "5166.72"), ("sw-gaj", "1148.18")]


def test_focus_export_through_the_command_line_sums_to_each_payable(world: Any) -> None:
    ok(world("bills", "run", "--period", "2026-10", "--json"))
    payable = {b["id"]: Decimal(b["payable"]) for b in _show(world)["bills"]}
    text = world("bills", "show", "--period", "2026-10", "--format", "focus").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    sums: dict[str, Decimal] = {}
    for r in rows:
        sums[r["x_BillId"]] = sums.get(r["x_BillId"], Decimal(0)) + Decimal(r["BilledCost"])
        assert r["BillingAccountId"] == "gd" and r["BillingAccountName"] == "广东省"
        assert r["BillingPeriodStart"] == "2026-09-30T16:00:00Z" and r["BillingPeriodEnd"] == "2026-10-31T16:00:00Z"
    assert sums == payable
    worked = [r for r in rows if r["x_BillId"] == BILL]
    assert {r["ProviderName"] for r in worked} == {"数字广东网络建设有限公司"}
    assert [r["ChargeCategory"] for r in worked] == [
        "Purchase",
        "Usage",
        "Usage",
        "Usage",
        "Usage",
        "Usage",
        "Usage",
        "Credit",
        "Credit",
    ]
    assert {r["PricingUnit"] for r in worked if r["x_Meter"] == "vcpu_hours"} == {"Hours"}  # FOCUS unit format


def test_a_contract_with_probes_but_no_checks_needs_review(world: Any) -> None:
    ok(world("contracts", "import", str(DATA / "probed_contracts.yaml"), "--json"))
    ok(world("bills", "run", "--period", "2026-10", "--json"))
    bill = _bill(world, "PROBED-2026@2026-10")
    assert bill["flags"] == ["needs_review"]
    assert bill["sla_credit"] == "0.00"  # insufficient availability: no automatic credit
    refused = world("bills", "approve", "PROBED-2026@2026-10", "--as", "fin1", "--json")
    assert refused.code == 1 and "needs review" in refused.json()["error"]
    approved = ok(
        world(
            "bills",
            "approve",
            "PROBED-2026@2026-10",
            "--as",
            "fin1",
            "--override",
            "probes were being migrated; checked the operator's own monitoring",
            "--json",
        )
    )
    assert approved["bill"]["status"] == "approved"
    entry = [e for e in _audit(world) if e["action"] == "bills.approve"][-1]
    assert "probes were being migrated" in entry["payload"] and entry["actor"] == "fin1"


def test_usage_no_contract_prices_that_day_is_an_unpriced_line(world: Any, tmp_path: Path) -> None:
    ok(world("contracts", "import", str(DATA / "half_month_contracts.yaml"), "--json"))
    import_usage(
        world,
        write_usage(
            tmp_path / "gpu.csv",
            [
                ("g-1", "2026-09-10T12:00:00+08:00", "gz-gaj", "gz", "gpu_hours", "3"),
                ("g-2", "2026-09-15T23:59:59+08:00", "gz-gaj", "gz", "gpu_hours", "0.5"),
                ("g-3", "2026-09-16T00:00:00+08:00", "gz-gaj", "gz", "gpu_hours", "5"),
            ],
        ),
    )
    ok(world("bills", "run", "--period", "2026-09", "--json"))
    shown = {b["id"]: b for b in ok(world("bills", "show", "--period", "2026-09", "--format", "json"))["bills"]}
    payg = shown["GZ-PAYG-2026@2026-09"]
    assert payg["flags"] == ["unpriced_usage"]
    assert [(x["kind"], x["meter"], x["quantity"], x["amount"]) for x in payg["lines"]] == [
        ("unpriced", "gpu_hours", "3.5", "0.00")
    ]
    half = shown["GZ-GPU-HALF-2026@2026-09"]
    assert [(x["kind"], x["meter"], x["quantity"], x["amount"]) for x in half["lines"]] == [
        ("usage", "gpu_hours", "5", "40.00")
    ]
    assert half["flags"] == []


def test_unpriced_usage_is_listed_once_on_the_first_contract_active_on_its_cloud(world: Any, tmp_path: Path) -> None:
    # docs/reference.md#usage-charges: once per cloud and meter, on the bill of the first contract (by id) active on that cloud
    # that day — not repeated at 0.00 on every contract covering the cloud.
    terms = tmp_path / "more.yaml"
    terms.write_text(
        "contracts:\n"
        "  - {id: GD-EARLY-2026, operator: dgcloud, clouds: [gd-prov], service: paas, start: 2026-01-01,"
        " end: 2026-10-08, annual_fee: '36500.00'}\n"
        "  - {id: GD-PAAS-2026, operator: dgcloud, clouds: [gd-prov], service: paas, start: 2026-01-01,"
        " end: 2026-12-31, prices: [{meter: api_calls, model: flat, unit_price: '0.001'}]}\n",
        encoding="utf-8",
    )
    ok(world("contracts", "import", str(terms), "--json"))
    import_usage(
        world,
        write_usage(tmp_path / "e.csv", [("e-1", "2026-10-02T12:00:00+08:00", "gd-edu", "gd-prov", "egress_gib", "7")]),
    )
    ok(world("bills", "run", "--period", "2026-10", "--json"))
    shown = {b["contract"]: b for b in _show(world)["bills"]}

    def unpriced(contract: str) -> list[tuple[str, str]]:
        return [(x["meter"], x["quantity"]) for x in shown[contract]["lines"] if x["kind"] == "unpriced"]

    assert unpriced("GD-EARLY-2026") == [("egress_gib", "7")]  # 2 October: the first contract by id active
    assert unpriced("GD-PAAS-2026") == [("egress_gib", "120")]  # 9 October: GD-EARLY's term has ended
    assert unpriced(CONTRACT) == []
    assert "unpriced_usage" not in shown[CONTRACT]["flags"]
    assert unpriced("GZ-PAYG-2026") == []


def test_a_month_of_events_at_the_quantity_limit_is_billed_exactly(world: Any, tmp_path: Path) -> None:
    # 25 valid events of just below 10^12 vCPU-hours: their sum passes a 64-bit integer of millionths
    largest = Decimal("999999999999.999999")
    rows = [
        (
            f"max-{i}",
            "2026-10-10T10:00:00+08:00",
            "gd-gat" if i % 2 else "sw-gaj",
            "gd-prov",
            "vcpu_hours",
            str(largest),
        )
        for i in range(25)
    ]
    assert import_usage(world, write_usage(tmp_path / "max.csv", rows))["accepted"] == 25
    run = world("bills", "run", "--period", "2026-10", "--as", "fin1", "--json")
    assert run.code == 0, run
    vcpu = next(line for line in _bill(world)["lines"] if line["meter"] == "vcpu_hours")
    quantity = Decimal("135000.75") + largest * 25  # the worked example's vCPU-hours and these
    assert Decimal(vcpu["quantity"]) == quantity
    # graduated: the first 100,000 at 0.12, the rest at 0.10 (docs/reference.md#usage-charges), rounded once
    assert Decimal(vcpu["amount"]) == round2(100000 * Decimal("0.12") + (quantity - 100000) * Decimal("0.10"))
    assert sum(Decimal(a["amount"]) for a in vcpu["allocations"]) == Decimal(vcpu["amount"])
    shown = world("usage", "show", "--period", "2026-10", "--json")
    assert shown.code == 0, shown
