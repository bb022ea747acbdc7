"""Schema migrations (Alembic) and first-run defaults, for `zhengyun db upgrade` and tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

from core.db import get_engine, session_scope
from core.settings import get_settings
from tenants.service import ensure_builtin_meters
from tenants.users import ensure_admin

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at this package's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade_configured_database() -> str:
    """`zhengyun db upgrade`: migrate the settings' database, its trouble translated like the way in's
    (a `DomainError`); the database URL as shown to users (no password)."""
    from zhengyun.app import database_errors, database_url

    engine = get_engine(get_settings().database_url)
    with database_errors(engine):
        upgrade(engine=engine)
    return database_url(engine)


def upgrade(url: str | None = None, *, engine: Engine | None = None) -> None:
    """Migrate the database to the newest schema, then add the built-in admin and meters."""
    engine = engine or get_engine(url)
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")
    with session_scope(engine=engine) as session:
        ensure_builtin_meters(session)
        ensure_admin(session)


def is_initialised(engine: Engine) -> bool:
    """Whether `db upgrade` has run on this database."""
    return inspect(engine).has_table("alembic_version")
