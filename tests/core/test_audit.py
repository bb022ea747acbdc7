"""The audit log is a hash chain; `audit verify` finds the first entry changed behind its back."""

from __future__ import annotations

from sqlalchemy import text

from core import audit
from core.db import session_scope


def _append_three(engine) -> None:
    with session_scope(engine=engine) as s:
        for i in range(3):
            audit.append(s, actor="alice", action="test.step", entity=f"thing:{i}", payload={"n": i, "amount": "1.10"})


def test_chain_verifies_when_untouched(engine) -> None:
    _append_three(engine)
    with session_scope(engine=engine) as s:
        result = audit.verify(s)
    assert result.ok and result.count == 4  # the bootstrap entry of `db upgrade` plus three


def test_verify_reports_the_first_altered_entry(engine) -> None:
    _append_three(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET payload = :p WHERE seq = 3"), {"p": '{"amount":"9.99","n":1}'})
    with session_scope(engine=engine) as s:
        result = audit.verify(s)
    assert not result.ok and result.first_bad_seq == 3


def test_verify_reports_a_deleted_entry(engine) -> None:
    _append_three(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    with session_scope(engine=engine) as s:
        result = audit.verify(s)
    assert not result.ok and result.first_bad_seq == 3


def test_cli_audit_verify_exits_1_on_tampering(cli, use_db) -> None:
    from core.db import get_engine

    assert cli("tenants", "import", "tests/tenants/data/tenancy.yaml").code == 0
    ok = cli("audit", "verify", "--json")
    assert ok.code == 0 and ok.json()["ok"] is True
    with get_engine(use_db).begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2"))
    broken = cli("audit", "verify", "--json")
    assert broken.code == 1 and broken.json()["first_bad_seq"] == 2
