"""CHECK constraints that keep every status and kind column to its enum's values

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08

The values come from the enums of the domains' models (one definition); the models declare the same
constraints (`core.db.enum_check`). PostgreSQL adds a constraint to a table in place; on SQLite
the table's stored definition gains it (see `_add_checks_sqlite`). Rows that would break a constraint
stop the upgrade with a count, before anything changed.
"""

from enum import StrEnum
from typing import Sequence, Union

from alembic import op
from sqlalchemy import text

from billing.models import BillStatus, LineKind
from core.db import one_of
from sla.models import AppealStatus, OutageSource, RatingSource, TicketStatus
from tenants.models import CityTier, CloudKind, DepartmentKind, DepartmentLevel, DepartmentStatus, Role


revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CHECKS: list[tuple[str, str, type[StrEnum]]] = [
    ("cloud", "kind", CloudKind),
    ("cloud", "tier", CityTier),
    ("department", "level", DepartmentLevel),
    ("department", "kind", DepartmentKind),
    ("department", "status", DepartmentStatus),
    ("app_user", "role", Role),
    ("sla_outage", "source", OutageSource),
    ("sla_rating", "source", RatingSource),
    ("sla_ticket", "status", TicketStatus),
    ("sla_appeal", "status", AppealStatus),
    ("bill", "status", BillStatus),
    ("bill_line", "kind", LineKind),
]


def _by_table() -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, values in CHECKS:
        tables.setdefault(table, []).append((f"ck_{table}_{column}", one_of(column, values)))
    return tables


def upgrade() -> None:
    bind = op.get_bind()
    for table, checks in _by_table().items():
        for name, condition in checks:  # say which rows stand in the way rather than fail on the first
            bad = bind.execute(text(f"SELECT COUNT(*) FROM {table} WHERE NOT ({condition})")).scalar()
            if bad:
                raise RuntimeError(f"{table}: {bad} row(s) break {name} ({condition}); correct them, then upgrade")
        if bind.dialect.name == "postgresql":
            for name, condition in checks:
                op.create_check_constraint(name, table, condition)
        else:
            _add_checks_sqlite(table, checks)


def _add_checks_sqlite(table: str, checks: list[tuple[str, str]]) -> None:
    """SQLite cannot add a constraint to a table, nor rebuild a table others refer to while foreign keys
    are enforced (they are, and cannot be switched off inside the migration's transaction). Adding a
    CHECK that every stored row meets (counted above) changes nothing on disk, so the table's stored
    definition gains it in place, the way SQLite documents for such changes: the schema rewritten, its
    version raised so that every connection reads it anew, then the database checked whole."""
    bind = op.get_bind()
    created = bind.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
    ).scalar()
    body = created.rstrip().removesuffix(")").rstrip()
    constraints = "".join(f", \n\tCONSTRAINT {name} CHECK ({condition})" for name, condition in checks)
    version = bind.execute(text("PRAGMA schema_version")).scalar()
    op.execute("PRAGMA writable_schema = ON")
    bind.execute(
        text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
        {"sql": f"{body}{constraints}\n)", "t": table},
    )
    op.execute(f"PRAGMA schema_version = {version + 1}")
    op.execute("PRAGMA writable_schema = OFF")
    problems = bind.execute(text("PRAGMA integrity_check")).scalars().all()
    if problems != ["ok"]:
        raise RuntimeError(f"{table}: the database is not intact after adding its checks: {problems}")


def downgrade() -> None:
    bind = op.get_bind()
    for table, checks in _by_table().items():
        if bind.dialect.name == "postgresql":
            for name, _ in checks:
                op.drop_constraint(name, table, type_="check")
            continue
        created = bind.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
        ).scalar()
        for name, condition in checks:
            created = created.replace(f", \n\tCONSTRAINT {name} CHECK ({condition})", "")
        version = bind.execute(text("PRAGMA schema_version")).scalar()
        op.execute("PRAGMA writable_schema = ON")
        bind.execute(
            text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"), {"sql": created, "t": table}
        )
        op.execute(f"PRAGMA schema_version = {version + 1}")
        op.execute("PRAGMA writable_schema = OFF")
