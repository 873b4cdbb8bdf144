"""Signed publishing on ZeroMQ: ci-pipeline's zmq bus versus the fedmsg library's ``fedmsg.publish``.

    .venv/bin/python benchmarks/fedmsg_throughput.py [--messages 1000] [--rounds 5]
        [--fedmsg-python .venv-fedmsg/bin/python]

The same messages (the bodies of every seed topic a run sends, repeated to ``--messages``), the same
2048-bit RSA key and certificate, SHA-1 signatures as fedmsg makes them, the same topics, each
publisher binding its own loopback TCP port with no subscriber (both hand every message to ZeroMQ,
which drops it). Rounds alternate between the two in this one run. Measured for ci-pipeline:

* ``sign+publish``: what ``fedmsg.publish`` does (envelope, signature, JSON, ZeroMQ send), through
  the message builders, the X.509 signer and ``ZmqBus.publish_many`` in batches of 500;
* ``outbox relay``: the service's real path, the same messages committed to a SQLite outbox and
  relayed (read, sign, publish, mark sent).

fedmsg runs in its own virtualenv (made by ``scripts/setup.sh``) through
``tests/integration/fedmsg_peer.py bench``. Prints the medians of messages per second and the ratios.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from x509_fixtures import FedmsgPKI  # noqa: E402

from ci_pipeline.bus import open_bus  # noqa: E402
from ci_pipeline.engine.relay import relay_all  # noqa: E402
from ci_pipeline.messages.builders import build_message, encode_message  # noqa: E402
from ci_pipeline.messages.envelope import encode  # noqa: E402
from ci_pipeline.messages.signing import X509Signer  # noqa: E402
from ci_pipeline.store.db import open_store  # noqa: E402
from ci_pipeline.store.outbox import add_messages  # noqa: E402

SEED = ROOT / "tests" / "data" / "seed" / "messages"
BATCH = 500


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_bodies(count: int) -> list[tuple[str, dict[str, str]]]:
    """``count`` (topic, body) pairs cycling through every seed topic a run sends."""
    seeds = [json.loads(path.read_text()) for path in sorted(SEED.glob("org.centos.*.json"))]
    return [(seeds[n % len(seeds)]["topic"], seeds[n % len(seeds)]["msg"]) for n in range(count)]


def ours_sign_and_publish(signer: X509Signer, bodies: list[tuple[str, dict[str, str]]]) -> float:
    """Messages per second: build, sign and publish every body on a fresh zmq bus."""
    bus = open_bus(f"zmq://127.0.0.1:{free_port()}", subscriber_wait=0)
    started = time.perf_counter()
    for start in range(0, len(bodies), BATCH):
        batch = bodies[start:start + BATCH]
        signed = [(topic, encode(build_message(topic, body, signer=signer))) for topic, body in batch]
        bus.publish_many(signed)
    rate = len(bodies) / (time.perf_counter() - started)
    bus.close()
    return rate


def ours_outbox_relay(signer: X509Signer, bodies: list[tuple[str, dict[str, str]]], work: Path) -> float:
    """Messages per second: relay the bodies, committed to a fresh SQLite outbox, onto a zmq bus."""
    store = open_store(f"sqlite:///{work / f'store-{time.monotonic_ns()}.sqlite'}")
    with store.session() as session:
        add_messages(session, [{"run_id": None, "topic": topic, "payload": encode_message(topic, body)}
                               for topic, body in bodies])
    bus = open_bus(f"zmq://127.0.0.1:{free_port()}", subscriber_wait=0)
    started = time.perf_counter()
    sent = relay_all(store, bus, signer=signer)
    rate = sent / (time.perf_counter() - started)
    bus.close()
    store.close()
    return rate


def theirs(python: str, pki: FedmsgPKI, bodies: list[tuple[str, dict[str, str]]], work: Path) -> float:
    """Messages per second of ``fedmsg.publish`` with signing, in fedmsg's own process."""
    name = "bench.host"
    config = {
        "topic_prefix": "org.centos", "environment": "prod", "io_threads": 1, "name": name,
        "endpoints": {name: [f"tcp://127.0.0.1:{free_port()}"]}, "sign_messages": True,
        "ssldir": str(pki.ssldir), "certnames": {name: "ci-pipeline"}, "post_init_sleep": 0, "rounds": 1,
        "high_water_mark": 0,
    }
    (work / "bench.json").write_text(json.dumps(config))
    prefix = "org.centos.prod.ci."
    suffixes = [(topic.removeprefix(prefix), body) for topic, body in bodies]
    (work / "bodies.json").write_text(json.dumps(suffixes))
    out = subprocess.run([python, str(ROOT / "tests" / "integration" / "fedmsg_peer.py"), "bench",
                          str(work / "bench.json"), str(work / "bodies.json")],
                         capture_output=True, text=True, check=True).stdout
    return float(json.loads(out.splitlines()[-1])["median"])


def main() -> None:
    """Run the rounds and print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fedmsg-python", default=str(ROOT / ".venv-fedmsg" / "bin" / "python"))
    args = parser.parse_args()
    bodies = run_bodies(args.messages)
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        pki = FedmsgPKI(work / "pki", ("ci-pipeline",))
        signer = X509Signer.from_files(pki.certificate("ci-pipeline"), pki.key("ci-pipeline"), digest="sha1")
        rates: dict[str, list[float]] = {"sign+publish": [], "outbox relay": [], "fedmsg.publish": []}
        for _ in range(args.rounds):
            rates["sign+publish"].append(ours_sign_and_publish(signer, bodies))
            rates["outbox relay"].append(ours_outbox_relay(signer, bodies, work))
            rates["fedmsg.publish"].append(theirs(args.fedmsg_python, pki, bodies, work))
    medians = {what: statistics.median(values) for what, values in rates.items()}
    print(f"{args.messages} signed messages (SHA-1, RSA 2048) per round, {args.rounds} rounds, medians:")
    for what, median in medians.items():
        print(f"  {what:<15} {median:10.0f} msg/s   (rounds: {', '.join(f'{r:.0f}' for r in rates[what])})")
    for what in ("sign+publish", "outbox relay"):
        print(f"  ratio {what} / fedmsg.publish: {medians[what] / medians['fedmsg.publish']:.1f}x")


if __name__ == "__main__":
    main()
