"""Alembic environment: run by ``tocsin db upgrade`` and at server start, on the connection
tocsin hands over (``config.attributes["connection"]``)."""

from __future__ import annotations

from alembic import context

from tocsin.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - tocsin always passes its connection
    raise RuntimeError("run migrations through tocsin.store.db.upgrade()")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
