"""Database engine and the one transaction boundary, `session_scope()` (STYLE)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import CheckConstraint, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, QueuePool
from sqlmodel import Session

from core.settings import get_settings

#: How long a SQLite writer waits for the write lock before "database is locked" (seconds).
BUSY_TIMEOUT_S = 60

_engines: dict[str, Engine] = {}
_lock = threading.Lock()
#: Execution option: begin SQLite transactions with the write lock (`session_scope(write=True)`).
_WRITE_LOCK = "zhengyun_write_lock"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """A new engine for `url`, with SQLite set up for foreign keys, WAL and savepoints."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("poolclass", NullPool)
        connect_args = {"timeout": BUSY_TIMEOUT_S, **kwargs.pop("connect_args", {})}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_server_engine(url: str | None = None, *, connections: int = 16) -> Engine:
    """An engine for a long-running server (`zhengyun serve`): on SQLite its connections stay open between
    requests (commands and tests keep `NullPool`). Opening a SQLite connection costs its pragmas and a
    schema read, and closing the last one checkpoints the WAL: milliseconds a request, measured as a
    fifth of the time of `POST /v1/usage/events`. PostgreSQL engines pool anyway."""
    url = normalise_url(url or get_settings().database_url)
    if make_url(url).get_backend_name() != "sqlite" or make_url(url).database in (None, "", ":memory:"):
        return make_engine(url)
    return make_engine(
        url,
        poolclass=QueuePool,
        pool_size=connections,
        max_overflow=connections,
        connect_args={"check_same_thread": False},  # a pooled connection serves one request at a time
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself so SAVEPOINT works (pysqlite recipe).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE_LOCK) else "BEGIN")


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for `url` (the settings' database by default)."""
    url = normalise_url(url or get_settings().database_url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        return engine


def dispose_engines() -> None:
    """Close every shared engine (tests, forks)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(url: str | None = None, *, engine: Engine | None = None, write: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error.

    `write`: on SQLite the transaction takes the write lock with its first statement (`BEGIN
    IMMEDIATE`), so it waits for another writer (up to the busy timeout) instead of failing at once
    with "database is locked" when it writes after it has read (`zhengyun.app.run` retries so).
    """
    bind = engine or get_engine(url)
    turn = None
    if write and bind.dialect.name == "sqlite":
        bind = bind.execution_options(**{_WRITE_LOCK: True})
        # Threads of this process that want the write lock queue here and get it as soon as it is free;
        # waiting in SQLite's busy handler instead sleeps in steps of up to 100 ms while it is free.
        turn = _writer_turn(bind.url.render_as_string(hide_password=False))
        if not turn.acquire(timeout=BUSY_TIMEOUT_S):  # as long as SQLite's own busy timeout, then the same error
            raise sqlite3.OperationalError("database is locked")
    try:
        session = Session(bind, expire_on_commit=False)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
    finally:
        if turn is not None:
            turn.release()


_turns: dict[str, threading.RLock] = {}


def _writer_turn(url: str) -> threading.RLock:
    """The lock the threads of this process take, in turn, before SQLite's write lock on `url`."""
    with _lock:
        return _turns.setdefault(url, threading.RLock())


def is_postgres(session: Session) -> bool:
    """Whether the session talks to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def one_of(column: str, values: type[StrEnum]) -> str:
    """The SQL of a CHECK that `column` holds one of an enum's values (a NULL passes, as in SQL)."""
    listed = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"{column} IN ({listed})"


def enum_check(table: str, column: str, values: type[StrEnum]) -> CheckConstraint:
    """The CHECK constraint `ck_<table>_<column>` that keeps a status or kind column to its enum's values;
    the models declare it and the migrations create it from the same enum."""
    return CheckConstraint(one_of(column, values), name=f"ck_{table}_{column}")
