"""bill payment reference and date; the bill lock lets paying record them, and only paying

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

Paying a bill now records the payment voucher number (付款凭证号) and the payment date (付款日期)
(docs/reference.md#contracts-and-bills). The lock of migration 0004 is replaced on both databases so
that moving an approved bill to paid may set exactly status, paid_by, paid_at, payment_reference and
payment_date — and must set the last two — while every other change to an approved or paid bill is
still refused; a bill that is not paid carries no payment details.
"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

from billing.models import BillStatus


revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LOCKED_MESSAGE = "bill is approved or paid: it can no longer change"
# Columns of `bill` that must not change once approved: every column but status, paid_by, paid_at,
# payment_reference and payment_date (those paying sets). As in migration 0004, which this replaces.
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

# the statuses in the triggers' SQL, from their one definition (`billing.models.BillStatus`)
DRAFT, APPROVED, PAID = (f"'{status}'" for status in (BillStatus.DRAFT, BillStatus.APPROVED, BillStatus.PAID))


def _quoted(name: str) -> str:
    return f'"{name}"'


def upgrade() -> None:
    with op.batch_alter_table("bill", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_reference", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column("payment_date", sa.Date(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgres_guard(with_payment=True))
    else:
        op.execute("DROP TRIGGER IF EXISTS bill_locked_update")
        op.execute(_sqlite_update_trigger(with_payment=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgres_guard(with_payment=False))
    else:
        op.execute("DROP TRIGGER IF EXISTS bill_locked_update")
        op.execute(_sqlite_update_trigger(with_payment=False))
    # in place on both databases: rebuilding the table (Alembic's batch mode on SQLite) would drop its triggers
    for column in ("payment_date", "payment_reference"):
        op.execute(f"ALTER TABLE bill DROP COLUMN {column}")


def _sqlite_update_trigger(*, with_payment: bool) -> str:
    """The update lock of `bill` on SQLite; without the payment columns, exactly migration 0004's."""
    unchanged = " AND ".join(f"NEW.{_quoted(c)} IS OLD.{_quoted(c)}" for c in FROZEN)
    paying = f"OLD.status = {APPROVED} AND NEW.status = {PAID} AND {unchanged}"
    unpaid_with_payment = ""
    if with_payment:
        paying += " AND NEW.payment_reference IS NOT NULL AND NEW.payment_date IS NOT NULL"
        unpaid_with_payment = (
            f" OR (NEW.status <> {PAID} AND (NEW.payment_reference IS NOT NULL OR NEW.payment_date IS NOT NULL))"
        )
    return (
        "CREATE TRIGGER bill_locked_update BEFORE UPDATE ON bill "
        f"WHEN (OLD.status <> {DRAFT} AND NOT ({paying})) "
        f"OR (OLD.status = {DRAFT} AND NEW.status NOT IN ({DRAFT}, {APPROVED})){unpaid_with_payment} "
        f"BEGIN SELECT RAISE(ABORT, '{LOCKED_MESSAGE}'); END"
    )


def _postgres_guard(*, with_payment: bool) -> str:
    """The guard function of `bill` on PostgreSQL (its trigger, `bill_guard`, stays); without the payment
    columns, exactly migration 0004's."""
    old = ", ".join(f"OLD.{_quoted(c)}" for c in FROZEN)
    new = ", ".join(f"NEW.{_quoted(c)}" for c in FROZEN)
    paying = f"OLD.status = {APPROVED} AND NEW.status = {PAID} AND ROW({old}) IS NOT DISTINCT FROM ROW({new})"
    unpaid_with_payment = ""
    if with_payment:
        paying += " AND NEW.payment_reference IS NOT NULL AND NEW.payment_date IS NOT NULL"
        unpaid_with_payment = (
            f"\n     OR (NEW.status <> {PAID} AND (NEW.payment_reference IS NOT NULL OR NEW.payment_date IS NOT NULL))"
        )
    return f"""
CREATE OR REPLACE FUNCTION zhengyun_bill_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> {DRAFT} THEN RAISE EXCEPTION '{LOCKED_MESSAGE}'; END IF;
    RETURN OLD;
  END IF;
  IF (OLD.status <> {DRAFT} AND NOT ({paying}))
     OR (OLD.status = {DRAFT} AND NEW.status NOT IN ({DRAFT}, {APPROVED})){unpaid_with_payment} THEN
    RAISE EXCEPTION '{LOCKED_MESSAGE}';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql"""
