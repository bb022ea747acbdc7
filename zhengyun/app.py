"""The application layer: every entry point's one way in (STYLE "One way in").

A command, an HTTP request, a dashboard action or a scheduled job does the same four things: find
the acting user, open one unit of work, call one service function, translate what went wrong. They
are written once here, with no framework, so the CLI (`zhengyun.cli.support`), a FastAPI dependency
and a Streamlit helper each wrap them in a few lines.

- `run(work, user=…)` — `work(session, actor)` in one `session_scope`: committed on success,
  rolled back on any error.
- `run_long(work, user=…)` — for services that own several short transactions of their own (a
  usage import commits about once a second; an infra action must not hold a transaction while
  Pulumi changes the clouds): the actor is resolved first, then `work(engine, actor)` runs.

Both call `wire()` first and turn database trouble — raised through SQLAlchemy or straight from the
driver — into a `DomainError` whose message says what to do: a missing schema → run `zhengyun db
upgrade`; a locked or unreachable database → said so, with the database URL (never its password).

SQLite has one writer at a time, and a transaction that has read cannot wait for the write lock when
it comes to write (what it read may be stale): it fails at once with "database is locked" if another
process writes at that moment, e.g. a second bill run or an import. `run` then runs the unit of work
once more, holding the write lock from its first statement: it waits for the other writer (up to the
busy timeout, a minute) and reads what that one committed; only if the lock is still held after that
is the database reported as locked.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import EllipsisType
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from core.db import get_engine, session_scope
from core.errors import DomainError, Unavailable
from core.i18n import register
from core.settings import get_settings
from tenants.permissions import Actor
from tenants.users import resolve_actor
from zhengyun.wiring import wire

T = TypeVar("T")

register(
    {
        "database {url} is not initialised or its schema is out of date; run `zhengyun db upgrade` first": (
            "数据库 {url} 尚未初始化或结构不是最新；请先运行 `zhengyun db upgrade`"
        ),
        "database {url} is locked by another process; try again when it has finished": (
            "数据库 {url} 正被另一个进程锁定；请在其完成后重试"
        ),
        "cannot reach database {url}: {reason}": "无法连接数据库 {url}：{reason}",
    }
)

#: Public service functions that take a session but no acting user. They read or write without a
#: permission check, so only services and the platform's own jobs call them — never an entry point
#: on a user's behalf. A test walks the packages and fails on any such function missing here.
INTERNAL_SERVICES: frozenset[str] = frozenset(
    {
        # core: the audit chain itself and the database dialect
        "core.audit.verify",
        "core.audit.head",
        "core.db.is_postgres",
        # registry look-ups other domains build on (they scope through these, in their own services)
        "tenants.service.get_province",
        "tenants.service.get_cloud",
        "tenants.service.get_department",
        "tenants.service.list_meters",
        "tenants.service.ensure_builtin_meters",
        "tenants.service.get_contract",
        "tenants.service.contracts_active",
        "tenants.service.province_zone",
        # the registry's own imports: a dry run or a failure undoes the changes (tenants.tenancy)
        "tenants.service.in_savepoint",
        "tenants.service.add_or_update",
        # identity: these find the acting user, so they cannot take one
        "tenants.users.resolve_actor",
        "tenants.users.authenticate_token",
        "tenants.users.authenticate_password",
        "tenants.users.ensure_admin",
        # metering helpers of aggregation and ingest
        "metering.service.meter_units",
        "metering.service.local_day_bounds",
        "metering.store.ingest_barrier",
        # the rollups' fold (under `metering.service.fold_usage`, which takes the actor; migrations, benchmarks)
        "metering.rollup.fold",
        "metering.rollup.fold_large_tail",
        "metering.rollup.rebuild",
        # helpers shared by the SLA service modules (the services calling them check the actor)
        "sla.common.referred_contract",
        "sla.common.stored_row",
        "sla.common.import_rows",
        # SLA inputs of a bill run and of the metrics collector
        "sla.outages.outages_between",
        "sla.outages.counting_maintenance",
        "sla.inputs.availability_for",
        "sla.inputs.sla_inputs_changed_at",
        "sla.inputs.slo_status",
        "sla.metrics.latest_checks",
        "sla.evaluation.counted_ratings",
        "sla.evaluation.score_for",
        # billing internals of a bill run
        "billing.models.locked_periods",
        "billing.service.stale_reason",
        "billing.usage.totals",
        "billing.usage.counts_by_cloud",
        "billing.usage.received_since",
    }
)


def database_url(engine: Engine | None = None) -> str:
    """The database URL as it may be shown: without its password."""
    return (engine or get_engine()).url.render_as_string(hide_password=True)


def _driver_error(exc: BaseException) -> bool:
    """Whether `exc` is an error of a database driver itself (raised through a raw cursor)."""
    psycopg = sys.modules.get("psycopg")  # loaded if PostgreSQL is in use
    return isinstance(exc, sqlite3.Error) or (psycopg is not None and isinstance(exc, psycopg.Error))


def translate_database_error(exc: Exception, url: str) -> DomainError | None:
    """A clear `Unavailable` for a missing schema, a lock or an unreachable server; None otherwise.

    `exc` is SQLAlchemy's `DBAPIError` or the driver's own error (a raw cursor's).
    """
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(orig if orig is not None else exc)
    lowered = text.lower()
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if (
        "no such table" in lowered
        or "no such column" in lowered
        or "has no column named" in lowered
        or sqlstate in ("42P01", "42703")  # PostgreSQL: undefined table, undefined column
    ):
        return Unavailable(
            "database {url} is not initialised or its schema is out of date; run `zhengyun db upgrade` first", url=url
        )
    if "database is locked" in lowered or sqlstate in ("55P03", "40P01"):  # lock not available, deadlock
        return Unavailable("database {url} is locked by another process; try again when it has finished", url=url)
    operational = isinstance(exc, OperationalError) or type(orig).__name__ == "OperationalError"
    if operational and (
        getattr(exc, "statement", "") is None  # raised while connecting, before any statement
        or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
        or sqlstate.startswith(("08", "28"))  # PostgreSQL: connection exceptions, authorisation refused
        or sqlstate in ("3D000", "53300", "57P01", "57P02", "57P03")  # no such database, full, shutting down
        or "unable to open database file" in lowered
    ):
        reason = text.strip().splitlines()[0] if text.strip() else type(orig).__name__
        return Unavailable("cannot reach database {url}: {reason}", url=url, reason=reason)
    return None


@contextmanager
def database_errors(engine: Engine) -> Iterator[None]:
    """Raise database trouble inside the block as the clear `DomainError` of `translate_database_error`."""
    try:
        yield
    except Exception as exc:
        if not (isinstance(exc, DBAPIError) or _driver_error(exc)):
            raise
        translated = translate_database_error(exc, database_url(engine))
        if translated is None:
            raise
        raise translated from exc


def _require_acting_user(user: str | None | EllipsisType, actor: ActorSource | None) -> None:
    # an entry point that forgot to say who acts must not silently act as the local administrator
    if actor is None and user is ...:
        raise TypeError("say who acts: actor=… (authenticated) or user=NAME / None (the local command line)")


def acting_user(user: str | None | EllipsisType) -> str | None:
    """The name of the acting user: the one given, else `ZHENGYUN_ACTOR`, else None (the local admin)."""
    return (user if isinstance(user, str) else None) or get_settings().actor


#: Who acts: an `Actor` already known, or a function that authenticates one in the unit of work
#: (e.g. a bearer token: `lambda session: authenticate_token(session, token)`).
ActorSource = Actor | Callable[[Session], Actor]


def run(
    work: Callable[[Session, Actor], T],
    *,
    user: str | None | EllipsisType = ...,
    actor: ActorSource | None = None,
    engine: Engine | None = None,
    writes: bool = False,
) -> T:
    """Run `work(session, actor)` as one unit of work: the actor (given, authenticated, or resolved by
    name), one transaction, committed on success, database trouble translated.

    The acting user must be said: `actor=` (known or authenticated by the entry point) or `user=` (a
    name; None means `ZHENGYUN_ACTOR`, else the local administrator — for the local command line only).
    `writes`: the unit of work (nearly) always writes, e.g. `POST /v1/usage/events`: on SQLite it takes
    the write lock with its first statement, instead of doing its work once in vain whenever another
    writer got in first (under concurrent requests, most of the time).
    """
    _require_acting_user(user, actor)
    wire()
    engine = engine or get_engine()
    with database_errors(engine):
        if writes and callable(actor):
            # authenticate before queueing for the write lock: a bad token or a refused caller never holds it
            authenticate = actor
            actor = _unit_of_work(lambda _session, who: who, engine, user, authenticate, write=False)
        try:
            return _unit_of_work(work, engine, user, actor, write=writes)
        except Exception as exc:
            if writes or not _lost_the_write_lock(engine, exc):
                raise
        # another process wrote between this unit's first read and its first write (module docstring)
        return _unit_of_work(work, engine, user, actor, write=True)


def _unit_of_work(
    work: Callable[[Session, Actor], T],
    engine: Engine,
    user: str | None | EllipsisType,
    actor: ActorSource | None,
    *,
    write: bool,
) -> T:
    with session_scope(engine=engine, write=write) as session:
        if actor is None:
            who = resolve_actor(session, acting_user(user))
        else:
            who = actor(session) if callable(actor) else actor
        return work(session, who)


def _lost_the_write_lock(engine: Engine, exc: Exception) -> bool:
    """Whether a SQLite unit of work failed because another process held or took the write lock."""
    if engine.dialect.name != "sqlite":
        return False
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(orig, sqlite3.OperationalError):
        return False
    code = getattr(orig, "sqlite_errorcode", None)
    return (code & 0xFF) == sqlite3.SQLITE_BUSY if code is not None else "database is locked" in str(orig)


def run_long(
    work: Callable[[Engine, Actor], T],
    *,
    user: str | None | EllipsisType = ...,
    actor: ActorSource | None = None,
    engine: Engine | None = None,
) -> T:
    """Resolve the actor in a short transaction, then run `work(engine, actor)`, which owns its own
    transactions (a usage import, an infra action); database trouble translated."""
    _require_acting_user(user, actor)
    wire()
    engine = engine or get_engine()
    who = actor if isinstance(actor, Actor) else run(lambda _s, a: a, user=user, actor=actor, engine=engine)
    with database_errors(engine):
        return work(engine, who)
