"""Opening the store: several processes at once on a fresh SQLite file all get a migrated store; its
plain connections commit, roll back, and say when the store does not answer."""

from __future__ import annotations

import multiprocessing
import secrets
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from ci_pipeline.errors import CIPipelineError, StoreUnavailable
from ci_pipeline.store.db import Store, open_store
from engine.helpers import POSTGRES, postgres_store


def _open(url: str, start: Any, results: multiprocessing.Queue[str]) -> None:
    start.wait()
    try:
        store = open_store(url)
        store.close()
        results.put("ok")
    except CIPipelineError as exc:
        results.put(str(exc))


def _open_at_once(url: str, processes: int = 4) -> list[str]:
    """What each of ``processes`` processes opening the store at ``url`` at the same moment says."""
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[str] = context.Queue()
    start = context.Barrier(processes)
    openers = [context.Process(target=_open, args=(url, start, results)) for _ in range(processes)]
    try:
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(timeout=120)
        assert not any(opener.is_alive() for opener in openers), "a migration is stuck"
        return [results.get() for _ in openers]
    finally:
        for opener in openers:
            opener.kill()


def test_processes_opening_a_new_store_at_once_all_get_in(tmp_path: Path) -> None:
    for round_number in range(8):
        assert _open_at_once(f"sqlite:///{tmp_path / f'store{round_number}.sqlite'}") == ["ok"] * 4


def test_processes_migrating_a_new_postgresql_schema_at_once_all_get_in() -> None:
    for _ in range(3):
        schema = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
        try:
            assert _open_at_once(f"{POSTGRES}?options=-csearch_path%3D{schema}") == ["ok"] * 4
        finally:
            with psycopg.connect(POSTGRES, autocommit=True) as admin:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")


def _keys(store: Store) -> list[str]:
    with store.connection() as connection:
        return sorted(connection.execute(text("SELECT k FROM probe")).scalars())


def test_a_connection_commits_on_success_and_rolls_back_on_error(store: Store) -> None:
    with store.connection() as connection:
        connection.execute(text("CREATE TABLE probe (k VARCHAR(8) PRIMARY KEY)"))
    with pytest.raises(RuntimeError), store.connection() as connection:
        connection.execute(text("INSERT INTO probe VALUES ('a')"))
        raise RuntimeError("the caller failed")
    with store.connection(each_statement=True) as connection:
        connection.execute(text("INSERT INTO probe VALUES ('b')"))
    assert _keys(store) == ["b"]


def test_each_statement_stands_alone_on_postgresql(store: Store) -> None:
    with store.connection() as connection:
        connection.execute(text("CREATE TABLE probe (k VARCHAR(8) PRIMARY KEY)"))
    with pytest.raises(RuntimeError), store.connection(each_statement=True) as connection:
        connection.execute(text("INSERT INTO probe VALUES ('a')"))
        raise RuntimeError("the caller failed")
    # PostgreSQL committed the statement by itself; SQLite keeps one transaction, rolled back.
    assert _keys(store) == (["a"] if store.dialect == "postgresql" else [])


def test_a_connection_to_a_store_that_does_not_answer_is_store_unavailable() -> None:
    store = Store("postgresql://postgres@127.0.0.1:9/test?connect_timeout=2")
    try:
        with pytest.raises(StoreUnavailable, match="failed"), store.connection(each_statement=True):
            pass
    finally:
        store.close()


def _backend_pids(store: Store, *, each_statement: bool) -> set[int]:
    with store.connection(each_statement=each_statement) as connection:
        return {connection.execute(text("SELECT pg_backend_pid()")).scalar_one()}


def _terminate(pids: set[int]) -> None:
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.mark.postgres
@pytest.mark.parametrize("each_statement", [False, True])
def test_a_pooled_connection_that_died_while_idle_is_replaced_before_use(
    each_statement: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    with postgres_store() as store:
        dead = _backend_pids(store, each_statement=each_statement)
        _terminate(dead)
        monkeypatch.setattr("ci_pipeline.store.db.PING_AFTER_IDLE_SECONDS", 0.0)
        # The pooled connection idled: its ping fails, the pool opens another, the statement runs.
        assert _backend_pids(store, each_statement=each_statement).isdisjoint(dead)


@pytest.mark.postgres
def test_a_connection_used_moments_ago_is_not_pinged_and_a_failure_is_reported_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with postgres_store() as store:
        dead = _backend_pids(store, each_statement=True)
        _terminate(dead)
        monkeypatch.setattr("ci_pipeline.store.db.PING_AFTER_IDLE_SECONDS", 3600.0)
        # Not pinged: the statement meets the dead connection, and the caller hears the store failed.
        with pytest.raises(StoreUnavailable, match="failed"):
            _backend_pids(store, each_statement=True)
        # The pool dropped it: the next statement gets a new connection.
        assert _backend_pids(store, each_statement=True).isdisjoint(dead)
