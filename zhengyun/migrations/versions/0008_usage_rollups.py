"""metering: usage rollups per hour and per day, filled from the stored events

`usage_hourly` (UTC hour, department, cloud, meter), `usage_daily` (UTC day, department, cloud, meter)
and `usage_cloud_hourly` (UTC hour, cloud, meter; with the latest `received_at`) hold event counts and
quantity sums (three BIGINT parts of millionths, exact on SQLite too) of the events up to the one-row
`usage_rollup_mark` (SQLite: `folded_rowid`; PostgreSQL: `folded_before`, a `received_at` bound, found
through a BRIN index on `usage_event.received_at`). Ingest does not touch them; `metering.rollup.fold`
adds the events beyond the mark; reads add those events to the rollup rows (`metering.rollup`).
On SQLite they are WITHOUT ROWID tables clustered on their keys. The upgrade fills them with the same
fold, from an empty mark.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from typing import Sequence, Union

from alembic import op
from sqlmodel import Session

from metering.rollup import fold

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_KEYS = {
    "usage_hourly": ("hour", "department_id", "cloud_id", "meter"),
    "usage_daily": ("day", "department_id", "cloud_id", "meter"),
    "usage_cloud_hourly": ("hour", "cloud_id", "meter"),
}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    moment = "TIMESTAMP WITH TIME ZONE" if postgres else "DATETIME"
    for table, keys in _KEYS.items():
        columns = [f"{k} {moment if k in ('hour', 'day') else 'VARCHAR(40)'} NOT NULL" for k in keys]
        columns += [f"{s} BIGINT NOT NULL" for s in ("events", "q_hi", "q_mid", "q_lo")]
        # the latest arrival: is a bill stale (docs/reference.md#contracts-and-bills, #late-usage)
        if table == "usage_cloud_hourly":
            columns.append(f"last_received {moment} NOT NULL")
        op.execute(
            f"CREATE TABLE {table} ({', '.join(columns)}, CONSTRAINT pk_{table} PRIMARY KEY ({', '.join(keys)}))"
            + ("" if postgres else " WITHOUT ROWID")
        )
    # one department's hours (its own dashboards); all departments' hours are the key's ranges
    op.execute("CREATE INDEX ix_usage_hourly_department ON usage_hourly (department_id, hour)")
    # whether a cloud got usage after a moment (is a bill stale): a seek, not a scan of every hour
    op.execute("CREATE INDEX ix_usage_cloud_hourly_received ON usage_cloud_hourly (cloud_id, last_received)")
    # what the rollups cover: nothing yet (rowid 0; before any arrival)
    op.execute(
        f"CREATE TABLE usage_rollup_mark (id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1), "
        f"folded_rowid BIGINT NOT NULL, folded_before {moment})"
    )
    empty = "'-infinity'" if postgres else "NULL"
    op.execute(f"INSERT INTO usage_rollup_mark (id, folded_rowid, folded_before) VALUES (1, 0, {empty})")
    if postgres:  # the tail beyond `folded_before` without a scan; an append-mostly column keeps it cheap
        op.execute("CREATE INDEX ix_usage_event_received_brin ON usage_event USING brin (received_at)")
    fold(Session(bind=op.get_bind()))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_usage_event_received_brin")
    op.drop_table("usage_rollup_mark")
    for table in _KEYS:
        op.drop_table(table)
