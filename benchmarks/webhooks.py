"""Webhook requests handled per second, signature checks included.

    .venv/bin/python benchmarks/webhooks.py [--requests 2000] [--rounds 3] [--concurrency 32]
        [--store sqlite|postgresql] [--over asgi|http]

Each request is a GitHub push event of a distinct commit, signed with ``X-Hub-Signature-256``, so
each one checks the signature, takes its delivery id and queues a run in one store transaction.
``--concurrency`` requests are in flight at once. A fresh store per round; prints the median rate
and each round's.

``--over asgi`` (the default) drives the service's real FastAPI app (``create_app``) in-process:
each request is handed to the app as an ASGI server hands it, with no sockets and no HTTP client,
so it measures the app (middleware, HMAC check, parsing, replay record, trigger decision) alone.
``--over http`` starts the web server as ``ci-pipeline serve`` does (``start_web_server``: uvicorn
on a loopback port) and sends the same requests over ``--concurrency`` keep-alive HTTP/1.1
connections from a second process, a plain asyncio client writing prepared bytes, so the figure
includes the TCP stack and the HTTP server, and the client costs as little as it can.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from starlette.types import ASGIApp, Message

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "webhooks"))

from forge_events import SECRET, github_push, signed  # noqa: E402

from ci_pipeline.config import Config, load_config  # noqa: E402
from ci_pipeline.store.db import open_store  # noqa: E402
from ci_pipeline.web.server import create_app, start_web_server  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def requests(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` signed push events, each of its own commit."""
    return [signed("github", github_push(rev=uuid.uuid4().hex + uuid.uuid4().hex[:8])) for _ in range(count)]


async def post(app: ASGIApp, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One POST to the hook, handed to the app as an ASGI server hands it: (status, response body)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/hooks/github", "raw_path": b"/api/v1/hooks/github",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 40000), "server": ("hooks", 80),
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        + [(b"content-length", str(len(body)).encode())],
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # no disconnect while the request is handled
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def handle_all(config: Config, store_url: str, batch: list[tuple[bytes, dict[str, str]]],
                     concurrency: int) -> float:
    """Requests per second for ``batch`` against a fresh app; every answer must be a queued run."""
    store = open_store(store_url)
    app = create_app(config, store)
    pending = iter(batch)

    async def worker() -> None:
        for body, headers in pending:
            status, answer = await post(app, body, headers)
            if status != 200 or json.loads(answer)["decision"] != "queued":
                raise SystemExit(f"unexpected answer {status}: {answer[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    store.close()
    return len(batch) / elapsed


def http_request(body: bytes, headers: dict[str, str]) -> bytes:
    """The bytes of one keep-alive POST of ``body`` to the GitHub hook."""
    lines = ["POST /api/v1/hooks/github HTTP/1.1", "Host: hooks", f"Content-Length: {len(body)}",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def send_all(port: int, prepared: list[bytes], concurrency: int) -> list[tuple[int, bytes]]:
    """Send ``prepared`` requests over ``concurrency`` connections; every (status, body) answered."""
    pending = iter(prepared)
    answers: list[tuple[int, bytes]] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for request in pending:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            answers.append((int(head.split(b" ", 2)[1]), await reader.readexactly(length)))
        writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return answers


def client(port: int, prepared: list[bytes], concurrency: int, results: multiprocessing.Queue[float]) -> None:
    """The client process: send everything, check every answer, put the rate."""
    started = time.perf_counter()
    answers = asyncio.run(send_all(port, prepared, concurrency))
    elapsed = time.perf_counter() - started
    for status, answer in answers:
        if status != 200 or json.loads(answer)["decision"] != "queued":
            raise SystemExit(f"unexpected answer {status}: {answer[:300]!r}")
    results.put(len(prepared) / elapsed)


def handle_all_over_http(config: Config, store_url: str, batch: list[tuple[bytes, dict[str, str]]],
                         concurrency: int) -> float:
    """Requests per second for ``batch`` sent over HTTP to a fresh web server."""
    store = open_store(store_url)
    server = start_web_server(config, store)
    try:
        context = multiprocessing.get_context("spawn")
        results: multiprocessing.Queue[float] = context.Queue()
        prepared = [http_request(body, headers) for body, headers in batch]
        process = context.Process(target=client, args=(server.port, prepared, concurrency, results))
        process.start()
        process.join()
        if process.exitcode != 0:
            raise SystemExit("the HTTP client failed")
        return results.get()
    finally:
        server.stop()
        store.close()


def main() -> None:
    """Run the rounds and print the rates."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--over", choices=["asgi", "http"], default="asgi")
    args = parser.parse_args()
    rates = []
    for number in range(args.rounds):
        with tempfile.TemporaryDirectory() as state:
            config = load_config(environ={"CI_PIPELINE_STATE_DIR": state,
                                          "CI_PIPELINE_WEB_LISTEN": "127.0.0.1:0",
                                          "CI_PIPELINE_WEBHOOKS_GITHUB_SECRET": SECRET})
            store_url = config.store.url
            if args.store == "postgresql":
                schema = f"bench_hooks_{uuid.uuid4().hex[:8]}"
                store_url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
                import psycopg

                with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
                    conn.execute(f"CREATE SCHEMA {schema}")
            batch = requests(args.requests)
            if args.over == "http":
                rates.append(handle_all_over_http(config, store_url, batch, args.concurrency))
            else:
                rates.append(asyncio.run(handle_all(config, store_url, batch, args.concurrency)))
            print(f"round {number + 1}: {rates[-1]:.0f} requests/s", file=sys.stderr)
    print(json.dumps({"what": "webhook requests/s (GitHub push, HMAC-SHA256 checked, each queues a run)",
                      "client": {"asgi": "in-process ASGI calls (no sockets)",
                                 "http": "HTTP/1.1 keep-alive from a second process to uvicorn"}[args.over],
                      "store": args.store,
                      "requests": args.requests, "concurrency": args.concurrency,
                      "median": round(statistics.median(rates)), "rounds": [round(r) for r in rates]}))


if __name__ == "__main__":
    main()
