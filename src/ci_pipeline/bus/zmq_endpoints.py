"""The ``zmq://`` URL and options of the fedmsg bus, and the one publishing socket per endpoint.

``zmq://HOST:PORT?endpoint=tcp://hub:9940&endpoint=tcp://other:3000`` publishes on ``tcp://HOST:PORT``
(bound, as a fedmsg publisher binds its named endpoint; ``HOST`` may be ``*``) and consumes from every
``endpoint`` (fedmsg's ``endpoints`` addresses, connected as fedmsg's hub and ``fedmsg-tail`` connect).
``zmq://?endpoint=...`` only consumes. With ``active=true`` the publishing socket connects to
``HOST:PORT`` instead, as fedmsg's ``active`` mode does towards a ``fedmsg-relay``.

fedmsg's publisher is a PUB socket. Ours is an XPUB, which behaves the same for subscribers and also
tells the publisher which topic prefixes somebody is subscribed to; with ``XPUB_NODROP`` a full queue
says so rather than dropping a message, so the outbox keeps what did not go out.
"""

from __future__ import annotations

import getpass
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import zmq

from ci_pipeline.errors import BusError, ConfigError

DEFAULT_OPTIONS: dict[str, Any] = {
    "active": False,
    # A message is sent only while at most this many wait per subscriber (fedmsg's high_water_mark).
    "high_water_mark": 10000,
    # What a message whose topic no subscriber listens to does: "warn" sends it anyway (ZeroMQ
    # drops it, as fedmsg does), "error" raises BusError so the outbox keeps it until one listens.
    "unroutable": "warn",
    "username": "",
    # Seconds a new publishing socket gives subscribers to connect and subscribe before its first
    # message (ZeroMQ's "slow joiner"; fedmsg's post_init_sleep). Ends early once one subscribed.
    "subscriber_wait": 0.5,
    "fetch_wait": 0.05,
    "lease_seconds": 60.0,
    "linger": 1.0,
    "reconnect_delay": 0.1,
}
_ENDPOINT = re.compile(r"(?:tcp://(?:\*|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}|ipc://[^\x00-\x20]+)")
_SUBSCRIBE, _UNSUBSCRIBE = 1, 0


@dataclass(frozen=True)
class ZmqSettings:
    """Where to publish and consume, and how, parsed from a ``zmq://`` URL and keyword options."""

    publish_to: str
    endpoints: tuple[str, ...]
    options: dict[str, Any]

    @property
    def username(self) -> str:
        """The ``username`` put in every envelope: the option, else the process's user, as fedmsg does."""
        return str(self.options["username"]) or getpass.getuser()


def parse_zmq_url(url: str, options: dict[str, Any]) -> ZmqSettings:
    """The settings a ``zmq://`` URL and options give; ConfigError naming what is wrong."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "zmq" or parts.path not in ("", "/"):
        raise ConfigError(f"The bus URL {url!r} is not of the form zmq://HOST:PORT?endpoint=tcp://HOST:PORT.")
    query = parse_qsl(parts.query)
    endpoints = tuple(value for key, value in query if key == "endpoint")
    given = {key: value for key, value in query if key != "endpoint"}
    unknown = (set(given) | set(options)) - set(DEFAULT_OPTIONS)
    if unknown:
        raise ConfigError(f"Unknown zmq bus option(s) {', '.join(sorted(unknown))}; "
                          f"known: endpoint, {', '.join(DEFAULT_OPTIONS)}.")
    merged = dict(DEFAULT_OPTIONS)
    for key, raw in {**given, **options}.items():
        merged[key] = _typed(key, raw)
    if merged["unroutable"] not in ("warn", "error"):
        raise ConfigError(f"The zmq bus option unroutable={merged['unroutable']!r} must be 'warn' "
                          "or 'error'.")
    publish_to = f"tcp://{parts.netloc}" if parts.netloc else ""
    for endpoint in (*endpoints, publish_to):
        if endpoint and not _ENDPOINT.fullmatch(endpoint):
            raise ConfigError(f"The zmq endpoint {endpoint!r} is not tcp://HOST:PORT or ipc://PATH.")
    if not publish_to and not endpoints:
        raise ConfigError(f"The bus URL {url!r} names neither a host:port to publish on nor an endpoint.")
    return ZmqSettings(publish_to, endpoints, merged)


def _typed(key: str, raw: Any) -> Any:
    kind = type(DEFAULT_OPTIONS[key])
    if kind is bool and isinstance(raw, str):
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"The zmq bus option {key}={raw!r} must be true or false.")
        return raw.lower() in ("true", "1", "yes")
    try:
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"The zmq bus option {key}={raw!r} is not a valid value: {exc}.") from exc


class Publisher:
    """One XPUB socket on one endpoint, shared by every bus of this process that publishes there.

    ZeroMQ sockets belong to one thread at a time and a port binds once: a lock serialises sends.
    """

    def __init__(self, settings: ZmqSettings) -> None:
        self.endpoint = settings.publish_to
        self.lock = threading.Lock()
        self.subscribed: set[bytes] = set()
        self.users = 0
        socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.XPUB)
        socket.setsockopt(zmq.SNDHWM, int(settings.options["high_water_mark"]))
        socket.setsockopt(zmq.XPUB_NODROP, 1)
        socket.setsockopt(zmq.LINGER, int(float(settings.options["linger"]) * 1000))
        socket.setsockopt(zmq.TCP_KEEPALIVE, 1)
        try:
            if settings.options["active"]:
                socket.connect(self.endpoint)
            else:
                socket.bind(self.endpoint)
        except zmq.ZMQError as exc:
            socket.close(linger=0)
            how = "connect to" if settings.options["active"] else "bind"
            raise BusError(f"The zmq bus cannot {how} {self.endpoint}: {exc.strerror}.") from exc
        self.socket = socket
        self.opened_at = time.monotonic()

    def hear_subscriptions(self) -> None:
        """Take in the (un)subscriptions subscribers sent since last time. Call with the lock held."""
        while True:
            try:
                frame = self.socket.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if frame and frame[0] == _SUBSCRIBE:
                self.subscribed.add(frame[1:])
            elif frame and frame[0] == _UNSUBSCRIBE:
                self.subscribed.discard(frame[1:])

    def await_subscribers(self, seconds: float) -> None:
        """Wait until some subscriber subscribed, or ``seconds`` after the socket opened. Call with the
        lock held."""
        deadline = self.opened_at + seconds
        while not self.subscribed and (left := deadline - time.monotonic()) > 0:
            if self.socket.poll(int(left * 1000) + 1):
                self.hear_subscriptions()

    def is_heard(self, topic: bytes) -> bool:
        """Whether some subscriber's prefix covers ``topic``."""
        return any(topic.startswith(prefix) for prefix in self.subscribed)

    def close(self) -> None:
        """Close the socket, after up to ``linger`` seconds of sending what is queued."""
        self.socket.close()


_PUBLISHERS: dict[str, Publisher] = {}
_PUBLISHERS_LOCK = threading.Lock()


def publisher_for(settings: ZmqSettings) -> Publisher:
    """The process's publisher on ``settings.publish_to``, opened on first use."""
    with _PUBLISHERS_LOCK:
        publisher = _PUBLISHERS.get(settings.publish_to)
        if publisher is None:
            publisher = _PUBLISHERS[settings.publish_to] = Publisher(settings)
        publisher.users += 1
        return publisher


def release_publisher(publisher: Publisher) -> None:
    """One user fewer; the last one closes the socket and frees the endpoint."""
    with _PUBLISHERS_LOCK:
        publisher.users -= 1
        if publisher.users <= 0 and _PUBLISHERS.get(publisher.endpoint) is publisher:
            del _PUBLISHERS[publisher.endpoint]
            with publisher.lock:
                publisher.close()
