"""Hostile messages through ``ci-pipeline serve`` on PostgreSQL + RabbitMQ.

    .venv/bin/python benchmarks/poison.py [--hostile 10000] [--valid 1000] [--huge 20]

Puts ``--hostile`` hostile messages (deep JSON, NUL bytes in ids, paths and bodies, branches too
long for a job name, repos longer than a column, invalid UTF-8, lone surrogates, wrong types, odd
AMQP headers and timestamps, and ``--huge`` messages of 10 MB) mixed with ``--valid`` valid pushes
on a fresh RabbitMQ exchange, then runs ``serve --no-web`` on a fresh PostgreSQL schema and waits
until every message is decided or dead-lettered. A supervisor starts serve again whenever it exits
(a restart). Prints: valid pushes decided, messages dead-lettered, restarts, serve's peak RSS
(VmHWM), the dead-letter table's size, and the time taken. Valid pushes name a package the
configuration does not track, so each is decided (ignored) without starting a pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pika
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))

from amqp_fixtures import AMQP, delete_subscription

from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
TOPIC = "org.fedoraproject.prod.git.receive"


def push(**commit: object) -> dict[str, object]:
    message = make_git_receive(repo="vim", rev=secrets.token_hex(20), branch="f26")
    message["msg"]["commit"].update(commit)  # type: ignore[index]
    return message


def hostile(rng: random.Random) -> tuple[bytes, pika.BasicProperties]:
    """One hostile AMQP message: a body and its properties."""
    plain = pika.BasicProperties(headers={"ci_pipeline_envelope": "fedmsg"})
    kind = rng.randrange(12)
    if kind == 0:
        return b"[" * rng.randrange(100, 200_000), plain
    if kind == 1:
        return b'{"commit":' * rng.randrange(70, 5_000), plain
    if kind == 2:
        return encode(push(path="/srv/git/forks/\x00/vim.git")), plain
    if kind == 3:
        message = push()
        message["msg_id"] = "2017-\x00" + "0" * 30
        return encode(message), plain
    if kind == 4:
        dump = {"topic": TOPIC, "id": "\x00" * 36, "body": push()["msg"]}
        return encode(dump), plain
    if kind == 5:
        return encode(push(branch="f" + "9" * 99)), plain
    if kind == 6:
        return encode(push(repo="v" * 200, summary="\x00" * 1000)), plain
    if kind == 7:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))), plain
    if kind == 8:
        return json.dumps(push(summary="\ud800")).encode(), plain
    if kind == 9:
        return json.dumps({"commit": {"repo": ["vim"], "rev": 1, "branch": None}}).encode(), plain
    if kind == 10:
        odd = pika.BasicProperties(message_id="\x00" * 40, timestamp=2**63 - 1, content_encoding="nope",
                                   headers={"sent-at": "0001-01-01T00:00:00+23:59", "x": "\x00"})
        return json.dumps(push()["msg"]).encode(), odd
    return b"\x00" * rng.randrange(1, 4096), plain


def publish(exchange: str, subscription: str, messages: list[tuple[bytes, pika.BasicProperties]]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(AMQP))
    channel = connection.channel()
    channel.exchange_declare(exchange, exchange_type="topic", durable=True)
    channel.queue_declare(subscription, durable=True,
                          arguments={"x-dead-letter-exchange": f"{subscription}.dead-letter"})
    channel.queue_bind(subscription, exchange, routing_key=TOPIC)
    channel.confirm_delivery()
    for body, properties in messages:
        channel.basic_publish(exchange, TOPIC, body, properties)
    connection.close()


def cleanup(exchange: str, subscription: str, schema: str) -> None:
    delete_subscription(exchange, subscription)
    with psycopg.connect(POSTGRES, autocommit=True) as db:
        db.execute(f"DROP SCHEMA {schema} CASCADE")


def handled(schema: str) -> tuple[int, int, int]:
    """(decisions, dead letters, dead-letter table bytes) in the schema."""
    with psycopg.connect(POSTGRES, autocommit=True) as db:
        try:
            decided = db.execute(f"SELECT count(*) FROM {schema}.decisions").fetchone()
            dead = db.execute(f"SELECT count(*) FROM {schema}.dead_letters").fetchone()
            size = db.execute(f"SELECT pg_total_relation_size('{schema}.dead_letters')").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0, 0, 0
    assert decided and dead and size
    return int(decided[0]), int(dead[0]), int(size[0])


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hostile", type=int, default=10_000)
    parser.add_argument("--valid", type=int, default=1_000)
    parser.add_argument("--huge", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    rng = random.Random(42)
    tag = uuid.uuid4().hex[:8]
    exchange, subscription, schema = f"ci-poison-{tag}", f"ci-poison-{tag}", f"poison_{tag}"
    with psycopg.connect(POSTGRES, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    whole = pika.BasicProperties(headers={"ci_pipeline_envelope": "fedmsg"})
    messages = [hostile(rng) for _ in range(args.hostile - args.huge)]
    messages += [(b"{" + b" " * (10 * 1024 * 1024) + b"}", whole) for _ in range(args.huge)]
    valid_revs = set()
    for _ in range(args.valid):
        message = push()
        valid_revs.add(message["msg"]["commit"]["rev"])  # type: ignore[index]
        messages.append((encode(message), whole))
    rng.shuffle(messages)
    total = len(messages)
    work = Path(tempfile.mkdtemp(prefix="ci-poison-"))
    config = work / "ci-pipeline.toml"
    config.write_text(
        f'state_dir = "{work / "state"}"\n'
        f'[bus]\nurl = "{AMQP}?exchange={exchange}"\nsubscription = "{subscription}"\n'
        f'[store]\nurl = "{POSTGRES}?options=-csearch_path%3D{schema}"\n'
        '[trigger]\npackages = ["a-package-no-push-names"]\n'
    )
    try:
        started = time.perf_counter()
        publish(exchange, subscription, messages)
        published = time.perf_counter() - started
        command = [sys.executable, "-m", "ci_pipeline", "--config", str(config), "serve", "--no-web"]
        restarts, peak = 0, 0
        log = open(work / "serve.log", "w")  # noqa: SIM115 - open for the whole supervision
        serve = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        deadline = time.monotonic() + args.timeout
        consumed_at = time.perf_counter()
        while time.monotonic() < deadline:
            time.sleep(1.0)
            if serve.poll() is not None:
                restarts += 1
                serve = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
                continue
            peak = max(peak, peak_rss_kib(serve.pid))
            decided, dead, _ = handled(schema)
            if decided + dead >= total:
                break
        consumed = time.perf_counter() - consumed_at
        peak = max(peak, peak_rss_kib(serve.pid)) if serve.poll() is None else peak
        serve.terminate()
        serve.wait(timeout=60)
        log.close()
        decided, dead, dead_bytes = handled(schema)
        with psycopg.connect(POSTGRES, autocommit=True) as db:
            revs = {row[0] for row in db.execute(f"SELECT rev FROM {schema}.decisions")}
        print(f"messages: {total} ({args.hostile} hostile, {args.huge} of them 10 MB;"
              f" {args.valid} valid pushes)")
        print(f"published to RabbitMQ in {published:.1f} s; serve handled them in {consumed:.1f} s")
        print(f"valid pushes decided: {len(valid_revs & revs)} of {args.valid}")
        print(f"decisions: {decided}, dead letters: {dead}, unaccounted: {total - decided - dead}")
        print(f"serve restarts: {restarts}")
        print(f"serve peak RSS (VmHWM): {peak / 1024:.0f} MiB")
        print(f"dead_letters table: {dead_bytes / 1024 / 1024:.1f} MiB for {dead} rejected messages")
    finally:
        cleanup(exchange, subscription, schema)


if __name__ == "__main__":
    main()
