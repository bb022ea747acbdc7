"""`zhengyun infra preview|up|destroy`: who may run which stack, and a clear exit 2 without the Pulumi CLI.

The machine has no Pulumi CLI; PATH is narrowed to an empty directory so that holds everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from core.audit import AuditEntry
from core.i18n import language, t
from infra.automation import INSTALL_HINT
from infra.service import StackRun, record_run
from infra.tenancy import load_tenancy
from tenants.permissions import Actor

from .conftest import SMALL


@pytest.fixture
def no_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH without the Pulumi CLI."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def registry(cli, no_pulumi):
    assert cli("tenants", "import", SMALL).code == 0
    for args in (
        ("bureau1", "--role", "bureau"),
        ("aud1", "--role", "auditor"),
        ("fin1", "--role", "finance"),
        ("ops-gz", "--role", "operator", "--operator", "gzops"),
        ("edu", "--role", "department", "--department", "gd-edu"),
    ):
        assert cli("users", "add", *args).code == 0
    return cli


def _exports(tmp_path: Path) -> Path:
    return tmp_path / "data" / "pulumi" / "exports"


@pytest.mark.parametrize("action", ["preview", "up", "destroy"])
def test_without_the_pulumi_cli_a_run_exits_2_with_how_to_install_it(registry, action: str) -> None:
    result = registry("infra", action, "--cloud", "gd-prov")
    assert result.code == 2, result
    assert "curl -fsSL https://get.pulumi.com | sh" in result.stderr
    assert "pulumi login --local" in result.stderr
    as_json = registry("infra", action, "--cloud", "province", "--json")
    assert as_json.code == 2 and "get.pulumi.com" in as_json.json()["error"]


def test_the_install_hint_is_translated() -> None:
    with language("zh"):
        assert "未安装 Pulumi CLI" in t(INSTALL_HINT) and "get.pulumi.com" in t(INSTALL_HINT)


def test_without_a_tenancy_file_the_run_reads_the_registry_as_exported(registry, tmp_path: Path) -> None:
    assert registry("infra", "preview", "--cloud", "gz").code == 2
    written = _exports(tmp_path) / "gz.tenancy.yaml"
    assert written.read_text(encoding="utf-8").rstrip("\n") == registry("tenants", "export").stdout.rstrip("\n")
    spec = load_tenancy(written)
    assert next(c for c in spec.clouds if c.id == "gz").networks


def test_a_given_tenancy_file_is_read_instead_of_the_registry(registry, tmp_path: Path) -> None:
    given = tmp_path / "given.yaml"
    given.write_text(registry("tenants", "export").stdout, encoding="utf-8")
    assert registry("infra", "preview", "--cloud", "gz", "--tenancy", given).code == 2
    assert not _exports(tmp_path).exists()


def test_a_tenancy_file_without_ranges_is_refused_with_how_to_write_one(registry) -> None:
    result = registry("infra", "preview", "--cloud", "gz", "--tenancy", SMALL, "--json")
    assert result.code == 1
    assert "zhengyun tenants export" in result.json()["error"]


def test_a_hosted_citys_stack_is_refused_naming_its_host(registry) -> None:
    result = registry("infra", "up", "--cloud", "sw")
    assert result.code == 1 and "hosted on 'gd-prov'" in result.stderr


def test_a_stack_name_that_is_no_cloud_id_is_refused_before_anything_is_written(registry, tmp_path: Path) -> None:
    result = registry("infra", "preview", "--cloud", "../outside")
    assert result.code == 1 and "is not a stack" in result.stderr
    assert not (tmp_path / "data" / "pulumi").exists()


@pytest.mark.parametrize(
    "user,action,cloud,code",
    [
        ("bureau1", "up", "province", 2),
        ("ops-gz", "up", "gz", 2),  # an operator runs its own cloud's stack
        ("ops-gz", "preview", "gd-prov", 1),  # but not another operator's
        ("ops-gz", "preview", "province", 1),  # nor the province's hierarchy and guardrails
        ("aud1", "preview", "gz", 2),  # an auditor may look
        ("aud1", "up", "gz", 1),  # and change nothing
        ("fin1", "preview", "gz", 1),
        ("edu", "preview", "gd-prov", 1),
    ],
)
def test_who_may_run_which_stack(registry, user: str, action: str, cloud: str, code: int) -> None:
    result = registry("infra", action, "--cloud", cloud, "--as", user)
    assert result.code == code, result
    if code == 1:
        assert "permission denied" in result.stderr and user in result.stderr


def test_an_up_that_changed_something_is_one_audit_entry(engine: Engine, tmp_path: Path) -> None:
    bureau = Actor(name="bureau1", role="bureau")
    run = StackRun(stack="gz", action="up", tenancy=tmp_path / "tenancy.yaml", spec=None)  # type: ignore[arg-type]
    preview = StackRun(stack="gz", action="preview", tenancy=run.tenancy, spec=None)  # type: ignore[arg-type]
    with Session(engine) as session:
        record_run(session, actor=bureau, run=preview, changes={"create": 3})
        record_run(session, actor=bureau, run=run, changes={"same": 40})
        record_run(session, actor=bureau, run=run, changes={"create": 3, "same": 40})
        session.commit()
        entries = list(session.exec(select(AuditEntry).where(AuditEntry.action.like("infra.%"))))  # type: ignore[attr-defined]
    assert [(e.actor, e.action, e.entity) for e in entries] == [("bureau1", "infra.up", "stack:gz")]
    assert '"create": 3' in entries[0].payload or '"create":3' in entries[0].payload
