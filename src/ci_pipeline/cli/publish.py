"""``ci-pipeline publish`` and ``ci-pipeline validate``: put a message on the bus, check a message."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ci_pipeline.bus.topics import topic_matches
from ci_pipeline.cli.app import App
from ci_pipeline.config import Config
from ci_pipeline.errors import MalformedMessage, UsageError
from ci_pipeline.messages.envelope import decode, encode, make_envelope
from ci_pipeline.messages.inbound import parse_git_receive_document
from ci_pipeline.messages.koji_build import NotForUs, parse_build_message
from ci_pipeline.messages.push_topics import push_kind
from ci_pipeline.messages.schema import validate_envelope
from ci_pipeline.messages.topics import fedora_ci_suffix


def read_input(path: str) -> bytes:
    """The bytes of FILE, or of standard input for ``-``."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError(f"Cannot read {path}: {exc.strerror}.") from exc


def _envelope(data: bytes, topic: str | None) -> dict[str, Any]:
    message = decode(data)
    if topic is None:
        return message
    return make_envelope(topic, message)


def check_message(message: dict[str, Any], config: Config | None = None) -> str:
    """Validate a message as the service will read it; return its schema or push form.

    A dist-git push is read as the trigger reads it (archived envelopes without ``i`` or ``msg_id``,
    per-repo topics, Pagure's body, fedora-messaging dumps); so is a Koji build message on one of
    ``[fedora_ci] build_topics`` that is not a message ci-pipeline sends itself; every other message
    strictly."""
    topic = message.get("topic")
    kind = push_kind(topic) if isinstance(topic, str) else None
    if kind is not None:
        parse_git_receive_document(message)
        return str(kind)
    if (
        config is not None and isinstance(topic, str) and fedora_ci_suffix(topic) is None
        and topic_matches(topic, config.fedora_ci.build_topics)
    ):
        try:
            build = parse_build_message(encode(message), topic, config)
        except NotForUs as exc:
            return f"build {topic}, which starts no run: {exc}"
        return f"build {build.nvr}"
    return validate_envelope(message)


def publish(args: argparse.Namespace, app: App) -> int:
    """Validate a message and publish it on its topic."""
    envelope = _envelope(read_input(args.file), args.topic)
    check_message(envelope, app.config)
    app.bus.publish(str(envelope["topic"]), encode(envelope))
    print(f"published {envelope['topic']} {envelope.get('msg_id') or envelope.get('id') or ''}".rstrip())
    return 0


def validate(args: argparse.Namespace, app: App) -> int:
    """Check a message against its topic's schema."""
    try:
        envelope = _envelope(read_input(args.file), args.topic)
    except MalformedMessage as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    try:
        suffix = check_message(envelope, app.config)
    except Exception as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    print(f"valid: {envelope.get('topic')} ({suffix})")
    return 0


def register(subparsers: Any) -> None:
    """Add ``publish`` and ``validate``."""
    for name, handler, text in (
        ("publish", publish, "put a message (fedmsg envelope, or a body with --topic) on the bus"),
        ("validate", validate, "check a message against its schema"),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        parser.add_argument("file", metavar="FILE", help="the message as JSON, or - for standard input")
        parser.add_argument("--topic", help="the FILE is a bare body for this topic")
        parser.set_defaults(handler=handler)
