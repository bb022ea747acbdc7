"""The models and the migrations describe the same schema, on SQLite and on PostgreSQL.

A database migrated by the project's own upgrade (`zhengyun.database.upgrade`, the `db_url` fixture)
is compared with the models by Alembic's autogenerate comparison (`zhengyun.database.schema_differences`).
A schema change is a model change plus a migration; `draft_migration` drafts the migration.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table

from core.db import make_engine
from core.types import MicroUnits
from zhengyun import database
from zhengyun.database import schema_differences
from zhengyun.models import metadata


def test_the_migrated_database_is_what_the_models_describe(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            differences = schema_differences(connection)
    finally:
        engine.dispose()
    assert not differences, "the models and the migrations disagree:\n" + "\n".join(differences)


def _copy() -> MetaData:
    copy = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(copy)
    for table in metadata.sorted_tables:  # `to_metadata` leaves out which database an index is for: put it back
        only = {index.name: index._ddl_if for index in table.indexes}
        for index in copy.tables[table.name].indexes:
            index._ddl_if = only[index.name]
    return copy


def test_the_comparison_names_every_kind_of_difference(db_url: str) -> None:
    models = _copy()
    assert models.tables.keys() == metadata.tables.keys()
    bill = models.tables["bill"]
    bill.c.base.type = MicroUnits()  # an exact decimal stored as BIGINT millionths: another type
    bill.c.flags.nullable = True
    bill.append_column(Column("extra", String(10), nullable=True))
    Index("ix_bill_run_by", bill.c.run_by)
    Table("not_migrated", models, Column("id", Integer, primary_key=True))
    models.remove(models.tables["usage_rollup_mark"])
    models.remove(models.tables["scheduler_lease"])
    Table(  # the same columns, keyed by another
        "scheduler_lease",
        models,
        Column("name", String(64), nullable=False),
        Column("holder", String(200), primary_key=True),
        Column("expires_at_ms", BigInteger, nullable=False),
    )
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            differences = schema_differences(connection, models)
    finally:
        engine.dispose()
    assert len(differences) == 7, differences
    text = "\n".join(differences)
    for expected in (
        "bill.base: type is NUMERIC in the database, BIGINT (MicroUnits) in the models"
        if db_url.startswith("postgresql")
        else "bill.base: type is VARCHAR(64) in the database, BIGINT (MicroUnits) in the models",
        "bill.flags: nullable is NOT NULL in the database, NULL in the models",
        "bill.extra: column only in the models",
        "bill: index ix_bill_run_by (run_by) only in the models",
        "not_migrated: table only in the models",
        "usage_rollup_mark: table only in the database",
        "scheduler_lease: primary key is (name) in the database, (holder) in the models",
    ):
        assert expected in text, text


def test_the_job_store_table_of_the_scheduler_library_is_left_out(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        SQLAlchemyJobStore(engine=engine, tablename="scheduler_job").jobs_t.create(engine)  # as `serve` does
        with engine.connect() as connection:
            assert schema_differences(connection) == []
    finally:
        engine.dispose()


def test_autogenerate_drafts_an_empty_migration_when_the_models_and_migrations_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(database.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(database, "MIGRATIONS", migrations)
    [draft] = database.draft_migration("nothing to do")
    newest = max(int(path.name.split("_")[0]) for path in (migrations / "versions").glob("0*.py") if path != draft)
    assert draft.name == f"{newest + 1:04d}_nothing_to_do.py"
    text = draft.read_text()
    assert f"down_revision: Union[str, Sequence[str], None] = '{newest:04d}'" in text
    assert "op." not in text, text
