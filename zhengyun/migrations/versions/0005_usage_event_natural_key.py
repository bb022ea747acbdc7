"""metering: usage events keyed by (cloud_id, event_id) and nothing else on SQLite, no fingerprint

Inserting events is the hot path of the platform (docs/reference.md#performance-targets): every index and per-row check on
`usage_event` costs about as much as the unique key itself. So:

* the idempotency key `(cloud_id, event_id)` becomes the primary key (on SQLite a rowid table whose
  primary key is a unique index, exactly the shape of the bare baseline; the surrogate `id` goes);
* the content fingerprint goes: a repeated key is compared with the stored content;
* the `received_at` index goes everywhere, the `time` index stays on PostgreSQL only — on SQLite, the
  embedded default, period queries scan the table;
* the per-row foreign key to `usage_series` goes (it cost as much as the key on both databases): the
  writer stores a batch's series in the batch's own transaction (`metering.store`), and series rows,
  like events, can now be neither changed nor deleted, so a department or cloud with usage stays.

Downgrade restores the earlier shape; fingerprints of events stored meanwhile cannot be recomputed
in SQL and are left empty.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from typing import Sequence, Union

from alembic import op


revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_COLUMNS = "cloud_id, event_id, department_id, meter, time, quantity, resource_id, attributes, received_at"

_SQLITE_EVENT_COLUMNS = """cloud_id VARCHAR(40) NOT NULL,
    event_id VARCHAR(200) NOT NULL,
    department_id VARCHAR(40) NOT NULL,
    meter VARCHAR(40) NOT NULL,
    time DATETIME NOT NULL,
    quantity BIGINT NOT NULL,
    resource_id VARCHAR(200),
    attributes TEXT,
    received_at DATETIME NOT NULL"""
_SQLITE_EVENT_TABLE = f"""CREATE TABLE {{name}} (
    {_SQLITE_EVENT_COLUMNS},
    CONSTRAINT pk_usage_event PRIMARY KEY (cloud_id, event_id)
)"""

_SQLITE_EVENT_TRIGGERS = (
    "CREATE TRIGGER usage_event_no_update BEFORE UPDATE ON usage_event "
    "BEGIN SELECT RAISE(ABORT, 'usage events are never changed'); END",
    "CREATE TRIGGER usage_event_no_delete BEFORE DELETE ON usage_event "
    "BEGIN SELECT RAISE(ABORT, 'usage events are never deleted'); END",
)
_SQLITE_SERIES_TRIGGERS = (
    "CREATE TRIGGER usage_series_no_update BEFORE UPDATE ON usage_series "
    "BEGIN SELECT RAISE(ABORT, 'usage series are never changed'); END",
    "CREATE TRIGGER usage_series_no_delete BEFORE DELETE ON usage_series "
    "BEGIN SELECT RAISE(ABORT, 'usage series are never deleted'); END",
)

_PG_UPGRADE = (
    "ALTER TABLE usage_event DROP CONSTRAINT fk_usage_event_series",
    "DROP INDEX ix_usage_event_received_at",
    "ALTER TABLE usage_event DROP COLUMN fingerprint",
    "ALTER TABLE usage_event DROP CONSTRAINT usage_event_pkey",
    "ALTER TABLE usage_event DROP COLUMN id",
    "ALTER TABLE usage_event DROP CONSTRAINT uq_usage_event_cloud_event",
    "ALTER TABLE usage_event ADD CONSTRAINT pk_usage_event PRIMARY KEY (cloud_id, event_id)",
    "CREATE FUNCTION usage_series_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'usage series are never changed or deleted'; END $$",
    "CREATE TRIGGER usage_series_append_only BEFORE UPDATE OR DELETE ON usage_series "
    "FOR EACH ROW EXECUTE FUNCTION usage_series_append_only()",
    "CREATE TRIGGER usage_series_no_truncate BEFORE TRUNCATE ON usage_series "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_series_append_only()",
)

_PG_DOWNGRADE = (
    "DROP TRIGGER usage_series_no_truncate ON usage_series",
    "DROP TRIGGER usage_series_append_only ON usage_series",
    "DROP FUNCTION usage_series_append_only()",
    "ALTER TABLE usage_event DROP CONSTRAINT pk_usage_event",
    "ALTER TABLE usage_event ADD CONSTRAINT uq_usage_event_cloud_event UNIQUE (cloud_id, event_id)",
    "ALTER TABLE usage_event ADD COLUMN id BIGSERIAL PRIMARY KEY",
    "ALTER TABLE usage_event ADD COLUMN fingerprint VARCHAR(32) NOT NULL DEFAULT ''",
    "ALTER TABLE usage_event ALTER COLUMN fingerprint DROP DEFAULT",
    "CREATE INDEX ix_usage_event_received_at ON usage_event (received_at)",
    "ALTER TABLE usage_event ADD CONSTRAINT fk_usage_event_series FOREIGN KEY (cloud_id, department_id, meter) "
    "REFERENCES usage_series (cloud_id, department_id, meter)",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_UPGRADE:
            op.execute(statement)
        return
    op.execute(_SQLITE_EVENT_TABLE.format(name="usage_event_new"))
    op.execute(f"INSERT INTO usage_event_new ({_COLUMNS}) SELECT {_COLUMNS} FROM usage_event")
    op.execute("DROP TABLE usage_event")  # its indexes and triggers go with it
    op.execute("ALTER TABLE usage_event_new RENAME TO usage_event")
    for statement in _SQLITE_EVENT_TRIGGERS + _SQLITE_SERIES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_DOWNGRADE:
            op.execute(statement)
        return
    op.execute("DROP TRIGGER usage_series_no_update")
    op.execute("DROP TRIGGER usage_series_no_delete")  # (dropping usage_event drops its own triggers)
    op.execute(f"""CREATE TABLE usage_event_old (
    id INTEGER NOT NULL,
    {_SQLITE_EVENT_COLUMNS},
    fingerprint VARCHAR(32) NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_usage_event_series FOREIGN KEY(cloud_id, department_id, meter)
        REFERENCES usage_series (cloud_id, department_id, meter),
    CONSTRAINT uq_usage_event_cloud_event UNIQUE (cloud_id, event_id)
)""")
    op.execute(f"INSERT INTO usage_event_old ({_COLUMNS}, fingerprint) SELECT {_COLUMNS}, '' FROM usage_event")
    op.execute("DROP TABLE usage_event")
    op.execute("ALTER TABLE usage_event_old RENAME TO usage_event")
    op.execute("CREATE INDEX ix_usage_event_time ON usage_event (time)")
    op.execute("CREATE INDEX ix_usage_event_received_at ON usage_event (received_at)")
    for statement in _SQLITE_EVENT_TRIGGERS:
        op.execute(statement)
