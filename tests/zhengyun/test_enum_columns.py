"""The statuses, kinds and flags of the models (StrEnums) and the migrated schema cannot drift apart.

The columns are string columns with a CHECK constraint built from the enum (`core.db.enum_check`, in the
models and in migration 0009). So, on a freshly migrated database: each enum column is a string column
every value fits in, its CHECK admits exactly the enum's values, and the status literals in the billing
triggers' SQL (migration 0004) are values of `BillStatus`. Migration 0009 keeps what was stored.
"""

from __future__ import annotations

import re
import types
from enum import StrEnum
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
from sqlalchemy import Engine, String, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import SQLModel

import billing.models
import sla.models
import tenants.models
from billing.models import BillStatus
from core.db import make_engine
from tests.conftest import migrate


def _enum_of(annotation: Any) -> type[StrEnum] | None:
    if get_origin(annotation) in (Union, types.UnionType):
        found = [e for a in get_args(annotation) if (e := _enum_of(a)) is not None]
        return found[0] if found else None
    return annotation if isinstance(annotation, type) and issubclass(annotation, StrEnum) else None


def _enum_columns() -> list[tuple[str, str, type[StrEnum]]]:
    columns = []
    for module in (tenants.models, sla.models, billing.models):
        for model in vars(module).values():
            if not (isinstance(model, type) and issubclass(model, SQLModel) and hasattr(model, "__tablename__")):
                continue
            if model.__module__ != module.__name__:
                continue
            for name, info in model.model_fields.items():
                enum = _enum_of(info.annotation)
                if enum is not None:
                    columns.append((str(model.__tablename__), name, enum))
    return columns


def test_the_models_annotate_their_statuses_and_kinds_with_enums() -> None:
    found = {(table, column) for table, column, _ in _enum_columns()}
    assert {
        ("cloud", "kind"),
        ("cloud", "tier"),
        ("department", "level"),
        ("department", "kind"),
        ("department", "status"),
        ("app_user", "role"),
        ("sla_outage", "source"),
        ("sla_rating", "source"),
        ("sla_ticket", "status"),
        ("sla_appeal", "status"),
        ("bill", "status"),
        ("bill_line", "kind"),
    } <= found


def test_every_enum_column_is_a_string_column_its_values_fit_in(engine: Engine) -> None:
    schema = inspect(engine)
    for table, column, enum in _enum_columns():
        (db_column,) = [c for c in schema.get_columns(table) if c["name"] == column]
        assert isinstance(db_column["type"], String), (table, column, db_column["type"])
        longest = max(len(value) for value in enum)
        assert db_column["type"].length is not None and longest <= db_column["type"].length, (table, column)


def test_the_bill_triggers_name_only_bill_statuses(engine: Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sql = conn.execute(
                text(
                    "SELECT string_agg(pg_get_functiondef(p.oid), ' ') FROM pg_proc p "
                    "WHERE p.proname IN ('zhengyun_bill_guard', 'zhengyun_bill_part_guard')"
                )
            ).scalar_one()
        else:
            sql = " ".join(
                conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'bill%'")
                ).scalars()
            )
    named = set(re.findall(r"'([a-z_]+)'", sql))  # (the operations, 'UPDATE' …, are upper case)
    assert named == {BillStatus.DRAFT, BillStatus.APPROVED, BillStatus.PAID}, named


def _checks(engine: Engine) -> dict[tuple[str, str], set[str]]:
    """The values each `ck_<table>_<column>` constraint of the database names."""
    schema = inspect(engine)
    found = {}
    for table in {t for t, _, _ in _enum_columns()}:
        for check in schema.get_check_constraints(table):
            name = check["name"] or ""
            if name.startswith(f"ck_{table}_"):
                found[(table, name.removeprefix(f"ck_{table}_"))] = set(re.findall(r"'([^']*)'", check["sqltext"]))
    return found


def test_every_enum_column_has_a_check_admitting_exactly_its_values(engine: Engine) -> None:
    expected = {(table, column): {str(v) for v in enum} for table, column, enum in _enum_columns()}
    assert _checks(engine) == expected


def test_the_models_declare_the_same_checks_as_the_database_has(engine: Engine) -> None:
    declared = {}
    for table, column, _ in _enum_columns():
        model_table = SQLModel.metadata.tables[table]
        constraints = [*model_table.constraints, *model_table.columns[column].constraints]
        (check,) = [c for c in constraints if c.name == f"ck_{table}_{column}"]
        declared[(table, column)] = set(re.findall(r"'([^']*)'", str(check.sqltext)))  # type: ignore[attr-defined]
    assert declared == _checks(engine)


def test_the_database_refuses_a_status_outside_its_enum(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO app_user (name, role, disabled, created_at) "
                "VALUES ('mallory', 'superuser', false, '2026-12-01 00:00:00')"
            )
        )


def test_migration_0009_keeps_the_rows_indexes_and_triggers_it_rebuilds_around(cli: Any, db_url: str) -> None:
    data = Path(__file__).resolve().parents[1] / "billing" / "data"
    for args in (
        ("tenants", "import", data / "worked_tenancy.yaml"),
        ("contracts", "import", data / "worked_contracts.yaml"),
        ("users", "add", "fin1", "--role", "finance"),
        ("users", "add", "fin2", "--role", "finance"),
        ("bills", "run", "--period", "2026-10", "--as", "fin1"),
        ("bills", "approve", "WORKED-IAAS-2026@2026-10", "--as", "fin2"),
    ):
        assert cli(*args).code == 0, args
    shown = cli("bills", "show", "--period", "2026-10", "--json").stdout
    migrate(db_url, "0008", down=True)
    engine = make_engine(db_url)
    try:
        assert _checks(engine) == {}
    finally:
        engine.dispose()
    migrate(db_url, "head")
    assert cli("bills", "show", "--period", "2026-10", "--json").stdout == shown
    assert cli("audit", "verify").code == 0
    engine = make_engine(db_url)
    try:
        assert len(_checks(engine)) == len(_enum_columns())
        with pytest.raises(DBAPIError, match="approved or paid"), engine.begin() as conn:  # the lock trigger stands
            conn.execute(text("UPDATE bill_line SET amount = '0' WHERE bill_id = 'WORKED-IAAS-2026@2026-10'"))
    finally:
        engine.dispose()
