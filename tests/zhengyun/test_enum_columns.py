"""The statuses, kinds and flags of the models (StrEnums) and the migrated schema cannot drift apart.

The columns stay plain string columns (no CHECK constraint: the services validate). So, on a freshly
migrated database: each enum column is a string column every value fits in, and the status literals
in the billing triggers' SQL (migration 0004) are values of `BillStatus`.
"""

from __future__ import annotations

import re
import types
from enum import StrEnum
from typing import Any, Union, get_args, get_origin

from sqlalchemy import Engine, String, inspect, text
from sqlmodel import SQLModel

import billing.models
import sla.models
import tenants.models
from billing.models import BillStatus


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
