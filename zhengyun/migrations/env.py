"""Alembic environment: runs against the connection `zhengyun.database` hands over (`upgrade`, `draft_migration`)."""

from alembic import context

from zhengyun.database import COMPARE_OPTIONS, include_name, include_object
from zhengyun.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the programmatic entry points are supported
    raise RuntimeError("run migrations through `zhengyun db upgrade`")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    include_name=include_name,
    include_object=include_object(connection.dialect.name),
    **COMPARE_OPTIONS,
)
with context.begin_transaction():
    context.run_migrations()
