"""Late usage (docs/reference.md#late-usage): correction lines on the next bill run of a later period, never twice."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.billing.conftest import BILL, CONTRACT, DATA, import_usage, ok, write_usage


def _run(cli: Any, period: str, user: str = "fin1") -> Any:
    return ok(cli("bills", "run", "--period", period, "--as", user, "--json"))


def _bill(cli: Any, period: str, contract: str = CONTRACT) -> dict[str, Any]:
    shown = ok(cli("bills", "show", "--period", period, "--contract", contract, "--format", "json"))
    (bill,) = shown["bills"]
    return bill


def _corrections(bill: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for line in bill["lines"] if line["kind"] == "correction"]


AUGUST = f"{CONTRACT}@2026-08"


def _late(cli: Any, tmp_path: Path, name: str, *rows: tuple[str, ...]) -> None:
    report = import_usage(cli, write_usage(tmp_path / name, list(rows)))  # type: ignore[arg-type]
    assert report["accepted"] == len(rows), report


def _august(cli: Any, tmp_path: Path) -> dict[str, Any]:
    """August usage (1,000 vCPU-hours of gd-edu), billed and approved."""
    _late(
        cli, tmp_path, "august.csv", ("aug-1", "2026-08-10T12:00:00+08:00", "gd-edu", "gd-prov", "vcpu_hours", "1000")
    )
    _run(cli, "2026-08")
    ok(cli("bills", "approve", AUGUST, "--as", "fin2", "--json"))
    return _bill(cli, "2026-08")


LATE_GAT = ("late-1", "2026-08-30T12:00:00+08:00", "gd-gat", "gd-prov", "vcpu_hours", "1000")


def test_late_usage_becomes_a_correction_on_the_next_run_allocated_to_who_added_it(world: Any, tmp_path: Path) -> None:
    approved = _august(world, tmp_path)
    assert next(x for x in approved["lines"] if x["meter"] == "vcpu_hours")["amount"] == "120.00"
    _late(world, tmp_path, "late.csv", LATE_GAT)
    _run(world, "2026-09")
    september = _bill(world, "2026-09")
    (line,) = _corrections(september)
    # re-rated with every event now known: 2,000 × 0.12 = 240.00; billed 120.00
    assert line == {
        "kind": "correction",
        "meter": "vcpu_hours",
        "quantity": "1000",
        "unit_price": None,
        "amount": "120.00",
        "period": "2026-08",
        "allocations": [{"department": "gd-gat", "quantity": "1000", "amount": "120.00"}],
    }
    assert september["corrections"] == "120.00"
    assert Decimal(september["payable"]) == sum(Decimal(x["amount"]) for x in september["lines"])
    assert _bill(world, "2026-08") == approved  # the approved bill itself never changes
    # running again does not add it twice
    _run(world, "2026-09")
    assert _corrections(_bill(world, "2026-09")) == [line]
    # once September is approved, the correction counts as billed: October has none
    ok(world("bills", "approve", f"{CONTRACT}@2026-09", "--as", "fin2", "--json"))
    _run(world, "2026-10")
    assert _corrections(_bill(world, "2026-10")) == []
    # more late usage for August after that: only the new part is corrected
    _late(
        world,
        tmp_path,
        "later.csv",
        ("late-2", "2026-08-31T12:00:00+08:00", "gd-edu", "gd-prov", "vcpu_hours", "500"),
        ("late-3", "2026-08-31T13:00:00+08:00", "sw-gaj", "gd-prov", "vcpu_hours", "250"),
    )
    _run(world, "2026-10")
    october = _bill(world, "2026-10")
    (again,) = _corrections(october)
    # 2,750 × 0.12 = 330.00; billed 120.00 + 120.00
    assert again["amount"] == "90.00" and again["quantity"] == "750" and again["period"] == "2026-08"
    assert again["allocations"] == [
        {"department": "gd-edu", "quantity": "500", "amount": "60.00"},
        {"department": "sw-gaj", "quantity": "250", "amount": "30.00"},
    ]
    assert october["payable"] == "100552.11"  # the worked example's 100,462.11 + 90.00


def test_late_usage_on_a_draft_period_is_not_a_correction(world: Any, tmp_path: Path) -> None:
    _late(
        world, tmp_path, "august.csv", ("aug-1", "2026-08-10T12:00:00+08:00", "gd-edu", "gd-prov", "vcpu_hours", "1000")
    )
    _run(world, "2026-08")  # a draft: late events simply go into it when it runs again
    _late(world, tmp_path, "late.csv", LATE_GAT)
    _run(world, "2026-09")
    assert _corrections(_bill(world, "2026-09")) == []
    _run(world, "2026-08")
    vcpu = next(x for x in _bill(world, "2026-08")["lines"] if x["meter"] == "vcpu_hours")
    assert vcpu["amount"] == "240.00"


def test_a_draft_carrying_corrections_goes_stale_when_another_bill_bills_them(world: Any, tmp_path: Path) -> None:
    _august(world, tmp_path)
    _late(world, tmp_path, "late.csv", LATE_GAT)
    _run(world, "2026-09")
    _run(world, "2026-10")  # September is still a draft: October carries the same correction
    assert _corrections(_bill(world, "2026-10"))[0]["amount"] == "120.00"
    ok(world("bills", "approve", f"{CONTRACT}@2026-09", "--as", "fin2", "--json"))
    refused = world("bills", "approve", BILL, "--as", "fin2", "--json")
    assert refused.code == 1 and "earlier bill" in refused.json()["error"]
    _run(world, "2026-10")
    assert _corrections(_bill(world, "2026-10")) == []
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))


def test_after_the_term_ended_late_usage_makes_a_corrections_only_bill(world: Any, tmp_path: Path) -> None:
    ok(world("contracts", "import", str(DATA / "short_contracts.yaml"), "--json"))
    _late(world, tmp_path, "gpu.csv", ("gpu-1", "2026-08-10T12:00:00+08:00", "gz-gaj", "gz", "gpu_hours", "10"))
    _run(world, "2026-08")
    assert _bill(world, "2026-08", "GZ-GPU-2026-08")["payable"] == "80.00"
    ok(world("bills", "approve", "GZ-GPU-2026-08@2026-08", "--as", "fin2", "--json"))
    september = _run(world, "2026-09")
    assert "GZ-GPU-2026-08@2026-09" not in [b["id"] for b in september["bills"]]  # ended, nothing late
    _late(world, tmp_path, "gpu-late.csv", ("gpu-2", "2026-08-20T12:00:00+08:00", "gz-gaj", "gz", "gpu_hours", "2.5"))
    september = _run(world, "2026-09")
    assert {
        "id": "GZ-GPU-2026-08@2026-09",
        "contract": "GZ-GPU-2026-08",
        "status": "draft",
        "locked": False,
    } in september["bills"]
    bill = _bill(world, "2026-09", "GZ-GPU-2026-08")
    assert [x["kind"] for x in bill["lines"]] == ["correction"]
    assert bill["base"] == "0.00" and bill["payable"] == "20.00" and bill["corrections"] == "20.00"
    assert _corrections(bill)[0]["allocations"] == [{"department": "gz-gaj", "quantity": "2.5", "amount": "20.00"}]
    _run(world, "2026-09")
    assert _bill(world, "2026-09", "GZ-GPU-2026-08") == bill
    ok(world("bills", "approve", "GZ-GPU-2026-08@2026-09", "--as", "fin2", "--json"))
    october = _run(world, "2026-10")
    assert "GZ-GPU-2026-08@2026-10" not in [b["id"] for b in october["bills"]]
