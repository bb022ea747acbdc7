"""Four-eyes approval and payment; an approved bill's lines can no longer change by any route."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from core.db import session_scope
from tests.billing.conftest import BILL, CONTRACT, DATA, PAYMENT, import_usage, ok, write_usage


def _run(cli: Any, user: str = "fin1", period: str = "2026-10") -> Any:
    return ok(cli("bills", "run", "--period", period, "--as", user, "--json"))


def _error(result: Any) -> str:
    assert result.code == 1, result
    return result.json()["error"]


def _json(cli: Any, period: str = "2026-10") -> str:
    result = cli("bills", "show", "--period", period, "--contract", CONTRACT, "--format", "json")
    assert result.code == 0, result
    return result.stdout


def test_only_finance_users_approve_and_pay_never_admin(world: Any) -> None:
    _run(world)
    for user in ("admin", "ops", "gat", "aud"):
        assert "may not approve bills" in _error(world("bills", "approve", BILL, "--as", user, "--json")), user
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    for user in ("admin", "ops", "aud"):
        assert "may not pay bills" in _error(world("bills", "pay", BILL, "--as", user, *PAYMENT, "--json")), user


def test_four_eyes_the_user_who_ran_the_bills_cannot_approve_or_pay_them(world: Any) -> None:
    _run(world, "fin1")
    assert "four eyes" in _error(world("bills", "approve", BILL, "--as", "fin1", "--json"))
    _run(world, "fin2")  # the last run decides: now fin2 ran them
    assert "four eyes" in _error(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    approved = ok(world("bills", "approve", BILL, "--as", "fin1", "--json"))["bill"]
    assert approved["status"] == "approved" and approved["approved_by"] == "fin1" and approved["run_by"] == "fin2"
    assert "four eyes" in _error(world("bills", "pay", BILL, "--as", "fin2", *PAYMENT, "--json"))
    # fin1 approved it: by default a third finance user pays (docs/reference.md#four-eyes)
    assert "four eyes: fin1 approved bill" in _error(world("bills", "pay", BILL, "--as", "fin1", *PAYMENT, "--json"))
    paid = ok(world("bills", "pay", BILL, "--as", "fin3", *PAYMENT, "--json"))["bill"]
    assert paid["status"] == "paid" and paid["paid_by"] == "fin3"


def test_only_in_the_order_draft_approved_paid(world: Any) -> None:
    _run(world)
    assert "is draft, not approved" in _error(world("bills", "pay", BILL, "--as", "fin3", *PAYMENT, "--json"))
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    assert "is approved, not draft" in _error(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    ok(world("bills", "pay", BILL, "--as", "fin3", *PAYMENT, "--json"))
    assert "is paid, not approved" in _error(world("bills", "pay", BILL, "--as", "fin3", *PAYMENT, "--json"))
    assert "is paid, not draft" in _error(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    assert "not found" in _error(world("bills", "approve", "NOPE@2026-10", "--as", "fin2", "--json"))


def test_each_change_is_an_audit_entry_and_the_chain_verifies(world: Any) -> None:
    _run(world)
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    ok(world("bills", "pay", BILL, "--as", "fin3", *PAYMENT, "--json"))
    from sqlmodel import select

    from core.audit import AuditEntry

    with session_scope() as s:
        entries = [
            (e.action, e.entity, e.actor)
            for e in s.exec(select(AuditEntry).order_by(AuditEntry.seq))
            if e.action.startswith("bills.")
        ]
    assert entries == [
        ("bills.run", "period:2026-10", "fin1"),
        ("bills.approve", f"bill:{BILL}", "fin2"),
        ("bills.pay", f"bill:{BILL}", "fin3"),
    ]
    assert ok(world("audit", "verify", "--json"))["ok"] is True


@pytest.mark.parametrize("change", ["usage", "outage", "rating", "maintenance", "terms"])
def test_a_stale_draft_is_refused_until_the_bills_run_again(world: Any, tmp_path: Path, change: str) -> None:
    _run(world)
    if change == "usage":
        import_usage(
            world,
            write_usage(
                tmp_path / "late.csv", [("x-1", "2026-10-30T12:00:00+08:00", "gd-gat", "gd-prov", "vcpu_hours", "1")]
            ),
        )
    elif change == "outage":
        ok(
            world(
                "sla",
                "outages",
                "add",
                "--contract",
                CONTRACT,
                "--start",
                "2026-10-28T10:00:00+08:00",
                "--end",
                "2026-10-28T10:05:00+08:00",
                "--note",
                "found later",
                "--json",
            )
        )
    elif change == "rating":
        rating = tmp_path / "r.csv"
        rating.write_text(
            f"department,contract,time,level,comment\ngd-edu,{CONTRACT},2026-10-30T10:00:00+08:00,4,\n",
            encoding="utf-8",
        )
        ok(world("ratings", "import", str(rating), "--json"))
    elif change == "maintenance":
        window = tmp_path / "m.csv"
        window.write_text(
            "contract,start,end,announced_at,approved\n"
            f"{CONTRACT},2026-10-25T02:00:00+08:00,2026-10-25T03:00:00+08:00,"
            "2026-10-20T09:00:00+08:00,true\n",
            encoding="utf-8",
        )
        ok(world("sla", "maintenance", "import", str(window), "--json"))
    else:
        terms = (DATA / "worked_contracts.yaml").read_text(encoding="utf-8").replace('"1200000.00"', '"1300000.00"')
        (tmp_path / "c.yaml").write_text(terms, encoding="utf-8")
        ok(world("contracts", "import", str(tmp_path / "c.yaml"), "--json"))  # a draft's terms may change
    assert "is stale" in _error(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    listed = ok(world("bills", "list", "--period", "2026-10", "--json"))["bills"]
    assert next(b for b in listed if b["id"] == BILL)["stale"] is True
    _run(world)
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))


def test_an_approved_bill_stays_locked_whatever_happens_next(world: Any, tmp_path: Path) -> None:
    _run(world)
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    before = _json(world)
    # 1. bills run again: reported as locked, untouched
    run = _run(world)
    assert {"id": BILL, "contract": CONTRACT, "status": "approved", "locked": True} in run["bills"]
    # 2. late usage, outages, ratings of its period: stored, but the bill does not change
    import_usage(
        world,
        write_usage(
            tmp_path / "late.csv", [("x-1", "2026-10-30T12:00:00+08:00", "gd-gat", "gd-prov", "vcpu_hours", "1000")]
        ),
    )
    ok(
        world(
            "sla",
            "outages",
            "add",
            "--contract",
            CONTRACT,
            "--start",
            "2026-10-28T10:00:00+08:00",
            "--end",
            "2026-10-28T12:00:00+08:00",
            "--note",
            "found later",
            "--json",
        )
    )
    _run(world)
    assert _json(world) == before
    # 3. changing the contract's terms: refused, naming the locked period
    terms = (DATA / "worked_contracts.yaml").read_text(encoding="utf-8").replace('"0.0005"', '"0.0006"')
    (tmp_path / "c.yaml").write_text(terms, encoding="utf-8")
    refused = world("contracts", "import", str(tmp_path / "c.yaml"), "--json")
    assert refused.code == 1 and "2026-10" in str(refused.json()), refused
    # 4. paying changes the status and records the payment's reference and date, nothing else
    ok(world("bills", "pay", BILL, "--as", "fin3", *PAYMENT, "--json"))
    paid = (
        before.replace('"status": "approved"', '"status": "paid"')
        .replace('"payment_reference": null', '"payment_reference": "FZ-2026-1105-001"')
        .replace('"payment_date": null', '"payment_date": "2026-11-05"')
    )
    assert _json(world) == paid
    # 5. straight SQL on the tables: the database refuses
    for statement in (
        f"UPDATE bill_line SET amount = '1.00' WHERE bill_id = '{BILL}'",
        f"DELETE FROM bill_line WHERE bill_id = '{BILL}'",
        f"UPDATE bill_allocation SET amount = '1.00' WHERE bill_id = '{BILL}'",
        f"DELETE FROM bill_allocation WHERE bill_id = '{BILL}'",
        f"INSERT INTO bill_line (bill_id, seq, kind, amount) VALUES ('{BILL}', 99, 'correction', '1.00')",
        f"UPDATE bill SET payable = '1.00' WHERE id = '{BILL}'",
        f"UPDATE bill SET status = 'draft' WHERE id = '{BILL}'",
        f"DELETE FROM bill WHERE id = '{BILL}'",
        # a paid bill's payment details are as final as the rest (migration 0010)
        f"UPDATE bill SET payment_reference = 'OTHER' WHERE id = '{BILL}'",
        f"UPDATE bill SET payment_date = '2026-11-06' WHERE id = '{BILL}'",
        f"UPDATE bill SET payment_reference = NULL, payment_date = NULL WHERE id = '{BILL}'",
        f"UPDATE bill SET paid_by = 'fin1' WHERE id = '{BILL}'",
    ):
        with pytest.raises(DBAPIError, match="approved or paid"):
            with session_scope() as s:
                s.execute(text(statement))
    assert _json(world) == paid


def test_an_approved_but_unpaid_bill_is_locked_too_and_drafts_are_not(world: Any) -> None:
    _run(world)
    with session_scope() as s:  # a draft's lines may be replaced (that is what a run does)
        s.execute(text(f"UPDATE bill_line SET amount = amount WHERE bill_id = '{BILL}'"))
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    with pytest.raises(DBAPIError, match="approved or paid"):
        with session_scope() as s:
            s.execute(text(f"UPDATE bill_allocation SET quantity = '0' WHERE bill_id = '{BILL}'"))
    with pytest.raises(DBAPIError, match="approved or paid"):
        with session_scope() as s:
            s.execute(text(f"UPDATE bill SET status = 'paid', payable = '0.00' WHERE id = '{BILL}'"))


def test_the_lock_lets_paying_record_its_reference_and_date_and_nothing_else(world: Any) -> None:
    """Migration 0010's triggers (SQLite and PostgreSQL): approved → paid may set status, paid_by, paid_at and
    the payment's reference and date — must set the last two — and still nothing else."""
    _run(world)
    with pytest.raises(DBAPIError, match="approved or paid"):  # a draft carries no payment details
        with session_scope() as s:
            s.execute(text(f"UPDATE bill SET payment_reference = 'R-1' WHERE id = '{BILL}'"))
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    for statement in (
        f"UPDATE bill SET status = 'paid', paid_by = 'x' WHERE id = '{BILL}'",  # paid without reference and date
        f"UPDATE bill SET status = 'paid', payment_reference = 'R-1' WHERE id = '{BILL}'",
        f"UPDATE bill SET payment_reference = 'R-1', payment_date = '2026-11-05' WHERE id = '{BILL}'",  # still approved
        f"UPDATE bill SET status = 'paid', payment_reference = 'R-1', payment_date = '2026-11-05', payable = '0.00' "
        f"WHERE id = '{BILL}'",
    ):
        with pytest.raises(DBAPIError, match="approved or paid"):
            with session_scope() as s:
                s.execute(text(statement))
    with session_scope() as s:  # what the service does, straight in SQL: allowed
        s.execute(
            text(
                "UPDATE bill SET status = 'paid', paid_by = 'fin3', payment_reference = 'R-1', "
                f"payment_date = '2026-11-05' WHERE id = '{BILL}'"
            )
        )
    shown = ok(world("bills", "list", "--period", "2026-10", "--json"))["bills"]
    assert [(b["status"], b["payment_reference"], b["payment_date"]) for b in shown if b["id"] == BILL] == [
        ("paid", "R-1", "2026-11-05")
    ]


def test_the_approver_pays_only_where_the_province_allows_it(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import get_settings

    _run(world)
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    refused = world("bills", "pay", BILL, "--as", "fin2", *PAYMENT, "--json")
    assert refused.code == 1 and "four eyes: fin2 approved bill" in refused.json()["error"], refused
    monkeypatch.setenv("ZHENGYUN_APPROVER_MAY_PAY", "true")
    get_settings.cache_clear()
    assert get_settings().approver_may_pay is True
    paid = ok(world("bills", "pay", BILL, "--as", "fin2", *PAYMENT, "--json"))["bill"]
    assert (paid["status"], paid["approved_by"], paid["paid_by"]) == ("paid", "fin2", "fin2")


def test_the_setting_defaults_to_a_third_finance_user() -> None:
    from core.settings import load_settings

    assert load_settings({}).approver_may_pay is False
    assert load_settings({"ZHENGYUN_APPROVER_MAY_PAY": "false"}).approver_may_pay is False
    assert load_settings({"ZHENGYUN_APPROVER_MAY_PAY": "1"}).approver_may_pay is True


@pytest.mark.parametrize(
    ("args", "field", "says"),
    [
        ((), "reference", "payment reference (付款凭证号) is required"),
        (("--date", "2026-11-05"), "reference", "payment reference (付款凭证号) is required"),
        (("--reference", "   ", "--date", "2026-11-05"), "reference", "is required"),
        (("--reference", "R" * 65, "--date", "2026-11-05"), "reference", "longer than 64 characters"),
        (("--reference", "R-1\x07", "--date", "2026-11-05"), "reference", "control character"),
        (("--reference", "R-1\nR-2", "--date", "2026-11-05"), "reference", "control character"),
        (("--reference", "R-1"), "date", "payment date (付款日期, YYYY-MM-DD) is required"),
        (("--reference", "R-1", "--date", "2026-02-30"), "date", "is not a date"),
        (("--reference", "R-1", "--date", "5 Nov 2026"), "date", "is not a date"),
        (("--reference", "R-1", "--date", "20261105"), "date", "is not a date"),
        (("--reference", "R-1", "--date", "2026-09-30"), "date", "before the bill's period 2026-10"),
        (("--reference", "R-1", "--date", "2999-01-01"), "date", "years 2000-2099"),
        (("--reference", "R-1", "--date", "1999-12-31"), "date", "years 2000-2099"),
        (("--reference", "R-1", "--date", "2099-01-01"), "date", "in the future"),
    ],
)
def test_paying_takes_a_valid_reference_and_date(world: Any, args: tuple[str, ...], field: str, says: str) -> None:
    _run(world)
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    refused = world("bills", "pay", BILL, "--as", "fin3", *args, "--json")
    assert refused.code == 1, refused
    body = refused.json()
    assert body["error"].startswith(f"{field}: ") and says in body["error"], body
    assert [(p["path"], p["message"]) for p in body["problems"]] == [(field, body["error"])], body
    listed = ok(world("bills", "list", "--period", "2026-10", "--json"))["bills"]
    assert [b["status"] for b in listed if b["id"] == BILL] == ["approved"]  # nothing changed


def test_the_payment_reference_and_date_are_on_the_bill_and_in_every_export(world: Any) -> None:
    _run(world)
    ok(world("bills", "approve", BILL, "--as", "fin2", "--json"))
    paid = ok(world("bills", "pay", BILL, "--as", "fin3", *PAYMENT, "--json"))["bill"]
    assert (paid["payment_reference"], paid["payment_date"]) == ("FZ-2026-1105-001", "2026-11-05")
    (shown,) = json.loads(_json(world))["bills"]
    assert (shown["payment_reference"], shown["payment_date"]) == ("FZ-2026-1105-001", "2026-11-05")
    text_out = world("bills", "show", "--period", "2026-10", "--contract", CONTRACT)
    assert text_out.code == 0 and "FZ-2026-1105-001" in text_out.stdout and "2026-11-05" in text_out.stdout
    for fmt, ref_col, date_col in (
        ("csv", "payment_reference", "payment_date"),
        ("focus", "x_PaymentReference", "x_PaymentDate"),
    ):
        out = world("bills", "show", "--period", "2026-10", "--contract", CONTRACT, "--format", fmt)
        rows = list(csv.DictReader(io.StringIO(out.stdout)))
        assert rows and {(r[ref_col], r[date_col]) for r in rows} == {("FZ-2026-1105-001", "2026-11-05")}, fmt
    gat = world("bills", "show", "--period", "2026-10", "--contract", CONTRACT, "--as", "gat", "--json")
    (share,) = json.loads(gat.stdout)["bills"]
    assert (share["payment_reference"], share["payment_date"]) == ("FZ-2026-1105-001", "2026-11-05")


def test_a_reference_with_a_lone_surrogate_or_a_line_separator_is_refused() -> None:
    """What the command line cannot pass, the API's JSON can ("\\ud800"): refused before the database sees it."""
    from billing.service import payment_reference
    from core.errors import InvalidInput

    assert payment_reference("  FZ-1  ") == "FZ-1"
    for bad in ("FZ\ud800", "FZ\u2028-1", "FZ\x00"):
        with pytest.raises(InvalidInput, match="control character"):
            payment_reference(bad)
