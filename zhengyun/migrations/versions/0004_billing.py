"""billing: bills, bill lines, allocations; triggers that lock approved and paid bills

Revision ID: 0004
Revises: 0002, 0003
Create Date: 2026-11-23
"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

import core.types
from billing.models import BillStatus


revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = ("0002", "0003")
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LOCKED_MESSAGE = "bill is approved or paid: it can no longer change"
# Columns of `bill` that must not change once approved (paying sets only status, paid_by, paid_at).
FROZEN = [
    "id",
    "contract_id",
    "period",
    "operator_id",
    "currency",
    "flags",
    "availability",
    "score",
    "base",
    "sla_credit",
    "evaluation_deduction",
    "cap_adjustment",
    "corrections",
    "payable",
    "computed_at",
    "run_by",
    "events_seen",
    "terms_hash",
    "sla_stamp",
    "approved_by",
    "approved_at",
    "override_reason",
]


def _quoted(name: str) -> str:
    return f'"{name}"'


# the statuses in the triggers' SQL, from their one definition (`billing.models.BillStatus`)
DRAFT, APPROVED, PAID = (f"'{status}'" for status in (BillStatus.DRAFT, BillStatus.APPROVED, BillStatus.PAID))


def upgrade() -> None:
    op.create_table(
        "bill",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("contract_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("operator_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("flags", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("availability", core.types.ExactDecimal(), nullable=True),
        sa.Column("score", core.types.ExactDecimal(), nullable=True),
        sa.Column("base", core.types.ExactDecimal(), nullable=False),
        sa.Column("sla_credit", core.types.ExactDecimal(), nullable=False),
        sa.Column("evaluation_deduction", core.types.ExactDecimal(), nullable=False),
        sa.Column("cap_adjustment", core.types.ExactDecimal(), nullable=False),
        sa.Column("corrections", core.types.ExactDecimal(), nullable=False),
        sa.Column("payable", core.types.ExactDecimal(), nullable=False),
        sa.Column("computed_at", core.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("run_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("events_seen", sa.BigInteger(), nullable=False),
        sa.Column("terms_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sla_stamp", core.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("approved_at", core.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("paid_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("paid_at", core.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bill", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bill_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bill_operator_id"), ["operator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bill_period"), ["period"], unique=False)

    op.create_table(
        "bill_line",
        sa.Column("bill_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("meter", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("quantity", core.types.ExactDecimal(), nullable=True),
        sa.Column("unit_price", core.types.ExactDecimal(), nullable=True),
        sa.Column("amount", core.types.ExactDecimal(), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True),
        sa.ForeignKeyConstraint(
            ["bill_id"],
            ["bill.id"],
        ),
        sa.PrimaryKeyConstraint("bill_id", "seq"),
    )
    op.create_table(
        "bill_allocation",
        sa.Column("bill_id", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("department_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("quantity", core.types.ExactDecimal(), nullable=False),
        sa.Column("amount", core.types.ExactDecimal(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bill_id", "seq"],
            ["bill_line.bill_id", "bill_line.seq"],
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
        ),
        sa.PrimaryKeyConstraint("bill_id", "seq", "department_id"),
    )
    with op.batch_alter_table("bill_allocation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bill_allocation_department_id"), ["department_id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    raise_ = f"SELECT RAISE(ABORT, '{LOCKED_MESSAGE}');"
    for table in ("bill_line", "bill_allocation"):
        status_new = f"(SELECT status FROM bill WHERE id = NEW.bill_id) <> {DRAFT}"
        status_old = f"(SELECT status FROM bill WHERE id = OLD.bill_id) <> {DRAFT}"
        op.execute(
            f"CREATE TRIGGER {table}_locked_insert BEFORE INSERT ON {table} WHEN {status_new} BEGIN {raise_} END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_locked_update BEFORE UPDATE ON {table} WHEN {status_old} OR {status_new} "
            f"BEGIN {raise_} END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_locked_delete BEFORE DELETE ON {table} WHEN {status_old} BEGIN {raise_} END"
        )
    unchanged = " AND ".join(f"NEW.{_quoted(c)} IS OLD.{_quoted(c)}" for c in FROZEN)
    op.execute(
        "CREATE TRIGGER bill_locked_update BEFORE UPDATE ON bill "
        f"WHEN (OLD.status <> {DRAFT} AND NOT (OLD.status = {APPROVED} AND NEW.status = {PAID} "
        f"AND {unchanged})) OR (OLD.status = {DRAFT} AND NEW.status NOT IN ({DRAFT}, {APPROVED})) "
        f"BEGIN {raise_} END"
    )
    op.execute(f"CREATE TRIGGER bill_locked_delete BEFORE DELETE ON bill WHEN OLD.status <> {DRAFT} BEGIN {raise_} END")


def _postgres_triggers() -> None:
    old = ", ".join(f"OLD.{_quoted(c)}" for c in FROZEN)
    new = ", ".join(f"NEW.{_quoted(c)}" for c in FROZEN)
    op.execute(f"""
CREATE FUNCTION zhengyun_bill_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> {DRAFT} THEN RAISE EXCEPTION '{LOCKED_MESSAGE}'; END IF;
    RETURN OLD;
  END IF;
  IF (OLD.status <> {DRAFT} AND NOT (OLD.status = {APPROVED} AND NEW.status = {PAID}
      AND ROW({old}) IS NOT DISTINCT FROM ROW({new})))
     OR (OLD.status = {DRAFT} AND NEW.status NOT IN ({DRAFT}, {APPROVED})) THEN
    RAISE EXCEPTION '{LOCKED_MESSAGE}';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql""")
    op.execute(
        """
CREATE FUNCTION zhengyun_bill_part_guard() RETURNS trigger AS $$
DECLARE s text;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT status INTO s FROM bill WHERE id = OLD.bill_id;
    IF s IS NOT NULL AND s <> """
        + DRAFT
        + """ THEN RAISE EXCEPTION '"""
        + LOCKED_MESSAGE
        + """'; END IF;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    SELECT status INTO s FROM bill WHERE id = NEW.bill_id;
    IF s IS NOT NULL AND s <> """
        + DRAFT
        + """ THEN RAISE EXCEPTION '"""
        + LOCKED_MESSAGE
        + """'; END IF;
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql"""
    )
    op.execute(
        "CREATE TRIGGER bill_guard BEFORE UPDATE OR DELETE ON bill FOR EACH ROW EXECUTE FUNCTION zhengyun_bill_guard()"
    )
    for table in ("bill_line", "bill_allocation"):
        op.execute(
            f"CREATE TRIGGER {table}_guard BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION zhengyun_bill_part_guard()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS bill_allocation_guard ON bill_allocation")
        op.execute("DROP TRIGGER IF EXISTS bill_line_guard ON bill_line")
        op.execute("DROP TRIGGER IF EXISTS bill_guard ON bill")
        op.execute("DROP FUNCTION IF EXISTS zhengyun_bill_part_guard()")
        op.execute("DROP FUNCTION IF EXISTS zhengyun_bill_guard()")
    with op.batch_alter_table("bill_allocation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bill_allocation_department_id"))

    op.drop_table("bill_allocation")
    op.drop_table("bill_line")
    with op.batch_alter_table("bill", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bill_period"))
        batch_op.drop_index(batch_op.f("ix_bill_operator_id"))
        batch_op.drop_index(batch_op.f("ix_bill_contract_id"))

    op.drop_table("bill")
