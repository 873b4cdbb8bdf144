"""Alembic environment: runs migrations on the engine the store hands in.

Several processes may open a new store at once. The whole upgrade is one transaction that takes the
store's write lock first (SQLite: the store's engine begins with BEGIN IMMEDIATE; PostgreSQL: an
advisory lock), so the first process migrates and the others find the schema already current.

On SQLite a migration may rebuild a table (Alembic's batch mode), which foreign keys would block or
cascade; as SQLite documents for such changes, they are off during the migration and checked after it.
"""

from alembic import context

from ci_pipeline.store.models import Base

#: The PostgreSQL advisory lock key that serializes migrations ("ci-pipe" in ASCII).
MIGRATION_LOCK_KEY = 0x63692D70697065

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    # On the driver's own connection, outside any transaction: the pragma is ignored inside one.
    driver = connection.connection.driver_connection
    if sqlite:
        driver.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            if not sqlite:
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                raise RuntimeError("The migration left rows whose foreign keys point nowhere.")
    finally:
        if sqlite:
            driver.execute("PRAGMA foreign_keys=ON")
