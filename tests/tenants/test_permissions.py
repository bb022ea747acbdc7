"""One rule set per role, checked in the services, for every registry entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def registry(cli):
    assert cli("tenants", "import", DATA / "tenancy.yaml").code == 0
    assert cli("contracts", "import", DATA / "contracts.yaml").code == 0
    for args in (
        ("bureau1", "--role", "bureau"),
        ("fin1", "--role", "finance"),
        ("aud1", "--role", "auditor"),
        ("ops-dg", "--role", "operator", "--operator", "dgcloud"),
        ("ops-gz", "--role", "operator", "--operator", "gzops"),
        ("edu", "--role", "department", "--department", "gd-edu"),
        ("gaj", "--role", "department", "--department", "gz-gaj"),
    ):
        assert cli("users", "add", *args).code == 0
    return cli


@pytest.mark.parametrize(
    "user,allowed",
    [("admin", True), ("bureau1", True), ("fin1", False), ("aud1", False), ("ops-dg", False), ("edu", False)],
)
def test_only_the_bureau_and_admin_change_the_registry(registry, user: str, allowed: bool) -> None:
    tenancy = registry("tenants", "import", DATA / "tenancy.yaml", "--as", user)
    contracts = registry("contracts", "import", DATA / "contracts.yaml", "--as", user)
    assert (tenancy.code, contracts.code) == ((0, 0) if allowed else (1, 1))
    if not allowed:
        assert "permission denied" in tenancy.stderr and user in tenancy.stderr


@pytest.mark.parametrize(
    "user,allowed",
    [("bureau1", True), ("admin", True), ("aud1", False), ("fin1", False), ("ops-dg", False), ("edu", False)],
)
def test_only_the_bureau_and_admin_manage_users(registry, user: str, allowed: bool) -> None:
    assert (registry("users", "add", f"new-{user}", "--role", "auditor", "--as", user).code == 0) is allowed
    assert (registry("users", "token", "fin1", "--as", user).code == 0) is allowed
    assert (registry("users", "disable", "aud1", "--as", user).code == 0) is allowed


@pytest.mark.parametrize(
    "user,allowed", [("aud1", True), ("bureau1", True), ("fin1", False), ("ops-dg", False), ("edu", False)]
)
def test_the_auditor_reads_users_but_scoped_roles_do_not(registry, user: str, allowed: bool) -> None:
    assert (registry("users", "list", "--as", user).code == 0) is allowed


@pytest.mark.parametrize("user", ["aud1", "bureau1", "fin1", "admin"])
def test_the_audit_log_is_verifiable_by_oversight_roles(registry, user: str) -> None:
    assert registry("audit", "verify", "--as", user).code == 0


@pytest.mark.parametrize("user", ["ops-dg", "edu"])
def test_scoped_roles_cannot_verify_the_audit_log(registry, user: str) -> None:
    assert registry("audit", "verify", "--as", user).code == 1


@pytest.mark.parametrize(
    "user,expected",
    [
        ("admin", {"GD-PROV-IAAS-2026", "GZ-PAYG-2026"}),
        ("aud1", {"GD-PROV-IAAS-2026", "GZ-PAYG-2026"}),
        ("fin1", {"GD-PROV-IAAS-2026", "GZ-PAYG-2026"}),
        ("ops-dg", {"GD-PROV-IAAS-2026"}),
        ("ops-gz", {"GZ-PAYG-2026"}),
        ("edu", {"GD-PROV-IAAS-2026"}),
        ("gaj", {"GZ-PAYG-2026"}),
    ],
)
def test_contracts_are_scoped_to_the_operator_and_to_the_departments_cloud(registry, user: str, expected: set) -> None:
    listed = registry("contracts", "list", "--json", "--as", user).json()["contracts"]
    assert {c["id"] for c in listed} == expected


def test_an_unknown_or_disabled_user_is_refused(registry) -> None:
    assert registry("tenants", "list", "--as", "nobody").code == 1
    assert registry("users", "disable", "edu").code == 0
    refused = registry("tenants", "list", "--as", "edu")
    assert refused.code == 1 and "disabled" in refused.stderr


def test_the_acting_user_comes_from_the_environment_when_not_given(registry, monkeypatch) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("ZHENGYUN_ACTOR", "edu")
    get_settings.cache_clear()
    assert registry("tenants", "import", DATA / "tenancy.yaml").code == 1
    assert registry("tenants", "import", DATA / "tenancy.yaml", "--as", "bureau1").code == 0


def test_network_ranges_are_scoped_to_the_department_or_the_operators_clouds(registry, engine) -> None:
    """Every cloud's blocks are listed for everyone; of the departments' ranges, a department user sees
    its own, an operator those placed on its clouds, the bureau and the auditor all."""
    from sqlmodel import Session

    from tenants.permissions import Actor
    from tenants.tenancy import list_network_ranges

    def ranges(actor: Actor, cloud_id: str | None = None) -> tuple[set[str], dict[str, str]]:
        with Session(engine) as session:
            rows = list_network_ranges(session, actor=actor, cloud_id=cloud_id)
        blocks = {r.cidr for r in rows if r.department is None}
        return blocks, {r.department: r.cloud for r in rows if r.department is not None}

    bureau = ranges(Actor("bureau1", "bureau"))
    blocks, departments = bureau
    assert departments == {"gd-edu": "gd-prov", "gz-gaj": "gz"} and blocks
    assert ranges(Actor("aud1", "auditor")) == bureau
    assert ranges(Actor("edu", "department", department_id="gd-edu")) == (blocks, {"gd-edu": "gd-prov"})
    assert ranges(Actor("gaj", "department", department_id="gz-gaj")) == (blocks, {"gz-gaj": "gz"})
    assert ranges(Actor("ops-dg", "operator", operator_id="dgcloud")) == (blocks, {"gd-edu": "gd-prov"})
    assert ranges(Actor("ops-gz", "operator", operator_id="gzops")) == (blocks, {"gz-gaj": "gz"})
    # one cloud asked for: an operator still sees no other operator's department on it
    assert ranges(Actor("ops-dg", "operator", operator_id="dgcloud"), "gz")[1] == {}
    assert ranges(Actor("bureau1", "bureau"), "gz")[1] == {"gz-gaj": "gz"}
