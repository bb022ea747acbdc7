"""Billing fixtures: the worked-example province loaded through the command line, and finance users."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
CONTRACT = "WORKED-IAAS-2026"
BILL = f"{CONTRACT}@2026-10"
#: what paying a bill of 2026-10 records: the payment voucher number and its date (docs/reference.md#contracts-and-bills)
PAYMENT = ("--reference", "FZ-2026-1105-001", "--date", "2026-11-05")


def ok(result: Any) -> Any:
    """The JSON of a CLI result that must have succeeded."""
    assert result.code == 0, result
    return result.json()


def import_usage(cli: Any, path: Path) -> dict[str, Any]:
    """Load usage events through `zhengyun usage import` (docs/reference.md#usage-events-file)."""
    result = cli("usage", "import", str(path), "--json")
    assert result.code in (0, 1), result
    return result.json()


def write_usage(path: Path, rows: list[tuple[str, str, str, str, str, str]]) -> Path:
    """A usage CSV (docs/reference.md#usage-events-file) with the given rows."""
    lines = ["event_id,time,department,cloud,meter,quantity"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def world(cli: Any) -> Any:
    """The worked example of docs/billing.md loaded through the command line, plus users."""
    ok(cli("tenants", "import", str(DATA / "worked_tenancy.yaml"), "--json"))
    ok(cli("contracts", "import", str(DATA / "worked_contracts.yaml"), "--json"))
    report = import_usage(cli, DATA / "worked_usage.csv")
    assert report["accepted"] == 10 and not report["rejected"], report
    ok(cli("sla", "outages", "import", str(DATA / "worked_outages.csv"), "--json"))
    ok(cli("sla", "maintenance", "import", str(DATA / "worked_maintenance.csv"), "--json"))
    ok(cli("ratings", "import", str(DATA / "worked_ratings.csv"), "--json"))
    for name, role, extra in (
        ("fin1", "finance", ()),
        ("fin2", "finance", ()),
        ("fin3", "finance", ()),  # pays what fin1 or fin2 approved (docs/reference.md#four-eyes)
        ("aud", "auditor", ()),
        ("ops", "operator", ("--operator", "dgcloud")),
        ("gzop", "operator", ("--operator", "gzops")),
        ("gat", "department", ("--department", "gd-gat")),
    ):
        ok(cli("users", "add", name, "--role", role, *extra, "--json"))
    return cli
