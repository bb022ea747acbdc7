"""Users: tokens shown once and revocable, roles bound to their operator or department, audit entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.db import session_scope
from core.errors import Unauthenticated
from tenants import users

DATA = Path(__file__).parent / "data"


@pytest.fixture
def registry(cli):
    assert cli("tenants", "import", DATA / "tenancy.yaml").code == 0
    return cli


def test_a_new_users_token_authenticates_it_and_a_new_token_revokes_the_old(registry, use_db) -> None:
    token = registry("users", "add", "li", "--role", "finance", "--json").json()["token"]
    with session_scope(use_db) as s:
        assert users.authenticate_token(s, token).name == "li"
    fresh = registry("users", "token", "li", "--json").json()["token"]
    with session_scope(use_db) as s:
        assert users.authenticate_token(s, fresh).role == "finance"
        with pytest.raises(Unauthenticated):
            users.authenticate_token(s, token)


def test_the_token_is_printed_once_and_never_listed(registry) -> None:
    added = registry("users", "add", "li", "--role", "auditor")
    token = added.stdout.strip().rsplit(" ", 1)[-1]
    assert token.startswith("zy_")
    assert token not in registry("users", "list", "--json").stdout


def test_a_password_is_asked_twice_and_checked(registry, use_db) -> None:
    assert (
        registry(
            "users",
            "add",
            "ops",
            "--role",
            "operator",
            "--operator",
            "dgcloud",
            "--password",
            input="s3cret-pass\ns3cret-pass\n",
        ).code
        == 0
    )
    mismatch = registry("users", "add", "ops2", "--role", "auditor", "--password", input="s3cret-pass\nother-pass\n")
    assert mismatch.code == 1
    with session_scope(use_db) as s:
        actor = users.authenticate_password(s, "ops", "s3cret-pass")
        assert actor.operator_id == "dgcloud"
        with pytest.raises(Unauthenticated):
            users.authenticate_password(s, "ops", "wrong-password")


@pytest.mark.parametrize(
    "args,message",
    [
        (("x1", "--role", "operator"), "needs --operator"),
        (("x2", "--role", "department"), "needs --department"),
        (("x3", "--role", "finance", "--department", "gd-edu"), "only operator users"),
        (("x4", "--role", "operator", "--operator", "ghost"), "not found"),
        (("admin", "--role", "bureau"), "built-in administrator"),
        (("bad name", "--role", "bureau"), "invalid user name"),
    ],
)
def test_bad_users_are_refused_with_the_reason(registry, args, message: str) -> None:
    result = registry("users", "add", *args)
    assert result.code == 1 and message in result.stderr


def test_an_unknown_role_is_misuse_of_the_command_line(registry) -> None:
    result = registry("users", "add", "x5", "--role", "wizard")
    assert result.code == 2 and "'wizard' is not one of" in result.stderr


def test_duplicate_user_is_a_conflict(registry) -> None:
    assert registry("users", "add", "li", "--role", "auditor").code == 0
    again = registry("users", "add", "li", "--role", "auditor")
    assert again.code == 1 and "already exists" in again.stderr


def test_user_changes_are_audited_without_secrets(registry, use_db) -> None:
    from sqlalchemy import text

    from core.db import get_engine

    token = registry("users", "add", "li", "--role", "auditor", "--json").json()["token"]
    registry("users", "disable", "li")
    with get_engine(use_db).connect() as conn:
        rows = conn.execute(text("SELECT action, payload FROM audit_log WHERE entity = 'user:li' ORDER BY seq")).all()
    assert [r[0] for r in rows] == ["user.add", "user.disable"]
    assert all(token not in r[1] for r in rows)


def test_usage_errors_exit_2(registry) -> None:
    assert registry("users", "add", "li").code == 2  # --role missing
    assert registry("tenants", "frobnicate").code == 2
