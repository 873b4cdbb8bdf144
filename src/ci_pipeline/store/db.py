"""Opening the results store: SQLite (embedded default) or PostgreSQL, migrated by Alembic."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    DisconnectionError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker

from ci_pipeline.errors import ConfigError, StoreError, StoreUnavailable
from ci_pipeline.logcontext import get_logger
from ci_pipeline.sqlite_wal import enable_wal
from ci_pipeline.store.safe_types import storable_text

log = get_logger(__name__)

SQLITE_BUSY_SECONDS = 30.0
#: A pooled PostgreSQL connection unused for longer than this is asked for nothing before it is
#: handed out, so one that a server restart or a network cut broke while it idled is replaced.
PING_AFTER_IDLE_SECONDS = 1.0
_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


def normalize_url(url: str) -> str:
    """The SQLAlchemy URL for a store URL: ``postgresql://`` uses psycopg 3."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"The store URL '{url}' has no scheme; use sqlite:///PATH or postgresql://HOST/DB.")
    driver = _DRIVERS.get(scheme, scheme if "+" in scheme else None)
    if driver is None:
        raise ConfigError(f"The store URL scheme '{scheme}' is not supported; use sqlite or postgresql.")
    return f"{driver}://{rest}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and one writer work at once across processes; the busy timeout makes
    # concurrent writers wait instead of failing.
    enable_wal(dbapi_connection, SQLITE_BUSY_SECONDS)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN, so two processes never deadlock upgrading a read lock.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_store_engine(url: str) -> Engine:
    """A SQLAlchemy engine for the store URL, with SQLite tuned for several processes."""
    sa_url = normalize_url(url)
    try:
        parsed = make_url(sa_url)
    except ArgumentError as exc:
        raise ConfigError(f"The store URL '{url}' is not valid: {exc}.") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(sa_url, connect_args={"isolation_level": None, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return _ping_after_idle(create_engine(sa_url, pool_size=5, max_overflow=10))


def _ping_after_idle(engine: Engine) -> Engine:
    """Check a pooled connection before use only when it idled: a busy one was just seen working.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout, a round trip as long as the small
    statement that follows; here a connection is pinged only after :data:`PING_AFTER_IDLE_SECONDS`
    unused. A connection that fails its ping is discarded and the pool opens another.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _note_idle(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idled(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"A pooled connection failed its ping: {exc}") from exc

    return engine


def alembic_config(engine: Engine) -> AlembicConfig:
    """An Alembic configuration for the packaged migrations, bound to ``engine``."""
    config = AlembicConfig()
    location = resources.files("ci_pipeline.store").joinpath("migrations")
    config.set_main_option("script_location", str(location))
    config.attributes["engine"] = engine
    return config


#: What a failed store operation raises: the store's own errors and SQLAlchemy's.
STORE_ERRORS = (StoreError, SQLAlchemyError)
#: A transaction the store hands out (``Store.session()``): callers pass it to the store's
#: functions and never write SQL on it themselves.
Transaction = Session
#: What the database raises for a value it refuses (a number out of range, a NUL byte, ...).
UnstorableValue = DataError


def ping(session: Session) -> None:
    """Ask the database for nothing: raises when it does not answer."""
    session.execute(text("SELECT 1"))


def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the database refusing or failing a statement (not a bug of the caller)."""
    return isinstance(exc, SQLAlchemyError)
REASON_LENGTH = 200


def _first_line(exc: DBAPIError) -> str:
    """The driver's own message, first line only (psycopg adds hints on more lines)."""
    lines = str(exc.orig).strip().splitlines()
    return lines[0].rstrip(".") if lines else type(exc.orig).__name__


def store_error_reason(exc: BaseException) -> str:
    """One short line saying why the store failed, without the statement or its values."""
    if isinstance(exc, DBAPIError):
        text = _first_line(exc)
    elif isinstance(exc, SQLAlchemyError):
        # A statement error's text carries the SQL and parameters: name only what went wrong.
        orig = getattr(exc, "orig", None)
        text = f"{type(orig).__name__}: {orig}" if orig is not None else type(exc).__name__
    else:
        text = str(exc) or type(exc).__name__
    return storable_text(" ".join(text.split()).rstrip("."), REASON_LENGTH)


class Store:
    """The results store: an engine, a session factory, and its migrations."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_store_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Statements that stand alone run on connections that commit each one (PostgreSQL only):
        # a pool of their own, so no connection switches its isolation level on every use.
        self._autocommit: Engine | None = None
        if self.dialect == "postgresql":
            self._autocommit = _ping_after_idle(
                create_engine(normalize_url(url), isolation_level="AUTOCOMMIT", pool_size=5, max_overflow=10)
            )

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def upgrade(self) -> None:
        """Apply every pending Alembic migration."""
        try:
            command.upgrade(alembic_config(self.engine), "head")
        except OperationalError as exc:
            reason = _first_line(exc)
            raise StoreError(f"The store at {self.engine.url!r} cannot be migrated: {reason}.") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        session = self._sessions()
        try:
            with session.begin():
                yield session
        except OperationalError as exc:
            raise StoreUnavailable(f"The store at {self.engine.url!r} failed: {_first_line(exc)}.") from exc
        finally:
            session.close()

    @contextmanager
    def connection(self, *, each_statement: bool = False) -> Iterator[Connection]:
        """A plain connection for Core statements, in one transaction: committed on success.

        No ORM session: for the store's busiest small writes, where a session's bookkeeping costs
        more than the statement. With ``each_statement``, for callers whose every statement stands
        alone, PostgreSQL commits each statement by itself and spares the BEGIN and COMMIT round
        trips; SQLite keeps the transaction, which costs no round trip there.
        """
        try:
            if each_statement and self._autocommit is not None:
                with self._autocommit.connect() as connection:
                    yield connection
            else:
                with self.engine.begin() as connection:
                    yield connection
        except OperationalError as exc:
            raise StoreUnavailable(f"The store at {self.engine.url!r} failed: {_first_line(exc)}.") from exc

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._autocommit is not None:
            self._autocommit.dispose()


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store at ``url`` and, unless told otherwise, bring its schema up to date."""
    store = Store(url)
    if migrate:
        store.upgrade()
    return store
