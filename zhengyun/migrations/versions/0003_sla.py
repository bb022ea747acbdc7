"""sla: probe checks, outages, maintenance windows, ratings, rectification tickets, appeals

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.types


revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "sla_maintenance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("start", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("end", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("announced_at", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("requested_at", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("decided_at", core.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sla_maintenance", schema=None) as batch_op:
        batch_op.create_index("ix_sla_maintenance_contract_start", ["contract_id", "start"], unique=False)

    op.create_table(
        "sla_outage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("start", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("end", core.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("probe", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sla_outage", schema=None) as batch_op:
        batch_op.create_index("ix_sla_outage_contract_start", ["contract_id", "start"], unique=False)
        batch_op.create_index(
            "uq_sla_outage_open_probe",
            ["contract_id", "probe"],
            unique=True,
            sqlite_where=sa.text('"end" IS NULL'),
            postgresql_where=sa.text('"end" IS NULL'),
        )

    op.create_table(
        "sla_probe_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("probe", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("vantage", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("time", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sla_probe_check", schema=None) as batch_op:
        batch_op.create_index("ix_sla_probe_check_contract_time", ["contract_id", "time"], unique=False)
        batch_op.create_index(
            "ix_sla_probe_check_probe_vantage_time", ["contract_id", "probe", "vantage", "time"], unique=False
        )

    op.create_table(
        "sla_rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("department_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("time", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("received_at", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("appeal_due", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sla_rating", schema=None) as batch_op:
        batch_op.create_index("ix_sla_rating_contract_period", ["contract_id", "period"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_rating_department_id"), ["department_id"], unique=False)

    op.create_table(
        "sla_appeal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("filed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("filed_at", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("decided_at", core.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
        ),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["sla_rating.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rating_id"),
    )
    with op.batch_alter_table("sla_appeal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_appeal_contract_id"), ["contract_id"], unique=False)

    op.create_table(
        "sla_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("operator_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("department_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("opened_at", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("due_at", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("answered_at", core.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operator.id"],
        ),
        sa.ForeignKeyConstraint(
            ["rating_id"],
            ["sla_rating.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rating_id"),
    )
    with op.batch_alter_table("sla_ticket", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sla_ticket_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_ticket_operator_id"), ["operator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_ticket_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_ticket", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_ticket_status"))
        batch_op.drop_index(batch_op.f("ix_sla_ticket_operator_id"))
        batch_op.drop_index(batch_op.f("ix_sla_ticket_contract_id"))

    op.drop_table("sla_ticket")
    with op.batch_alter_table("sla_appeal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_appeal_contract_id"))

    op.drop_table("sla_appeal")
    with op.batch_alter_table("sla_rating", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_rating_department_id"))
        batch_op.drop_index("ix_sla_rating_contract_period")

    op.drop_table("sla_rating")
    with op.batch_alter_table("sla_probe_check", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_probe_check_probe_vantage_time")
        batch_op.drop_index("ix_sla_probe_check_contract_time")

    op.drop_table("sla_probe_check")
    with op.batch_alter_table("sla_outage", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sla_outage_open_probe", sqlite_where=sa.text('"end" IS NULL'), postgresql_where=sa.text('"end" IS NULL')
        )
        batch_op.drop_index("ix_sla_outage_contract_start")

    op.drop_table("sla_outage")
    with op.batch_alter_table("sla_maintenance", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_maintenance_contract_start")

    op.drop_table("sla_maintenance")
