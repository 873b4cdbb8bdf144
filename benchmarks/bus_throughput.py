"""Bus throughput: messages/s for batched publish and for fetch+ack, median over several rounds.

    .venv/bin/python benchmarks/bus_throughput.py [--messages 100000] [--batch 500] [--rounds 3]
        [--url-kind sqlite|memory] [--synchronous full|normal] [--dir DIR]

Each round uses a fresh bus: publish ``--messages`` messages with ``publish_many`` of ``--batch``,
then drain one subscription with ``fetch(limit=batch)`` + ``ack`` of the whole batch.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from ci_pipeline.bus import Bus, open_bus

TOPIC = "org.centos.prod.ci.pipeline.package.queued"
PAYLOAD = b'{"msg": {"repo": "bash", "rev": "' + b"0" * 40 + b'", "branch": "f26", "status": "SUCCESS"}}'


def publish_rate(bus: Bus, messages: int, batch: int) -> float:
    """Messages per second published in batches of ``batch``."""
    started = time.perf_counter()
    for start in range(0, messages, batch):
        bus.publish_many([(TOPIC, PAYLOAD)] * min(batch, messages - start))
    return messages / (time.perf_counter() - started)


def drain_rate(bus: Bus, batch: int) -> tuple[float, int]:
    """Messages per second fetched and acked in batches, and how many were drained."""
    drained = 0
    started = time.perf_counter()
    while deliveries := bus.fetch("benchmark", ["org.centos.*"], limit=batch):
        bus.ack("benchmark", deliveries)
        drained += len(deliveries)
    return drained / (time.perf_counter() - started), drained


def replay_rate(bus: Bus) -> float:
    """Messages per second streamed by replay."""
    started = time.perf_counter()
    count = sum(1 for _ in bus.replay(["org.centos.*"]))
    return count / (time.perf_counter() - started)


def one_round(args: argparse.Namespace, folder: Path, index: int) -> tuple[float, float, float]:
    """Publish, drain and replay one fresh bus; the three rates."""
    if args.url_kind == "memory":
        bus = open_bus("memory://")
    else:
        bus = open_bus(f"sqlite:///{folder}/round{index}.sqlite", synchronous=args.synchronous)
    try:
        published = publish_rate(bus, args.messages, args.batch)
        drained, count = drain_rate(bus, args.batch)
        assert count == args.messages, f"drained {count} of {args.messages}"
        return published, drained, replay_rate(bus)
    finally:
        bus.close()


def main() -> None:
    """Run the rounds and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url-kind", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--synchronous", choices=["full", "normal"], default="full")
    parser.add_argument("--dir", type=Path, default=None, help="where the bus files go (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        rounds = [one_round(args, Path(folder), index) for index in range(args.rounds)]
    publish, drain, replay = (statistics.median(column) for column in zip(*rounds, strict=True))
    label = args.url_kind if args.url_kind == "memory" else f"sqlite synchronous={args.synchronous}"
    print(f"bus {label}: {args.messages} messages, batches of {args.batch}, median of {args.rounds} rounds")
    print(f"  publish_many      {publish:>10,.0f} messages/s")
    print(f"  fetch + ack       {drain:>10,.0f} messages/s")
    print(f"  replay            {replay:>10,.0f} messages/s")
    print(f"  peak RSS          {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:>10,.0f} MiB")


if __name__ == "__main__":
    main()
