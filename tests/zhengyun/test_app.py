"""The application layer: one unit of work as a user, and database trouble said clearly."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlmodel import select

from core.audit import AuditEntry
from core.db import make_engine
from core.errors import DomainError, Forbidden, NotFound, Unavailable
from tenants import users
from tenants.models import User
from tenants.permissions import SYSTEM
from zhengyun import app


@pytest.fixture(autouse=True)
def _no_actor_from_the_environment(monkeypatch) -> None:
    """`user=None` means ZHENGYUN_ACTOR, else the local admin: these tests expect the admin."""
    from core.settings import get_settings

    monkeypatch.delenv("ZHENGYUN_ACTOR", raising=False)
    get_settings.cache_clear()


def test_a_unit_of_work_must_say_who_acts(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(TypeError, match="say who acts"):
            app.run(lambda s, a: a, engine=engine)
        with pytest.raises(TypeError, match="say who acts"):
            app.run_long(lambda e, a: a, engine=engine)
        assert app.run(lambda s, a: a, user=None, engine=engine).role == "admin"
    finally:
        engine.dispose()


def test_a_unit_of_work_commits_what_the_service_did(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        created = app.run(
            lambda s, a: users.add_user(s, actor=a, name="li.hua", role="finance"), actor=SYSTEM, engine=engine
        )
        assert created.token
        names = app.run(lambda s, a: [u.name for u in users.list_users(s, actor=a)], user=None, engine=engine)
        assert "li.hua" in names
    finally:
        engine.dispose()


def test_a_unit_of_work_that_fails_leaves_nothing_behind(db_url: str) -> None:
    engine = make_engine(db_url)

    def add_then_fail(session, actor):
        users.add_user(session, actor=actor, name="half.done", role="bureau")
        raise NotFound("{kind} not found: {id}", kind="department", id="nowhere")

    try:
        with pytest.raises(NotFound):
            app.run(add_then_fail, user=None, engine=engine)
        with engine.connect() as conn:
            assert conn.execute(select(User.name).where(User.name == "half.done")).first() is None
            assert conn.execute(select(AuditEntry.seq).where(AuditEntry.entity == "user:half.done")).first() is None
    finally:
        engine.dispose()


def test_the_acting_user_is_resolved_by_name_and_refused_when_unknown_or_disabled(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        app.run(lambda s, a: users.add_user(s, actor=a, name="aud1", role="auditor"), user=None, engine=engine)
        assert app.run(lambda s, a: a, user="aud1", engine=engine).role == "auditor"
        with pytest.raises(NotFound, match="unknown user 'ghost'"):
            app.run(lambda s, a: a, user="ghost", engine=engine)
        app.run(lambda s, a: users.disable_user(s, actor=a, name="aud1"), user=None, engine=engine)
        with pytest.raises(Forbidden, match="disabled"):
            app.run(lambda s, a: a, user="aud1", engine=engine)
    finally:
        engine.dispose()


def test_a_database_without_the_schema_says_to_run_db_upgrade(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(Unavailable) as raised:
            app.run(lambda s, a: a, user=None, engine=engine)
        assert "run `zhengyun db upgrade` first" in raised.value.message
        assert str(tmp_path / "empty.db") in raised.value.message
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_postgres_database_without_the_schema_says_to_run_db_upgrade(pg_template: str) -> None:
    from tests.conftest import _pg_admin, _pg_url

    admin = _pg_admin()
    name = f"zy_empty_{pg_template[-8:]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_pg_url(name))
    try:
        with pytest.raises(Unavailable, match="run `zhengyun db upgrade` first"):
            app.run(lambda s, a: a, user=None, engine=engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_locked_sqlite_database_is_said_to_be_locked(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)

    @event.listens_for(engine, "connect")
    def _impatient(dbapi_connection, _record) -> None:  # wait 0.1 s for the lock, not a minute
        dbapi_connection.execute("PRAGMA busy_timeout=100")

    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(Unavailable) as raised:
            app.run(lambda s, a: users.add_user(s, actor=a, name="x1", role="bureau"), actor=SYSTEM, engine=engine)
        assert "is locked by another process" in raised.value.message
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()


def test_a_sqlite_unit_of_work_that_writes_after_another_writer_waits_for_it_and_runs_again(sqlite_url: str) -> None:
    # SQLite: a transaction that has read cannot wait for the write lock; another process writing at
    # that moment used to fail the unit at once with "database is locked"
    import threading

    engine = make_engine(sqlite_url)
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    read, attempts = threading.Event(), []

    def read_then_write(session, actor):
        attempts.append(session.exec(select(User.name)).all())
        read.set()
        time.sleep(0.3)  # meanwhile the other writer takes the lock
        return users.add_user(session, actor=actor, name="second", role="bureau")

    def other_writer() -> None:
        read.wait(10)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute(
            "INSERT INTO app_user (name, role, disabled, created_at) VALUES ('first', 'auditor', 0, '2026-10-01 00:00:00.000000')"
        )
        time.sleep(0.6)
        holder.execute("COMMIT")

    thread = threading.Thread(target=other_writer)
    thread.start()
    try:
        app.run(read_then_write, actor=SYSTEM, engine=engine)
    finally:
        thread.join()
        holder.close()
        engine.dispose()
    assert len(attempts) == 2 and "first" in attempts[1]  # the second attempt saw what the other committed
    engine = make_engine(sqlite_url)
    try:
        assert {"first", "second"} <= set(
            app.run(lambda s, a: s.exec(select(User.name)).all(), user=None, engine=engine)
        )
    finally:
        engine.dispose()


def test_driver_errors_from_a_raw_cursor_are_translated_too(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)

    def raw(session, actor):
        cursor = session.connection().connection.dbapi_connection.cursor()
        cursor.execute("SELECT * FROM no_such_table")

    try:
        with pytest.raises(Unavailable, match="run `zhengyun db upgrade` first"):
            app.run(raw, actor=SYSTEM, engine=engine)
    finally:
        engine.dispose()


def test_an_unreachable_database_is_named_without_its_password() -> None:
    # a closed port on this machine's loopback: nothing else is ever contacted
    engine = make_engine("postgresql://zy:s3cret-pw@127.0.0.1:1/zhengyun?connect_timeout=2")
    try:
        with pytest.raises(Unavailable) as raised:
            app.run(lambda s, a: a, user=None, engine=engine)
        message = raised.value.message
        assert message.startswith("cannot reach database postgresql+psycopg://zy:***@127.0.0.1:1/zhengyun")
        assert "s3cret-pw" not in message and "s3cret-pw" not in str(raised.value.to_dict())
    finally:
        engine.dispose()


def test_other_database_errors_are_not_disguised(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(Exception) as raised:
            app.run(lambda s, a: s.execute(text("SELECT * FROM user WHERE")), user=None, engine=engine)
        assert not isinstance(raised.value, DomainError)
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- through the command line


def test_the_cli_on_an_uninitialised_database_exits_1_with_what_to_do(tmp_path: Path, monkeypatch) -> None:
    from core.db import dispose_engines
    from core.settings import get_settings
    from tests.conftest import Cli

    monkeypatch.setenv("ZHENGYUN_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    monkeypatch.setenv("ZHENGYUN_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    dispose_engines()
    try:
        cli = Cli()
        for args in (("tenants", "list"), ("usage", "import", str(tmp_path / "none.csv")), ("bills", "list")):
            result = cli(*args)
            assert result.code == 1, result
            assert "run `zhengyun db upgrade` first" in result.stderr
            as_json = cli(*args, "--json")
            assert as_json.code == 1 and "zhengyun db upgrade" in as_json.json()["error"]
    finally:
        get_settings.cache_clear()
        dispose_engines()


def test_the_cli_on_an_unreachable_database_exits_1_naming_it_without_password(tmp_path: Path, monkeypatch) -> None:
    from core.db import dispose_engines
    from core.settings import get_settings
    from tests.conftest import Cli

    monkeypatch.setenv("ZHENGYUN_DATABASE_URL", "postgresql://zy:s3cret-pw@127.0.0.1:1/zhengyun?connect_timeout=2")
    monkeypatch.setenv("ZHENGYUN_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    dispose_engines()
    try:
        cli = Cli()
        for args in (("tenants", "list"), ("db", "upgrade")):
            result = cli(*args)
            assert result.code == 1, result
            assert "cannot reach database postgresql+psycopg://zy:***@127.0.0.1:1/zhengyun" in result.stderr
            assert "s3cret-pw" not in result.stderr + result.stdout
    finally:
        get_settings.cache_clear()
        dispose_engines()
