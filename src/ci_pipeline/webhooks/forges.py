"""Each forge's push webhook: how it signs, which header names the event and the delivery, and how its
push event becomes a :class:`~ci_pipeline.messages.push.GitPush`.

GitHub and Forgejo (and Gitea) send the same push shape (``ref``, ``after``, ``repository``, ``pusher``);
GitLab its own (``object_kind``, ``project``, ``user_username``); Pagure its ``git.receive`` message,
the very body dist-git puts on the bus. A GitHub-shaped or GitLab push is written in the seed's
``git.receive`` form and read by the bus's own parser, a Pagure one by the bus's Pagure parser, so a
webhook push passes exactly the schema and field rules a bus push passes.

One push event is one pushed branch head (``after``): one decision. A push that updated a tag or
deleted a branch has nothing to build and is answered with the reason, not decided.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ci_pipeline.errors import SchemaViolation
from ci_pipeline.messages.inbound import parse_git_receive_document
from ci_pipeline.messages.pagure_push import push_from_pagure_body
from ci_pipeline.messages.push import GitPush
from ci_pipeline.messages.quoting import quote_value
from ci_pipeline.webhooks.signatures import check_hmac_sha256, check_token

#: Headers by lowercase name (Starlette's headers look names up in any case).
Headers = Mapping[str, str]
_BRANCH_REF = "refs/heads/"
_NO_COMMIT = "0" * 40


def _text(document: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = document.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise SchemaViolation(f"Field {quote_value(where + key)} must be a string.")
    return value


def _object(document: Mapping[str, Any], key: str, *, required: bool = True) -> Mapping[str, Any]:
    value = document.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise SchemaViolation(f"Field {quote_value(key)} must be an object.")
    return value


def _nothing_to_build(ref: str, after: str, deleted: bool) -> str | None:
    """Why a push has no branch head to build, or None when it has one."""
    if not ref.startswith(_BRANCH_REF):
        return f"The push updated {quote_value(ref)}, not a branch: there is nothing to build."
    if deleted or after.strip("0") == "":
        return f"The push deleted the branch {quote_value(ref.removeprefix(_BRANCH_REF))}: nothing to build."
    return None


def _seed_form_push(fields: Mapping[str, str], delivery: str, fork: bool) -> GitPush:
    """The push the bus's parser reads from ``fields`` written as the seed's ``git.receive`` body."""
    message = fields.get("message", "")
    commit = {**fields, "summary": message.split("\n", 1)[0], "agent": fields.get("username", "")}
    return dataclasses.replace(parse_git_receive_document({"commit": commit}), msg_id=delivery, fork=fork)


def github_style_push(document: Mapping[str, Any], namespace: str, delivery: str) -> GitPush | str:
    """A GitHub or Forgejo/Gitea ``push`` event as a push, or why it has nothing to build."""
    ref, after = _text(document, "ref", ""), _text(document, "after", "")
    nothing = _nothing_to_build(ref, after, document.get("deleted") is True)
    if nothing:
        return nothing
    repository = _object(document, "repository")
    pusher = _object(document, "pusher", required=False)
    head = _object(document, "head_commit", required=False)
    author = _object(head, "author", required=False)
    who = pusher.get("login") or pusher.get("username") or pusher.get("name") or ""
    fields = {
        "repo": _text(repository, "name", "repository."), "rev": after, "namespace": namespace,
        "branch": ref.removeprefix(_BRANCH_REF), "path": _text(repository, "full_name", "repository.",
                                                                 required=False),
        "username": who if isinstance(who, str) else "", "message": _text(head, "message", "head_commit.",
                                                                          required=False),
        "name": _text(author, "name", "head_commit.author.", required=False),
        "email": _text(author, "email", "head_commit.author.", required=False),
    }
    return _seed_form_push(fields, delivery, repository.get("fork") is True)


def gitlab_push(document: Mapping[str, Any], namespace: str, delivery: str) -> GitPush | str:
    """A GitLab ``Push Hook`` (or ``Tag Push Hook``) event as a push, or why it has nothing to build."""
    ref, after = _text(document, "ref", ""), _text(document, "after", "")
    nothing = _nothing_to_build(ref, after, False)
    if nothing:
        return nothing
    project = _object(document, "project")
    commits = document.get("commits")
    head: Mapping[str, Any] = next(
        (c for c in commits if isinstance(c, Mapping) and c.get("id") == after), {}
    ) if isinstance(commits, list) else {}
    fields = {
        "repo": _text(project, "name", "project."), "rev": after, "namespace": namespace,
        "branch": ref.removeprefix(_BRANCH_REF),
        "path": _text(project, "path_with_namespace", "project.", required=False),
        "username": _text(document, "user_username", "", required=False),
        "message": _text(head, "message", "commits[].", required=False),
        "name": _text(document, "user_name", "", required=False),
        "email": _text(document, "user_email", "", required=False),
    }
    return _seed_form_push(fields, delivery, False)


def pagure_push(document: Mapping[str, Any], namespace: str, delivery: str) -> GitPush | str:
    """A Pagure ``git.receive`` notification (``{"topic", "msg", "msg_id", ...}``) as a push.

    The namespace is the body's own (Pagure's dist-git has namespaces), read by the bus's Pagure parser.
    """
    return push_from_pagure_body(document.get("msg"), msg_id=delivery, topic="")


@dataclass(frozen=True)
class Forge:
    """One forge's webhook: its credential check, event and delivery headers, and push reader."""

    name: str
    #: The WebhooksConfig field holding this forge's secret.
    secret_setting: str
    authenticate: Callable[[str, bytes, Headers], None]
    event_headers: tuple[str, ...]
    push_events: frozenset[str]
    read_push: Callable[[Mapping[str, Any], str, str], GitPush | str]
    delivery_headers: tuple[str, ...] = ()
    #: A body field naming the delivery, for forges that send no delivery header (Pagure's msg_id).
    delivery_field: str = ""
    ping_events: frozenset[str] = frozenset()
    #: Whether a form-encoded delivery (``payload=<JSON>``) is signed over its JSON, not the body
    #: sent: Pagure and Forgejo sign the JSON before they encode it, GitHub signs what it sends.
    signs_form_payload: bool = False


def _github_signature(secret: str, body: bytes, headers: Headers) -> None:
    given = headers.get("x-hub-signature-256")
    check_hmac_sha256(secret, body, "X-Hub-Signature-256", given, prefix="sha256=")


def _forgejo_signature(secret: str, body: bytes, headers: Headers) -> None:
    # Forgejo sends both names; when its own is there it is the one that counts.
    name = "X-Forgejo-Signature" if headers.get("x-forgejo-signature") else "X-Gitea-Signature"
    check_hmac_sha256(secret, body, name, headers.get(name.lower()))


def _gitlab_token(secret: str, body: bytes, headers: Headers) -> None:
    check_token(secret, "X-Gitlab-Token", headers.get("x-gitlab-token"))


def _pagure_signature(secret: str, body: bytes, headers: Headers) -> None:
    check_hmac_sha256(secret, body, "X-Pagure-Signature-256", headers.get("x-pagure-signature-256"))


FORGES: dict[str, Forge] = {
    forge.name: forge for forge in (
        Forge("github", "github_secret", _github_signature, ("x-github-event",), frozenset({"push"}),
              github_style_push, delivery_headers=("x-github-delivery",), ping_events=frozenset({"ping"})),
        Forge("forgejo", "forgejo_secret", _forgejo_signature, ("x-forgejo-event", "x-gitea-event"),
              frozenset({"push"}), github_style_push,
              delivery_headers=("x-forgejo-delivery", "x-gitea-delivery"), signs_form_payload=True),
        Forge("gitlab", "gitlab_token", _gitlab_token, ("x-gitlab-event",),
              frozenset({"Push Hook", "Tag Push Hook"}), gitlab_push,
              delivery_headers=("idempotency-key", "x-gitlab-event-uuid")),
        Forge("pagure", "pagure_secret", _pagure_signature, ("x-pagure-topic",), frozenset({"git.receive"}),
              pagure_push, delivery_field="msg_id", signs_form_payload=True),
    )
}
