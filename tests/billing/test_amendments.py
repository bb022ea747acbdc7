"""Contract amendments after approval and mid-month hand-overs to a successor (docs/reference.md#contracts-and-bills), through the CLI."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.billing.conftest import DATA, import_usage, ok, write_usage

OLD = "GD-IAAS-2026"
NEW = "GD-IAAS-2026B"

#: The contract in force: the whole of 2026 on the provincial cloud, annual fee and two usage prices.
OLD_TERMS = {
    "end": "2026-12-31",
    "service": "iaas",
    "service_category": "Compute",
    "annual_fee": '"1200000.00"',
    "vcpu": '"0.12"',
    "extra": "",
    "sla": '{credits: [{below: "99.0", credit: "0.10"}]}',
}


def _contract(cid: str, *, start: str = "2026-01-01", **terms: str) -> str:
    t = OLD_TERMS | terms
    return (
        f"  - id: {cid}\n"
        "    operator: dgcloud\n"
        "    clouds: [gd-prov]\n"
        f"    service: {t['service']}\n"
        f"    service_category: {t['service_category']}\n"
        f"    start: {start}\n"
        f"    end: {t['end']}\n"
        f"    annual_fee: {t['annual_fee']}\n"
        "    prices:\n"
        f"      - {{meter: vcpu_hours, model: flat, unit_price: {t['vcpu']}}}\n"
        '      - {meter: storage_gib_hours, model: flat, unit_price: "0.0005"}\n'
        f"    sla: {t['sla']}\n" + t["extra"]
    )


def _write(tmp_path: Path, name: str, *contracts: str) -> str:
    path = tmp_path / name
    path.write_text("contracts:\n" + "".join(contracts), encoding="utf-8")
    return str(path)


def round2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture
def approved(cli: Any, tmp_path: Path) -> Any:
    """OLD in force, September's usage billed, and its bill approved (so OLD's terms are locked)."""
    ok(cli("tenants", "import", str(DATA / "worked_tenancy.yaml"), "--json"))
    ok(cli("contracts", "import", _write(tmp_path, "c.yaml", _contract(OLD)), "--json"))
    for name in ("fin1", "fin2"):
        ok(cli("users", "add", name, "--role", "finance", "--json"))
    import_usage(
        cli,
        write_usage(
            tmp_path / "sep.csv", [("s-1", "2026-09-12T10:00:00+08:00", "gd-edu", "gd-prov", "vcpu_hours", "1000")]
        ),
    )
    ok(cli("bills", "run", "--period", "2026-09", "--as", "fin1", "--json"))
    ok(cli("bills", "approve", f"{OLD}@2026-09", "--as", "fin2", "--json"))
    return cli


def _september(cli: Any) -> str:
    result = cli("bills", "show", "--period", "2026-09", "--format", "json")
    assert result.code == 0, result
    return result.stdout


def _refused(cli: Any, path: str) -> list[dict[str, Any]]:
    result = cli("contracts", "import", path, "--json")
    assert result.code == 1, result
    problems: list[dict[str, Any]] = result.json()["problems"]
    return problems


def test_after_approval_the_term_probes_notice_and_descriptions_may_change(approved: Any, tmp_path: Path) -> None:
    before = _september(approved)
    amended = _contract(
        OLD,
        end="2027-06-30",
        service="iaas-plus",
        service_category="Storage",
        sla='{notice_hours: 48, credits: [{below: "99.0", credit: "0.10"}]}',
        extra='    probes: [{name: portal, kind: http, url: "https://iaas.gd.example/health"}]\n',
    )
    result = ok(approved("contracts", "import", _write(tmp_path, "ext.yaml", amended), "--json"))
    changed = next(c for c in result["changes"] if c["entity"] == f"contract:{OLD}")
    assert set(changed["fields"]) == {"end", "service", "service_category", "probes", "sla"}
    listed = {c["id"]: c for c in ok(approved("contracts", "list", "--json"))["contracts"]}
    assert listed[OLD]["end"] == "2027-06-30" and listed[OLD]["sla"]["notice_hours"] == 48
    # shortened again, to the last approved period's end: still accepted
    ok(approved("contracts", "import", _write(tmp_path, "short.yaml", _contract(OLD, end="2026-09-30")), "--json"))
    assert _september(approved) == before  # the approved bill is untouched


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vcpu": '"0.13"'}, "prices"),
        ({"annual_fee": '"1300000.00"'}, "annual_fee"),
        ({"start": "2026-02-01"}, "start"),
        ({"end": "2026-09-29"}, "end"),
        ({"extra": '    max_deduction: "0.30"\n'}, "max_deduction"),
    ],
)
def test_after_approval_changes_that_could_alter_an_approved_bill_are_refused(
    approved: Any, tmp_path: Path, change: dict[str, str], field: str
) -> None:
    before = _september(approved)
    terms = dict(change)  # the parameter is shared by the SQLite and PostgreSQL cases: never change it
    start = terms.pop("start", "2026-01-01")
    problems = _refused(approved, _write(tmp_path, "x.yaml", _contract(OLD, start=start, **terms)))
    assert [p["path"] for p in problems] == [f"contracts[0].{field}"]
    message = problems[0]["message"]
    assert "2026-09" in message  # names the approved periods
    assert "successor" in message and "next day" in message  # and says how to proceed
    if field == "end":
        assert "2026-09-30" in message
    assert _september(approved) == before
    assert ok(approved("contracts", "list", "--json"))["contracts"][0]["end"] == "2026-12-31"


def test_a_successor_from_the_16th_is_billed_exactly(approved: Any, tmp_path: Path) -> None:
    """The hand-over of docs/reference.md#contracts-and-bills: OLD ends on 15 October, NEW (other fee and vCPU price, no storage price)
    starts on the 16th. Each contract's annual fee for its own days, each event by the contract that prices
    its cloud and meter on the event's day; storage after the hand-over is unpriced, listed on NEW."""
    handover = _write(
        tmp_path,
        "handover.yaml",
        _contract(OLD, end="2026-10-15"),
        _contract(NEW, start="2026-10-16", end="2027-10-15", annual_fee='"365000.00"', vcpu='"0.10"').replace(
            '      - {meter: storage_gib_hours, model: flat, unit_price: "0.0005"}\n', ""
        ),
    )
    ok(approved("contracts", "import", handover, "--json"))
    import_usage(
        approved,
        write_usage(
            tmp_path / "oct.csv",
            [
                ("o-1", "2026-10-15T23:59:59+08:00", "gd-edu", "gd-prov", "vcpu_hours", "100"),
                ("o-2", "2026-10-16T00:00:00+08:00", "gd-edu", "gd-prov", "vcpu_hours", "200"),
                ("o-3", "2026-10-10T08:00:00+08:00", "gd-gat", "gd-prov", "storage_gib_hours", "10000"),
                ("o-4", "2026-10-20T08:00:00+08:00", "gd-gat", "gd-prov", "storage_gib_hours", "30000"),
                ("o-5", "2026-10-31T23:59:59+08:00", "gd-gat", "gd-prov", "vcpu_hours", "50"),
            ],
        ),
    )
    run = ok(approved("bills", "run", "--period", "2026-10", "--as", "fin1", "--json"))
    assert [b["id"] for b in run["bills"]] == [f"{OLD}@2026-10", f"{NEW}@2026-10"]
    shown = {
        b["contract"]: b for b in ok(approved("bills", "show", "--period", "2026-10", "--format", "json"))["bills"]
    }

    def lines(contract: str) -> list[tuple[Any, ...]]:
        return [(x["kind"], x["meter"], x["quantity"], x["amount"]) for x in shown[contract]["lines"]]

    # docs/reference.md#annual-fee by hand: OLD's term covers 1 January .. 15 October (288 days through October, 273 before)
    old_annual = round2(Decimal("1200000") * 288 / 365) - round2(Decimal("1200000") * 273 / 365)
    assert old_annual == Decimal("49315.07")
    assert lines(OLD) == [
        ("annual", None, "15", "49315.07"),
        ("usage", "storage_gib_hours", "10000", "5.00"),  # 10 October: OLD's price
        ("usage", "vcpu_hours", "100", "12.00"),  # 15 October 23:59:59 at 0.12
    ]
    # NEW's 16 days of 2026 at 365,000 a year; 16 October 00:00 onwards at 0.10; storage now unpriced
    assert lines(NEW) == [
        ("annual", None, "16", "16000.00"),
        ("unpriced", "storage_gib_hours", "30000", "0.00"),
        ("usage", "vcpu_hours", "250", "25.00"),
    ]
    assert shown[OLD]["payable"] == "49332.07" and shown[NEW]["payable"] == "16025.00"
    assert shown[NEW]["flags"] == ["unpriced_usage"] and shown[OLD]["flags"] == []
    # a whole year of NEW adds up to its fee: 16 days of 2026 here, the rest in 2027's months
    ok(approved("bills", "approve", f"{OLD}@2026-10", "--as", "fin2", "--json"))
    ok(approved("bills", "approve", f"{NEW}@2026-10", "--as", "fin2", "--json"))
