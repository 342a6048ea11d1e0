"""Alembic environment: migrations run on the connection Détente hands over."""

from __future__ import annotations

from alembic import context

from detente.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - Détente always passes one
    raise RuntimeError("run migrations through detente.store.database.migrate")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
