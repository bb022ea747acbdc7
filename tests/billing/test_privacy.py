"""docs/reference.md#roles: a department sees its own share and nothing from which another department's usage or network
can be read; an operator sees the departments of its own clouds. Every read command, per role."""

from __future__ import annotations

from typing import Any

import pytest

from tests.billing.conftest import CONTRACT, ok

PERIOD = ("--period", "2026-10")
#: Every read command a department or an operator may run (exit 1 — not allowed — leaks nothing either).
READ_COMMANDS: list[tuple[str, ...]] = [
    ("tenants", "list"),
    ("tenants", "export"),
    ("contracts", "list"),
    ("usage", "show", *PERIOD),
    ("sla", "availability", "--contract", CONTRACT, *PERIOD),
    ("sla", "outages", "list", "--contract", CONTRACT, *PERIOD),
    ("sla", "maintenance", "list"),
    ("ratings", "list"),
    ("ratings", "score", "--contract", CONTRACT, *PERIOD),
    ("tickets", "list"),
    ("bills", "list", *PERIOD),
    ("bills", "show", *PERIOD, "--format", "json"),
    ("bills", "show", *PERIOD, "--format", "csv"),
    ("bills", "show", *PERIOD, "--format", "focus"),
    ("users", "list"),
    ("audit", "verify"),
]
#: What each department's usage of October looks like in the worked example (docs/billing.md): its
#: quantities and the lines' totals, which less its own would give the others'.
OTHERS_OF_GAT = ["gd-edu", "sw-gaj", "gz-gaj", "80000", "10000.25", "135000.75", "1545678.9", "1500"]
OTHERS_OF_GZOPS = ["gd-edu", "gd-gat", "sw-gaj", "45000.5", "345678.9", "135000.75"]
OTHERS_OF_DGCLOUD = ["gz-gaj", "1500"]


@pytest.fixture
def billed(world: Any) -> Any:
    ok(world("bills", "run", "--period", "2026-10", "--as", "fin1", "--json"))
    return world


def _networks(cli: Any) -> dict[str, str]:
    import yaml

    exported = yaml.safe_load(cli("tenants", "export").stdout)
    return {d["id"]: d["network"] for d in exported["departments"] if d.get("network")}


def _output(cli: Any, command: tuple[str, ...], user: str) -> str:
    result = cli(*command, "--as", user, "--json") if "--format" not in command else cli(*command, "--as", user)
    assert result.code in (0, 1), (command, result)
    return str(result.stdout) + str(result.stderr)


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c[:3]))
@pytest.mark.parametrize(
    ("user", "own", "others"),
    [
        ("gat", ["gd-gat"], OTHERS_OF_GAT),
        ("gzop", ["gz-gaj"], OTHERS_OF_GZOPS),
        ("ops", ["gd-edu", "gd-gat", "sw-gaj"], OTHERS_OF_DGCLOUD),
    ],
)
def test_a_scoped_user_reads_nothing_of_another_departments_usage_or_network(
    billed: Any, command: tuple[str, ...], user: str, own: list[str], others: list[str]
) -> None:
    networks = _networks(billed)
    text = _output(billed, command, user)
    hidden = [x for x in others if x] + [net for dept, net in networks.items() if dept not in own]
    assert [x for x in hidden if x in text] == [], (command, text[:3000])


def test_a_department_sees_its_own_share_of_each_line_and_the_bills_header(billed: Any) -> None:
    (bill,) = ok(billed("bills", "show", *PERIOD, "--contract", CONTRACT, "--format", "json", "--as", "gat"))["bills"]
    # the header without amounts, and its own share: never the bill's payable (docs/reference.md#roles)
    assert bill["status"] == "draft" and bill["department"] == "gd-gat" and bill["share"] == "5339.56"
    assert "payable" not in bill and "base" not in bill and "lines" not in bill
    shares = {x["meter"]: x for x in bill["shares"]}
    assert set(shares) == {"vcpu_hours", "storage_gib_hours"}  # egress is gd-edu's alone
    assert (shares["vcpu_hours"]["quantity"], shares["vcpu_hours"]["amount"]) == ("45000.5", "5166.72")
    assert (shares["storage_gib_hours"]["quantity"], shares["storage_gib_hours"]["amount"]) == ("345678.9", "172.84")
    # the finance office still sees the whole line
    (full,) = ok(billed("bills", "show", *PERIOD, "--contract", CONTRACT, "--format", "json", "--as", "fin1"))["bills"]
    assert next(x for x in full["lines"] if x["meter"] == "vcpu_hours")["quantity"] == "135000.75"


def test_tenants_views_are_scoped_per_role(billed: Any) -> None:
    import yaml

    def departments(user: str) -> list[str]:
        return [d["id"] for d in yaml.safe_load(billed("tenants", "export", "--as", user).stdout)["departments"]]

    everyone = ["gd-edu", "gd-gat", "gz-gaj", "sw-gaj"]
    assert departments("aud") == departments("fin1") == everyone
    assert departments("gat") == ["gd-gat"]
    assert departments("ops") == ["gd-edu", "gd-gat", "sw-gaj"]  # sw is hosted on dgcloud's provincial cloud
    assert departments("gzop") == ["gz-gaj"]
    listed = ok(billed("tenants", "list", "--as", "gat", "--json"))
    assert listed["departments"] == 1 and listed["departments_by_cloud"] == {"gd-prov": 1}
