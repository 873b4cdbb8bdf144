"""Alembic environment: runs migrations on the engine the store hands in.

All pending migrations run in one transaction that starts before the current version is read. On
SQLite that transaction takes the write lock at its start (``BEGIN IMMEDIATE``), so processes that
open a new store at once migrate it one after the other: the later ones find it current. (Alembic
would otherwise commit after each migration on SQLite and read the version outside the lock.)
"""

from alembic import context

from ci_pipeline.store.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection, connection.begin():
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
