"""Trigger throughput: git.receive messages through a bus, the trigger, the outbox and back to the bus.

For each bus member (SQLite file, in memory), in a fresh child process: publish N git.receive
envelopes (90 % for packages outside the tracked set), then time the service's consume + decide +
relay loop until every message is decided and every resulting package.queued / package.ignore is
published. Reports decisions per second, and the child's RSS at each quarter of the run and its
peak (memory should stay flat as the count grows). The store is SQLite in both cases.

Usage: python benchmarks/trigger_throughput.py [--count 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
import uuid
from pathlib import Path

from ci_pipeline.bus import open_bus
from ci_pipeline.config import load_config
from ci_pipeline.engine.relay import relay_outbox
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive
from ci_pipeline.store.db import open_store
from ci_pipeline.trigger import Trigger

TRACKED = ["vim", "kernel", "ostree", "systemd", "glibc"]


def rss_mib() -> float:
    """The current resident set size of this process, in MiB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def messages(count: int) -> list[tuple[str, bytes]]:
    """``count`` git.receive envelopes; one in ten for a tracked package."""
    batch = []
    for index in range(count):
        tracked = index % 10 == 0
        repo = TRACKED[index % len(TRACKED)] if tracked else f"pkg{index % 5000}"
        message = make_git_receive(repo=repo, rev=uuid.uuid4().hex + uuid.uuid4().hex[:8], branch="f26")
        batch.append((message["topic"], encode(message)))
    return batch


def measure(bus_url: str, count: int, state: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Run one configuration in this (child) process and put its figures on ``results``."""
    environ = {
        "CI_PIPELINE_STATE_DIR": state,
        "CI_PIPELINE_BUS_URL": bus_url,
        "CI_PIPELINE_TRIGGER_PACKAGES": ",".join(TRACKED),
    }
    config = load_config(environ=environ)
    store = open_store(config.store.url)
    bus = open_bus(config.bus.url)
    trigger = Trigger(config, store)
    topics = (config.bus.trigger_topics[0],)
    for start in range(0, count, 5000):
        bus.publish_many(messages(min(5000, count - start)))
    rss_start = rss_mib()
    checkpoints: list[float] = []
    decided = 0
    began = time.perf_counter()
    while True:
        deliveries = bus.fetch(config.bus.subscription, topics, 1000)
        if not deliveries:
            break
        trigger.handle_deliveries(deliveries)
        bus.ack(config.bus.subscription, deliveries)
        relay_outbox(store, bus, 1000)
        decided += len(deliveries)
        if decided % (count // 4) < len(deliveries):
            checkpoints.append(rss_mib())
    while relay_outbox(store, bus, 1000):
        pass
    elapsed = time.perf_counter() - began
    published = bus.latest_position() - count
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results.put((decided, published, elapsed, rss_start, checkpoints, peak))


def main() -> None:
    """Measure both bus members and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    print(f"{args.count} git.receive messages, 90 % ignored; store: SQLite; one child process per bus")
    rates = {}
    for name in ("sqlite", "memory"):
        with tempfile.TemporaryDirectory() as state:
            url = f"sqlite:///{Path(state) / 'bus.sqlite'}" if name == "sqlite" else "memory://"
            results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
            child = context.Process(target=measure, args=(url, args.count, state, results))
            child.start()
            decided, published, elapsed, rss_start, checkpoints, peak = results.get()
            child.join()
        rates[name] = decided / elapsed
        quarters = " ".join(f"{value:.0f}" for value in checkpoints)
        print(
            f"{name:>6} bus: {decided} decisions, {published} messages published in {elapsed:.1f} s"
            f" = {rates[name]:,.0f} decisions/s; RSS MiB at start {rss_start:.0f},"
            f" at each quarter {quarters}, peak {peak:.0f}"
        )
    print(f"sqlite/memory throughput ratio: {rates['sqlite'] / rates['memory']:.2f}")


if __name__ == "__main__":
    main()
