"""The audit log is a hash chain the database keeps append-only; `audit verify` finds the first entry
changed behind its back, and, against a head recorded elsewhere, the newest entries removed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core import audit
from core.db import make_engine, session_scope
from tests.conftest import migrate


def _append_three(engine) -> None:
    with session_scope(engine=engine) as s:
        for i in range(3):
            audit.append(s, actor="alice", action="test.step", entity=f"thing:{i}", payload={"n": i, "amount": "1.10"})


def _as_owner(conn, statement: str, **params) -> None:
    """What the database's owner can still do: switch the append-only triggers off, then tamper."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(text(statement), params)
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        conn.execute(text(statement), params)


def _verify(engine, expect: audit.AuditHead | None = None) -> audit.VerifyResult:
    with session_scope(engine=engine) as s:
        return audit.verify(s, expect)


def test_chain_verifies_when_untouched(engine) -> None:
    _append_three(engine)
    result = _verify(engine)
    assert result.ok and result.count == 4  # the bootstrap entry of `db upgrade` plus three


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 4",
        "DELETE FROM audit_log",
    ],
)
def test_the_database_refuses_to_change_or_delete_entries(engine, statement: str) -> None:
    _append_three(engine)
    with pytest.raises(Exception, match="audit log entries are never"):
        with engine.begin() as conn:
            conn.execute(text(statement))
    if engine.dialect.name == "postgresql":
        with pytest.raises(Exception, match="audit log entries are never"):
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE audit_log"))
    assert _verify(engine).count == 4


def test_verify_reports_the_first_altered_entry(engine) -> None:
    _append_three(engine)
    with engine.begin() as conn:
        _as_owner(conn, "UPDATE audit_log SET payload = :p WHERE seq = 3", p='{"amount":"9.99","n":1}')
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 3


def test_verify_reports_a_deleted_entry(engine) -> None:
    _append_three(engine)
    with engine.begin() as conn:
        _as_owner(conn, "DELETE FROM audit_log WHERE seq = 2")
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 3


def test_removing_the_newest_entries_is_found_against_a_recorded_head(engine) -> None:
    _append_three(engine)
    with session_scope(engine=engine) as s:
        recorded = audit.head(s)
    assert recorded.seq == 4 and len(recorded.hash) == 64
    assert _verify(engine, recorded).ok
    with engine.begin() as conn:
        _as_owner(conn, "DELETE FROM audit_log WHERE seq >= 3")
    assert _verify(engine).ok  # what is left is a valid chain: only the recorded head shows the loss
    truncated = _verify(engine, recorded)
    assert not truncated.ok and truncated.first_bad_seq == 4 and truncated.count == 2
    assert truncated.reason_params == {"last": 2, "seq": 4}
    _append_three(engine)  # and entries appended since, to make the count look right again
    replaced = _verify(engine, recorded)
    assert not replaced.ok and replaced.first_bad_seq == 4 and replaced.reason == "entry {seq} is not the recorded head"


def test_cli_audit_verify_exits_1_on_tampering(cli, use_db) -> None:
    from core.db import get_engine

    assert cli("tenants", "import", "tests/tenants/data/tenancy.yaml").code == 0
    ok = cli("audit", "verify", "--json")
    assert ok.code == 0 and ok.json()["ok"] is True
    with get_engine(use_db).begin() as conn:
        _as_owner(conn, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    broken = cli("audit", "verify", "--json")
    assert broken.code == 1 and broken.json()["first_bad_seq"] == 2


def test_cli_audit_head_is_what_verify_expects(cli, use_db) -> None:
    from core.db import get_engine

    assert cli("tenants", "import", "tests/tenants/data/tenancy.yaml").code == 0
    head = cli("audit", "head")
    assert head.code == 0
    recorded = head.stdout.strip()
    as_json = cli("audit", "head", "--json").json()
    assert recorded == f"{as_json['seq']}:{as_json['hash']}" and as_json["seq"] == 2
    assert cli("audit", "verify", "--expect-head", recorded).code == 0
    with get_engine(use_db).begin() as conn:
        _as_owner(conn, "DELETE FROM audit_log WHERE seq = 2")
    assert cli("audit", "verify").code == 0  # the chain that is left is intact
    truncated = cli("audit", "verify", "--expect-head", recorded)
    assert truncated.code == 1
    assert (
        "broken at entry 2: the log ends at entry 1: entries up to the recorded head 2 were removed" in truncated.stderr
    )
    assert cli("audit", "verify", "--expect-head", recorded, "--json").json()["first_bad_seq"] == 2
    misuse = cli("audit", "verify", "--expect-head", "2:not-a-hash", "--json")
    assert misuse.code == 2 and "SEQ:HASH" in misuse.json()["error"]
    refused = cli("users", "add", "dep", "--role", "department", "--department", "gd-edu")
    assert refused.code == 0
    denied = cli("audit", "head", "--as", "dep", "--json")
    assert denied.code == 1 and "permission denied" in denied.json()["error"]


def test_migration_0006_adds_and_removes_the_append_only_triggers(db_url) -> None:
    engine = make_engine(db_url)
    try:
        migrate(db_url, "0005", down=True)
        with engine.begin() as conn:  # before 0006 the database does not refuse it
            conn.execute(text("UPDATE audit_log SET actor = actor WHERE seq = 1"))
        migrate(db_url, "heads")
        with pytest.raises(Exception, match="audit log entries are never"), engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = actor WHERE seq = 1"))
        assert _verify(engine).ok
    finally:
        engine.dispose()
