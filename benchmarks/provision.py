"""Benchmark: provisioners from request to reachable, and the store's machine-lease rate.

Figures, each the median of ``--repeat`` rounds:

- request to reachable for 1 and 3 machines with each member that runs here: ``memory``; ``qemu``
  (the tests' cloud guest, tests/integration/guest_fixtures.py); ``ssh`` on lab hosts
  (tests/integration/lab_host.py: real SSH servers with OSTree sysroots) with the compose's commit
  deployed and the hosts rebooted into it; ``linchpin`` with its dummy provider, whose hosts point at
  a lab host. Each is the time from entering the leasing block to every host answering over SSH
  (leases taken, machines made, SSH answering), with a SQLite store;
- lease acquire/release pairs per second in the store, on SQLite and on PostgreSQL, one client and
  four at once; each pair is a lease of one machine and its release, each committed (on PostgreSQL
  by itself, without BEGIN). Goal: over 1,000 per second on PostgreSQL. Beside it, in the same run,
  the floor of this machine: a bare psycopg INSERT and DELETE of one row of an ordinary (logged)
  table, each in a transaction, with and without synchronous commit; and the store's own two lease
  statements on its table by bare psycopg, which is what the store costs less SQLAlchemy and its
  pool (whose pre-ping is a round trip per statement here).

    .venv/bin/python benchmarks/provision.py [--repeat 3] [--members memory,qemu,ssh,linchpin]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from compose_repo import served_compose
from guest_fixtures import build_test_guest
from lab_host import STATEROOT, LabHost, client_key, start_lab_host

from ci_pipeline.config import Config
from ci_pipeline.provision.base import Deployment
from ci_pipeline.provision.leasing import provisioned
from ci_pipeline.provision.linchpin import VENV_COMMAND
from ci_pipeline.store import leases
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store
from engine.helpers import POSTGRES, add_run, postgres_store, sqlite_store_at
from provision.helpers import config_with, request

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"
LEASE_PAIRS = 300
CLIENTS = 4


def to_reachable(
    config: Config, store: Store, name: str, count: int, work: Path, deployment: Deployment
) -> float:
    """Seconds from a request for ``count`` machines to every one answering over SSH."""
    run = add_run(store)
    wanted = replace(request(work, run, count=count), deployment=deployment, timeout=300)
    started = time.perf_counter()
    with provisioned(config, store, name, wanted):
        return time.perf_counter() - started


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


@contextmanager
def lab(work: Path, count: int) -> Iterator[tuple[list[LabHost], Path]]:
    work.mkdir(parents=True, exist_ok=True)
    key = client_key(work)
    hosts = [start_lab_host(f"lab{index}", work / "lab", key) for index in range(1, count + 1)]
    try:
        yield hosts, key
    finally:
        for host in hosts:
            host.stop()


def ssh_config(work: Path, store: Store, hosts: list[LabHost], key: Path) -> Config:
    inventory = ", ".join(
        f'{{ name = "{h.name}", address = "127.0.0.1", port = {h.port}, stateroot = "{STATEROOT}" }}'
        for h in hosts
    )
    return config_with(work, store.url, f'[provision.ssh]\nkey = "{key}"\nhosts = [{inventory}]\n')


def linchpin_config(work: Path, store: Store, host: LabHost, key: Path) -> Config:
    command = shutil.which("linchpin") or str(VENV_COMMAND)
    return config_with(
        work,
        store.url,
        f'[provision.linchpin]\ncommand = "{command}"\nresource_group_type = "dummy"\nrole = "dummy_node"\n'
        f'key = "{key}"\nhost_vars = {{ ansible_host = "127.0.0.1", ansible_port = "{host.port}" }}\n',
    )


def provision_figures(members: list[str], repeat: int, work: Path) -> None:
    print("request to reachable (median of", repeat, "rounds, SQLite store):")
    with sqlite_store_at(work / "store.sqlite") as store:
        for count in (1, 3):
            if "memory" in members:
                config = config_with(work, store.url)
                seconds = median_of(
                    repeat, partial(to_reachable, config, store, "memory", count, work, Deployment())
                )
                print(f"  memory    {count} machine(s): {seconds * 1000:8.1f} ms")
            if "qemu" in members:
                guest = build_test_guest(work / f"guest{count}", commit=REV, rpms=[])
                config = config_with(work, store.url)
                image = Deployment(image=guest)
                seconds = median_of(repeat, partial(to_reachable, config, store, "qemu", count, work, image))
                print(
                    f"  qemu      {count} machine(s): {seconds:8.2f} s (test guest, KVM or TCG)"
                )
            if "ssh" in members:
                with (
                    lab(work / f"ssh{count}", count) as (hosts, key),
                    served_compose(work / f"compose{count}") as c,
                ):
                    config = ssh_config(work / f"ssh{count}", store, hosts, key)
                    commit = Deployment(commit=c.commit, ref=c.ref, compose_url=c.url)
                    seconds = median_of(
                        repeat, partial(to_reachable, config, store, "ssh", count, work, commit)
                    )
                    bare = median_of(
                        repeat, partial(to_reachable, config, store, "ssh", count, work, Deployment())
                    )
                print(
                    f"  ssh       {count} machine(s): {seconds:8.2f} s with the commit deployed, a reboot; "
                    f"{bare:.2f} s without a commit"
                )
            if "linchpin" in members:
                with lab(work / f"lp{count}", 1) as (hosts, key):
                    config = linchpin_config(work / f"lp{count}", store, hosts[0], key)
                    seconds = median_of(
                        repeat, partial(to_reachable, config, store, "linchpin", count, work, Deployment())
                    )
                print(f"  linchpin  {count} machine(s): {seconds:8.2f} s (dummy provider; linchpin up)")


def lease_pairs(store: Store, run: int, machine: str, pairs: int) -> None:
    until = utcnow() + timedelta(hours=1)
    for _ in range(pairs):
        leases.acquire(
            store, "ssh", [machine], 1, run_id=run, stage="e2e", attempt=1, holder=machine, until=until
        )
        leases.release(store, machine, "ssh", [machine])


def lease_rate(store: Store, clients: int) -> float:
    """Acquire/release pairs per second, ``clients`` at once, each on machines of its own."""
    run = add_run(store)
    threads = [
        threading.Thread(target=lease_pairs, args=(store, run, f"m{index}", LEASE_PAIRS // clients))
        for index in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (LEASE_PAIRS // clients) * clients / (time.perf_counter() - started)


def raw_floor(synchronous: bool) -> float:
    """Pairs per second of a bare psycopg INSERT and DELETE of one row of a logged table, each committed."""
    table = f"floor_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES) as connection:
        connection.execute(f"SET synchronous_commit = {'on' if synchronous else 'off'}")
        connection.execute(f"CREATE TABLE {table} (k text PRIMARY KEY)")
        connection.commit()
        try:
            started = time.perf_counter()
            for _ in range(LEASE_PAIRS):
                connection.execute(f"INSERT INTO {table} VALUES ('m')")
                connection.commit()
                connection.execute(f"DELETE FROM {table} WHERE k = 'm'")
                connection.commit()
            return LEASE_PAIRS / (time.perf_counter() - started)
        finally:
            connection.execute(f"DROP TABLE {table}")
            connection.commit()


def raw_lease_floor(store: Store, run: int) -> float:
    """Pairs per second of the store's own lease statements on its table, by bare psycopg.

    The same INSERT ... ON CONFLICT DO NOTHING RETURNING and DELETE the store sends for a lease of
    one machine, each committed by itself, on one connection: the store less SQLAlchemy and its pool.
    """
    until = utcnow() + timedelta(hours=1)
    with psycopg.connect(store.url, autocommit=True) as connection:
        started = time.perf_counter()
        for _ in range(LEASE_PAIRS):
            connection.execute(
                "INSERT INTO machine_leases (provisioner, machine, run_id, stage, attempt, holder, state,"
                " acquired_at, until, detail)"
                " VALUES ('ssh', 'floor', %s, 'e2e', 1, 'floor', 'held', now(), %s, '{}')"
                " ON CONFLICT DO NOTHING RETURNING id",
                (run, until),
            ).fetchall()
            connection.execute(
                "DELETE FROM machine_leases WHERE holder = 'floor' AND provisioner = 'ssh'"
                " AND machine = ANY(%s)",
                (["floor"],),
            )
        return LEASE_PAIRS / (time.perf_counter() - started)


def lease_figures(repeat: int, work: Path) -> None:
    print(f"lease acquire/release pairs per second (median of {repeat} rounds of {LEASE_PAIRS}):")
    with sqlite_store_at(work / "leases.sqlite") as store:
        for clients in (1, CLIENTS):
            rate = median_of(repeat, partial(lease_rate, store, clients))
            print(f"  SQLite      {clients} client(s): {rate:8.0f}/s")
    with postgres_store() as store:
        rates = {clients: median_of(repeat, partial(lease_rate, store, clients)) for clients in (1, CLIENTS)}
        own = median_of(repeat, partial(raw_lease_floor, store, add_run(store)))
    floor = median_of(repeat, partial(raw_floor, True))
    relaxed = median_of(repeat, partial(raw_floor, False))
    for clients, rate in rates.items():
        print(
            f"  PostgreSQL  {clients} client(s): {rate:8.0f}/s  "
            f"(goal 1000/s: {'met' if rate > 1000 else 'NOT met'})"
        )
    print(
        f"  this machine's floor, bare psycopg INSERT+DELETE committed: {floor:.0f}/s "
        f"(synchronous_commit off: {relaxed:.0f}/s); the store reaches {rates[1] / floor:.0%} of it "
        "with one client"
    )
    print(
        f"  the store's lease statements by bare psycopg, each committed by itself: {own:.0f}/s; "
        f"the store reaches {rates[1] / own:.0%} of it with one client"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--members", default="memory,qemu,ssh,linchpin")
    args = parser.parse_args()
    members = [name.strip() for name in args.members.split(",") if name.strip()]
    with tempfile.TemporaryDirectory(prefix="provision-bench-") as scratch:
        work = Path(scratch)
        lease_figures(args.repeat, work)
        provision_figures(members, args.repeat, work)


if __name__ == "__main__":
    main()
