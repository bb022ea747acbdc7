"""Alembic environment: runs against the connection `zhengyun.database.upgrade` hands over."""

from alembic import context

from zhengyun.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic entry point is supported
    raise RuntimeError("run migrations through `zhengyun db upgrade`")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
