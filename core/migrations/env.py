"""Alembic environment: runs on the connection handed over by ``core.storage.upgrade_database``."""

from __future__ import annotations

from alembic import context

from core.storage import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through upgrade_database
    raise RuntimeError("Run migrations with `badgebridge db upgrade`.")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
