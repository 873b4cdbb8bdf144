"""Parse an inbound dist-git push into a :class:`GitPush`, in every form dist-git has sent.

Accepted forms, all JSON objects of at most 1 MiB:

* a fedmsg envelope whose ``msg`` is ``{"commit": {...}}`` (the seed's form), on
  ``<prefix>.git.receive`` or a per-repository ``<prefix>.git.receive.<repo>.<branch>`` topic;
  archived envelopes (datanommer and datagrepper exports) often lack ``i`` or ``msg_id`` and may
  carry ``source_name``, ``source_version``, ``username``, ``crypto`` or ``headers``: only ``msg``
  is essential;
* a fedmsg envelope on ``<prefix>.pagure.git.receive`` whose ``msg`` is Pagure's ``git.receive``
  body (:mod:`.pagure_push`), which is what dist-git sends today;
* either body bare, or in a fedora-messaging message dump ``{"topic", "id", "headers", "body"}``;
  a fedora-messaging ``git.receive`` body may add a top-level ``agent``.

The topic says which body to expect (:mod:`.push_topics`): the message's own topic, else the one
the bus delivered it on, else the body's shape. Every field that may later reach a path or a
subprocess (repo, rev, branch, namespace) is checked by the ``git.receive`` schema's rules first;
any failure is a MessageError with one sentence. Our own outbound envelopes stay strict
(:func:`~ci_pipeline.messages.schema.validate_envelope`); only this inbound reading is lenient.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator

from ci_pipeline.errors import SchemaViolation, UnknownTopic
from ci_pipeline.messages.envelope import decode, make_envelope
from ci_pipeline.messages.fields import ENVELOPE_SCHEMA, GIT_RECEIVE_SUFFIX, load_schema
from ci_pipeline.messages.pagure_push import push_from_pagure_body
from ci_pipeline.messages.push import DEFAULT_NAMESPACE, GitPush
from ci_pipeline.messages.push_topics import PushKind, require_push_kind
from ci_pipeline.messages.quoting import quote_value
from ci_pipeline.messages.schema import validate_body, validate_envelope, validate_instance

__all__ = ["DEFAULT_NAMESPACE", "FEDORA_GIT_RECEIVE_TOPIC", "GitPush", "make_git_receive",
           "parse_git_receive", "parse_git_receive_document"]

#: The topic dist-git pushes are announced on in Fedora's production environment.
FEDORA_GIT_RECEIVE_TOPIC = "org.fedoraproject.prod.git.receive"
#: A fedora-messaging id (a UUID), or a fedmsg id (the year, a dash, a UUID).
_MESSAGE_ID = re.compile(r"(?:[0-9]{4}-)?[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def parse_git_receive(payload: bytes, topic: str = "") -> GitPush:
    """Parse and validate the raw bytes of a dist-git push message in any accepted form.

    ``topic`` is the topic the bus delivered it on, if known: one that is no push topic is refused.
    """
    return parse_git_receive_document(decode(payload), topic)


def parse_git_receive_document(document: Mapping[str, Any], topic: str = "") -> GitPush:
    """Parse and validate an already-decoded dist-git push message in any accepted form."""
    delivered = require_push_kind(topic) if topic else None
    if "msg" in document:
        return _push_from_envelope(document, topic, delivered)
    if "body" in document:
        return _push_from_dump(document, topic, delivered)
    if "topic" in document:
        # An envelope without its body: name what is missing, not the fields of a body.
        raise SchemaViolation("Field 'msg' is missing: the envelope carries no message body.")
    return _push_from_body(document, delivered or _kind_of_body(document), msg_id="", topic=topic)


@cache
def _inbound_envelope_checks() -> tuple[Callable[[Any], Any], Draft202012Validator]:
    """The envelope schema as archives and bridges send it: only ``msg`` required, any extra key."""
    schema = copy.deepcopy(load_schema(ENVELOPE_SCHEMA))
    schema["$id"] = "urn:ci-pipeline:message:envelope.inbound"
    schema["required"] = ["msg"]
    schema.pop("additionalProperties", None)
    properties = schema["properties"]
    # Per-repo topics may spell a package with capitals or '+': push_topics owns the topic rule.
    properties["topic"] = {"type": "string", "description": "a string (the topic)"}
    properties["msg_id"] = {**properties["msg_id"], "type": ["string", "null"]}
    return fastjsonschema.compile(schema, use_formats=False, detailed_exceptions=False), \
        Draft202012Validator(schema)


def _push_from_envelope(document: Mapping[str, Any], topic: str, delivered: PushKind | None) -> GitPush:
    own_topic = document.get("topic")
    kind = delivered
    if isinstance(own_topic, str):
        # Name the wrong topic rather than the fields its body lacks.
        kind = require_push_kind(own_topic)
        topic = own_topic
    validate_instance(*_inbound_envelope_checks(), document, "envelope")
    body = document["msg"]
    return _push_from_body(body, kind or _kind_of_body(body), msg_id=document.get("msg_id") or "",
                           topic=topic)


def _push_from_dump(document: Mapping[str, Any], topic: str, delivered: PushKind | None) -> GitPush:
    own_topic = document.get("topic", "")
    msg_id = document.get("id", "")
    if not isinstance(own_topic, str) or not isinstance(msg_id, str):
        raise SchemaViolation("Fields 'topic' and 'id' of a fedora-messaging message must be strings.")
    if msg_id and not _MESSAGE_ID.fullmatch(msg_id):
        raise SchemaViolation("Field 'id' of a fedora-messaging message must be a UUID.")
    kind = delivered
    if own_topic:
        kind, topic = require_push_kind(own_topic), own_topic
    body = document["body"]
    return _push_from_body(body, kind or _kind_of_body(body), msg_id=msg_id, topic=topic)


def _kind_of_body(body: Any) -> PushKind:
    """Which form a body without a topic is in: Pagure's names the pushed head ``end_commit``."""
    if isinstance(body, Mapping) and "commit" not in body and (
        "end_commit" in body or isinstance(body.get("repo"), Mapping)
    ):
        return PushKind.PAGURE
    return PushKind.GIT_RECEIVE


def _push_from_body(body: Any, kind: PushKind, *, msg_id: str, topic: str) -> GitPush:
    if kind is PushKind.PAGURE:
        return push_from_pagure_body(body, msg_id=msg_id, topic=topic)
    if isinstance(body, Mapping) and "commit" not in body:
        raise SchemaViolation("Field 'commit' is missing: the message is not a dist-git push.")
    validate_body(GIT_RECEIVE_SUFFIX, body)
    # The body has passed the git.receive schema: types and patterns below are already checked.
    commit: Mapping[str, Any] = body["commit"]
    username = commit.get("username", "")
    namespace = commit.get("namespace") or DEFAULT_NAMESPACE
    return GitPush(
        repo=commit["repo"],
        rev=commit["rev"].lower(),
        branch=commit["branch"],
        namespace=namespace,
        path=commit.get("path", ""),
        username=username,
        agent=commit.get("agent") or body.get("agent") or username,
        summary=commit.get("summary", ""),
        message=commit.get("message", ""),
        name=commit.get("name", ""),
        email=commit.get("email", ""),
        msg_id=msg_id,
        topic=topic,
    )


def make_git_receive(
    *,
    repo: str,
    rev: str,
    branch: str,
    namespace: str = DEFAULT_NAMESPACE,
    username: str = "ci-pipeline",
    summary: str = "Triggered by ci-pipeline",
    path: str | None = None,
    topic: str = FEDORA_GIT_RECEIVE_TOPIC,
) -> dict[str, Any]:
    """A validated fedmsg ``git.receive`` envelope of the seed's form for one pushed commit."""
    if require_push_kind(topic) is PushKind.PAGURE:
        raise UnknownTopic(f"Topic {quote_value(topic)} carries Pagure's body, not the seed's form.")
    commit = {
        "username": username,
        "stats": {"files": {}, "total": {"deletions": 0, "files": 0, "additions": 0, "lines": 0}},
        "name": username,
        "rev": rev,
        "namespace": namespace,
        "agent": username,
        "summary": summary,
        "repo": repo,
        "branch": branch,
        "seen": False,
        "path": path if path is not None else f"/srv/git/repositories/{namespace}/{repo}.git",
        "message": f"{summary}\n",
        "email": "",
    }
    envelope = make_envelope(topic, {"commit": commit})
    validate_envelope(envelope)
    return envelope
