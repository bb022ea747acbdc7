"""metering: usage series and append-only usage events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.types


revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Stored events are never changed or deleted (docs/reference.md#usage-and-meters): the database refuses it, whoever asks.
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER usage_event_no_update BEFORE UPDATE ON usage_event "
    "BEGIN SELECT RAISE(ABORT, 'usage events are never changed'); END",
    "CREATE TRIGGER usage_event_no_delete BEFORE DELETE ON usage_event "
    "BEGIN SELECT RAISE(ABORT, 'usage events are never deleted'); END",
)
_PG_TRIGGERS = (
    "CREATE FUNCTION usage_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'usage events are never changed or deleted'; END $$",
    "CREATE TRIGGER usage_event_append_only BEFORE UPDATE OR DELETE ON usage_event "
    "FOR EACH ROW EXECUTE FUNCTION usage_event_append_only()",
    "CREATE TRIGGER usage_event_no_truncate BEFORE TRUNCATE ON usage_event "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_event_append_only()",
)


def upgrade() -> None:
    op.create_table(
        "usage_series",
        sa.Column("cloud_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("department_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("meter", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_id"],
            ["cloud.id"],
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.ForeignKeyConstraint(
            ["meter"],
            ["meter.code"],
        ),
        sa.PrimaryKeyConstraint("cloud_id", "department_id", "meter"),
    )
    with op.batch_alter_table("usage_series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_series_department_id"), ["department_id"], unique=False)

    op.create_table(
        "usage_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("cloud_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("department_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("meter", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("time", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("quantity", core.types.MicroUnits(), nullable=False),
        sa.Column("resource_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=True),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("received_at", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cloud_id", "department_id", "meter"],
            ["usage_series.cloud_id", "usage_series.department_id", "usage_series.meter"],
            name="fk_usage_event_series",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cloud_id", "event_id", name="uq_usage_event_cloud_event"),
    )
    with op.batch_alter_table("usage_event", schema=None) as batch_op:
        batch_op.create_index("ix_usage_event_time", ["time"], unique=False)
        batch_op.create_index("ix_usage_event_received_at", ["received_at"], unique=False)

    triggers = _PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS usage_event_no_truncate ON usage_event")
        op.execute("DROP TRIGGER IF EXISTS usage_event_append_only ON usage_event")
        op.execute("DROP FUNCTION IF EXISTS usage_event_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS usage_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS usage_event_no_delete")
    with op.batch_alter_table("usage_event", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_event_received_at")
        batch_op.drop_index("ix_usage_event_time")

    op.drop_table("usage_event")
    with op.batch_alter_table("usage_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_series_department_id"))

    op.drop_table("usage_series")
