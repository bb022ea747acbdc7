"""audit log: the database refuses UPDATE and DELETE of its entries (and TRUNCATE on PostgreSQL)

The hash chain shows an entry changed or removed in the middle; these triggers keep the entries from
being changed or removed in the first place, on SQLite as on PostgreSQL, as they already do for usage
events. Whoever owns the database can still drop the triggers: the chain, and a head recorded outside
the platform (`zhengyun audit head`, `audit verify --expect-head`), are what show it then.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from typing import Sequence, Union

from alembic import op


revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_SQLITE_UPGRADE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit log entries are never changed'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit log entries are never deleted'); END",
)
_SQLITE_DOWNGRADE = ("DROP TRIGGER audit_log_no_delete", "DROP TRIGGER audit_log_no_update")

_PG_UPGRADE = (
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit log entries are never changed or deleted'; END $$",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
)
_PG_DOWNGRADE = (
    "DROP TRIGGER audit_log_no_truncate ON audit_log",
    "DROP TRIGGER audit_log_append_only ON audit_log",
    "DROP FUNCTION audit_log_append_only()",
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG_UPGRADE if postgres else _SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG_DOWNGRADE if postgres else _SQLITE_DOWNGRADE:
        op.execute(statement)
