"""Alembic environment: runs migrations on the engine the store hands in.

Several processes may open a new store at once. The whole upgrade is one transaction that takes the
store's write lock first (SQLite: the store's engine begins with BEGIN IMMEDIATE; PostgreSQL: an
advisory lock), so the first process migrates and the others find the schema already current.
"""

from alembic import context

from ci_pipeline.store.models import Base

#: The PostgreSQL advisory lock key that serializes migrations ("ci-pipe" in ASCII).
MIGRATION_LOCK_KEY = 0x63692D70697065

engine = context.config.attributes["engine"]
with engine.connect() as connection, connection.begin():
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
