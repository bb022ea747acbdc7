"""Schema migrations (Alembic) and first-run defaults, for `zhengyun db upgrade` and tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from core.db import get_engine, session_scope
from tenants.service import ensure_builtin_meters
from tenants.users import ensure_admin

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at this package's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


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
