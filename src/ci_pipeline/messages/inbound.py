"""Parse an inbound dist-git push (``*.git.receive``) into a :class:`GitPush`.

Accepted forms, all JSON objects of at most 1 MiB:

* a fedmsg envelope whose ``msg`` is ``{"commit": {...}}`` (the seed's form);
* the bare body ``{"commit": {...}}``;
* a fedora-messaging ``git.receive`` body: the same, with a top-level ``agent``;
* a fedora-messaging message dump ``{"topic", "id", "headers", "body"}`` around that body.

Every field that may later reach a path or a subprocess (repo, rev, branch, namespace) is checked by
the ``git.receive`` schema first; any failure is a MessageError with one sentence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ci_pipeline.errors import SchemaViolation, UnknownTopic
from ci_pipeline.messages.envelope import decode, make_envelope
from ci_pipeline.messages.fields import GIT_RECEIVE_SUFFIX
from ci_pipeline.messages.quoting import quote_value
from ci_pipeline.messages.schema import suffix_of, validate_body, validate_envelope

#: The topic dist-git pushes are announced on in Fedora's production environment.
FEDORA_GIT_RECEIVE_TOPIC = "org.fedoraproject.prod.git.receive"
#: A fedora-messaging id (a UUID), or a fedmsg id (the year, a dash, a UUID).
_MESSAGE_ID = re.compile(r"(?:[0-9]{4}-)?[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
#: The namespace of a push that names none (dist-git before namespaces held only rpms).
DEFAULT_NAMESPACE = "rpms"


@dataclass(frozen=True, slots=True)
class GitPush:
    """One pushed dist-git commit, validated; ``msg_id`` and ``topic`` are empty for a bare body."""

    repo: str
    rev: str
    branch: str
    namespace: str
    path: str = ""
    username: str = ""
    agent: str = ""
    summary: str = ""
    message: str = ""
    name: str = ""
    email: str = ""
    msg_id: str = ""
    topic: str = ""

    @property
    def change(self) -> tuple[str, str, str]:
        """What identifies the change across the pipeline: ``(repo, rev, namespace)``."""
        return (self.repo, self.rev, self.namespace)

    @property
    def is_fork(self) -> bool:
        """Whether the push went to a user's fork rather than the package's own repository."""
        return "/forks/" in self.path


def parse_git_receive(payload: bytes) -> GitPush:
    """Parse and validate the raw bytes of a dist-git push message in any accepted form."""
    return parse_git_receive_document(decode(payload))


def parse_git_receive_document(document: Mapping[str, Any]) -> GitPush:
    """Parse and validate an already-decoded dist-git push message in any accepted form."""
    if "msg" in document:
        topic = document.get("topic")
        if isinstance(topic, str):
            # Name the wrong topic rather than the pipeline fields its body lacks.
            _require_git_receive(suffix_of(topic), topic)
        validate_envelope(document)
        return _push_from_body(document["msg"], msg_id=document["msg_id"], topic=document["topic"])
    if "commit" in document:
        validate_body(GIT_RECEIVE_SUFFIX, document)
        return _push_from_body(document, msg_id="", topic="")
    if "body" in document:
        return _push_from_dump(document)
    raise SchemaViolation("Field 'commit' is missing: the message is not a dist-git push.")


def _push_from_dump(document: Mapping[str, Any]) -> GitPush:
    topic = document.get("topic", "")
    msg_id = document.get("id", "")
    if not isinstance(topic, str) or not isinstance(msg_id, str):
        raise SchemaViolation("Fields 'topic' and 'id' of a fedora-messaging message must be strings.")
    if msg_id and not _MESSAGE_ID.fullmatch(msg_id):
        raise SchemaViolation("Field 'id' of a fedora-messaging message must be a UUID.")
    if topic:
        _require_git_receive(suffix_of(topic), topic)
    body = document["body"]
    validate_body(GIT_RECEIVE_SUFFIX, body)
    return _push_from_body(body, msg_id=msg_id, topic=topic)


def _require_git_receive(suffix: str, topic: str) -> None:
    if suffix != GIT_RECEIVE_SUFFIX:
        raise UnknownTopic(f"Topic {quote_value(topic)} is not a dist-git push (git.receive) topic.")


def _push_from_body(body: Mapping[str, Any], *, msg_id: str, topic: str) -> GitPush:
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
    _require_git_receive(suffix_of(topic), topic)
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
