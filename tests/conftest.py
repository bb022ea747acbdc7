"""Shared fixtures: a migrated database per test on SQLite and, when given, PostgreSQL.

Set ZHENGYUN_TEST_POSTGRES to a PostgreSQL URL (e.g. postgresql://postgres@127.0.0.1:5432/test) to run
every database test on PostgreSQL as well; without it those cases are skipped and say so.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from core.db import dispose_engines, make_engine, normalise_url
from core.i18n import set_language
from core.settings import get_settings
from zhengyun.wiring import wire

# Tests call services directly, as an entry point does, so they wire the domains as every entry point does.
wire()

PG_URL = os.environ.get("ZHENGYUN_TEST_POSTGRES")
REPO = Path(__file__).resolve().parent.parent


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Tests read messages in English unless they switch."""
    set_language("en")
    yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    from zhengyun.database import upgrade

    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine=engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _pg_admin() -> Engine:
    assert PG_URL
    return create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")


def _pg_url(name: str) -> str:
    assert PG_URL
    return make_url(normalise_url(PG_URL)).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database used as CREATE DATABASE … TEMPLATE."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set ZHENGYUN_TEST_POSTGRES to run PostgreSQL cases")
    from zhengyun.database import upgrade

    name = f"zy_tmpl_{_worker()}_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_pg_url(name))
    upgrade(engine=engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_db(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "zhengyun.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"zy_{_worker()}_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield _pg_url(name)
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database, once on SQLite and once on PostgreSQL."""
    yield from _fresh_db(request.param, request, tmp_path)


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated SQLite database only (for tests where the backend does not matter)."""
    yield from _fresh_db("sqlite", request, tmp_path)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the fresh database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def use_db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the process settings (CLI, services using the default engine) at the fresh database."""
    monkeypatch.setenv("ZHENGYUN_DATABASE_URL", db_url)
    monkeypatch.setenv("ZHENGYUN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ZHENGYUN_ACTOR", raising=False)
    monkeypatch.setenv("ZHENGYUN_LANG", "en")
    get_settings.cache_clear()
    dispose_engines()
    yield db_url
    dispose_engines()
    get_settings.cache_clear()


class Cli:
    """Runs `zhengyun …` in-process against the test database, through `zhengyun.cli.main` as a user does."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> CliResult:
        from zhengyun.cli.main import main
        from zhengyun.cli.support import ERROR_LOG

        log = get_settings().data_dir / ERROR_LOG
        logged = log.stat().st_size if log.exists() else 0
        with self.runner.isolation(input=input) as (out, err, _):
            code = main(["--lang", "en", *[str(a) for a in args]])
            stdout, stderr = out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8")
        details = log.read_bytes()[logged:].decode("utf-8", "replace") if log.exists() else ""
        return CliResult(code, stdout, stderr, details)


class CliResult:
    """Exit code and output of one CLI call (and what it wrote to the error log, if anything)."""

    def __init__(self, code: int, stdout: str, stderr: str, logged: str = ""):
        self.code, self.stdout, self.stderr, self.logged = code, stdout, stderr, logged

    def json(self) -> object:
        import json

        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return (
            f"CliResult(code={self.code}, stdout={self.stdout[:2000]!r}, stderr={self.stderr[:2000]!r}, "
            f"logged={self.logged[-4000:]!r})"
        )


@pytest.fixture
def cli(use_db: str) -> Cli:
    """The command line, on the fresh database."""
    return Cli()


@pytest.fixture
def demo_files() -> tuple[Path, Path]:
    """The demo tenancy and contracts files."""
    return REPO / "tenants" / "demo" / "guangdong.yaml", REPO / "tenants" / "demo" / "contracts.yaml"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_demo(
    data_dir: Path, port: int, api_port: int, *, lang: str | None = "en", args: tuple[str, ...] = (), **popen: Any
) -> subprocess.Popen[str]:
    """`zhengyun demo` as a user starts it, in a process of its own: its SQLite database under `data_dir`
    (never the suite's database), the output in `lang` (None: the default), with more options `args`."""
    env = {**os.environ, "ZHENGYUN_DATA_DIR": str(data_dir)}
    env.pop("ZHENGYUN_DATABASE_URL", None)
    if lang is not None:
        env["ZHENGYUN_LANG"] = lang
    command = [sys.executable, "-m", "zhengyun.cli", "demo", "--port", str(port), "--api-port", str(api_port), *args]
    return subprocess.Popen(command, env=env, text=True, **popen)


def migrate(url: str, revision: str, *, down: bool = False) -> None:
    """Run the project's migrations on `url` up (or down) to `revision`, in one transaction."""
    from alembic import command

    from zhengyun.database import alembic_config

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(cfg, revision)
    finally:
        engine.dispose()
