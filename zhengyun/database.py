"""Schema migrations (Alembic) and first-run defaults, for `zhengyun db upgrade` and tests.

The schema is written twice, as models (every domain's `models.py`, `zhengyun.models`) and as
migrations (`zhengyun/migrations/versions`); `schema_differences` says where a migrated database and
the models disagree (tests/zhengyun/test_schema.py keeps them agreeing), and `draft_migration` has
Alembic draft the migration of a model change.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, ForeignKeyConstraint, Index, MetaData, UniqueConstraint, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import SchemaItem
from sqlalchemy.types import TypeDecorator, TypeEngine

from core.db import get_engine, make_engine, session_scope
from core.settings import get_settings
from tenants.service import ensure_builtin_meters
from tenants.users import ensure_admin
from zhengyun.models import metadata

MIGRATIONS = Path(__file__).parent / "migrations"

#: Tables of the database that no model describes: APScheduler's job store creates `scheduler_job`
#: itself when the scheduler first starts (`zhengyun.scheduler.new_scheduler`), with its own metadata,
#: and owns its shape; neither the models nor the migrations describe it.
UNMODELLED = frozenset({"scheduler_job"})

#: How the comparison (and autogenerate, `zhengyun/migrations/env.py`) compares: column types as the
#: database compiles them — a `TypeDecorator` such as `core.types.ExactDecimal` through its dialect's
#: impl (NUMERIC on PostgreSQL, VARCHAR(64) on SQLite) — and server defaults.
COMPARE_OPTIONS: dict[str, Any] = {"compare_type": True, "compare_server_default": True}


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


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Which database objects the comparison reflects: not the tables no model describes."""
    return not (type_ == "table" and name in UNMODELLED)


def include_object(dialect: str) -> Callable[[SchemaItem, str | None, str, bool, SchemaItem | None], bool]:
    """Which objects the comparison compares on `dialect`.

    Left out: an index or constraint the models create on another database only (`ddl_if`, e.g. the
    PostgreSQL-only indexes of `usage_event`), and a unique constraint on exactly the primary key's
    columns, which says nothing more than the key: PostgreSQL drops it at CREATE TABLE, SQLite keeps it
    (`contract_cloud`).
    """

    def include(obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None) -> bool:
        condition = getattr(obj, "_ddl_if", None)  # what `Index.ddl_if(dialect=...)` sets (SQLAlchemy 2)
        if condition is not None and condition.dialect is not None and condition.dialect != dialect:
            return False
        if isinstance(obj, UniqueConstraint) and obj.table is not None:
            key = {column.name for column in obj.table.primary_key.columns}
            return {column.name for column in obj.columns} != key
        return True

    return include


def schema_differences(connection: Connection, models: MetaData = metadata) -> list[str]:
    """Where the database on `connection` and the models disagree, one readable line each (none: they agree).

    Alembic's autogenerate comparison (tables, columns, types, nullability, server defaults, indexes,
    unique and foreign keys), plus the primary keys, which it does not compare.
    """
    dialect = connection.dialect.name
    context = MigrationContext.configure(
        connection,
        opts={**COMPARE_OPTIONS, "include_name": include_name, "include_object": include_object(dialect)},
    )
    lines = [_describe(diff, connection.dialect) for diff in _flatten(compare_metadata(context, models))]
    inspector = inspect(connection)
    existing = set(inspector.get_table_names())
    for table in models.sorted_tables:
        if table.name in existing:
            ours = [column.name for column in table.primary_key.columns]
            theirs = inspector.get_pk_constraint(table.name)["constrained_columns"]
            if ours != theirs:
                lines.append(
                    f"{table.name}: primary key is ({', '.join(theirs)}) in the database, ({', '.join(ours)}) in the models"
                )
    return sorted(lines)


def _flatten(diffs: list[Any]) -> list[tuple[Any, ...]]:
    flat: list[tuple[Any, ...]] = []
    for diff in diffs:
        flat.extend(diff if isinstance(diff, list) else [diff])  # changes of one column come as a list
    return flat


def _columns(item: Index | UniqueConstraint | ForeignKeyConstraint) -> str:
    return (
        ", ".join(str(getattr(column, "name", column)) for column in item.expressions)
        if isinstance(item, Index)
        else ", ".join(column.name for column in item.columns)
    )


def _type_text(type_: TypeEngine[Any], dialect: Dialect) -> str:
    """A column type as the database spells it, and the model's own type where it decorates another."""
    spelled = str(type_.compile(dialect=dialect))
    return f"{spelled} ({type(type_).__name__})" if isinstance(type_, TypeDecorator) else spelled


def _describe(diff: tuple[Any, ...], dialect: Dialect) -> str:
    """One comparison result in words: what the models have, what the database has."""
    kind = diff[0]
    where = {"add": "only in the models", "remove": "only in the database"}.get(kind.split("_")[0], "")
    if kind in ("add_table", "remove_table"):
        return f"{diff[1].name}: table {where}"
    if kind in ("add_column", "remove_column"):
        column = diff[3]
        return f"{diff[2]}.{column.name}: column {where} ({column.type}, {'NULL' if column.nullable else 'NOT NULL'})"
    if kind in ("add_index", "remove_index"):
        index: Index = diff[1]
        unique = "unique " if index.unique else ""
        return f"{index.table.name if index.table is not None else '?'}: {unique}index {index.name} ({_columns(index)}) {where}"
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint = diff[1]
        what = f"unique constraint {constraint.name or ''} ({_columns(constraint)})"
        if isinstance(constraint, ForeignKeyConstraint):
            target = ", ".join(element.target_fullname for element in constraint.elements)
            what = f"foreign key {constraint.name or ''} ({_columns(constraint)}) -> {target}"
        return f"{constraint.table.name}: {what} {where}".replace("  ", " ")
    if kind in ("modify_type", "modify_nullable", "modify_default", "modify_comment"):
        _, _schema, table, column, _existing, in_database, in_models = diff
        if kind == "modify_nullable":
            in_database, in_models = ("NULL" if v else "NOT NULL" for v in (in_database, in_models))
        elif kind == "modify_type":
            in_database, in_models = (_type_text(v, dialect) for v in (in_database, in_models))
        else:
            in_database, in_models = repr(in_database), repr(in_models)
        aspect = kind.removeprefix("modify_").replace("default", "server default")
        return f"{table}.{column}: {aspect} is {in_database} in the database, {in_models} in the models"
    return repr(diff)  # any other kind Alembic reports, as it reports it


def draft_migration(message: str, url: str | None = None) -> list[Path]:
    """Have Alembic draft the next migration from the models' differences with the newest schema.

    Migrates a scratch SQLite database (or the empty database at `url`, e.g. a PostgreSQL one, since
    the PostgreSQL-only parts differ) to the newest revision and writes
    `zhengyun/migrations/versions/<next number>_<message>.py`: a draft to read and complete by hand
    (data, triggers, per-database shapes) before committing it. Returns the files written.
    """
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(url or f"sqlite:///{Path(scratch) / 'draft.db'}")
        try:
            upgrade(engine=engine)
            numbers = [
                int(m.group(1)) for f in (MIGRATIONS / "versions").glob("*.py") if (m := re.match(r"(\d+)_", f.name))
            ]
            cfg = alembic_config()
            with engine.begin() as connection:
                cfg.attributes["connection"] = connection
                scripts = command.revision(cfg, message, autogenerate=True, rev_id=f"{max(numbers, default=0) + 1:04d}")
        finally:
            engine.dispose()
    listed = scripts if isinstance(scripts, list) else [scripts]
    return [Path(script.path) for script in listed if script is not None]
