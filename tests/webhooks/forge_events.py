"""Push events as each forge sends them (trimmed to the fields forges always send), and their headers."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ci_pipeline.webhooks.signatures import hmac_sha256_hex

SECRET = "hook-secret"
REV = "591b0d2fc67a45e4ad13bdc3e312d5554852426a"
BEFORE = "28e1879d029cb852e4844d9c718537df08844e03"
PAGURE_BODY: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "pushes" / "pagure-git-receive.json").read_text())["body"]


def github_push(repo: str = "vim", rev: str = REV, ref: str = "refs/heads/f26",
                **extra: Any) -> dict[str, Any]:
    """A GitHub push event (Forgejo and Gitea send the same shape, with ``pusher.login``)."""
    return {
        "ref": ref, "before": BEFORE, "after": rev, "created": False, "deleted": False, "forced": False,
        "repository": {"name": repo, "full_name": f"fedora/{repo}", "fork": False},
        "pusher": {"name": "alice", "email": "alice@example.org"},
        "head_commit": {"id": rev, "message": "Update to 9.1\n\nLonger text.",
                        "author": {"name": "Alice", "email": "alice@example.org"}},
        "commits": [{"id": rev}], **extra,
    }


def gitlab_push(repo: str = "vim", rev: str = REV, ref: str = "refs/heads/f26") -> dict[str, Any]:
    """A GitLab Push Hook event."""
    return {
        "object_kind": "push", "event_name": "push", "before": BEFORE, "after": rev, "ref": ref,
        "checkout_sha": rev, "user_name": "Alice", "user_username": "alice",
        "user_email": "alice@example.org",
        "project": {"name": repo, "path_with_namespace": f"rpms/{repo}"},
        "commits": [{"id": rev, "message": "Update to 9.1\n"}], "total_commits_count": 1,
    }


def pagure_push(repo: str = "vim", rev: str = REV, branch: str = "f26") -> dict[str, Any]:
    """A Pagure git.receive notification: the fedmsg-like dict Pagure posts, around a shipped body."""
    body = copy.deepcopy(PAGURE_BODY)
    body["repo"].update(name=repo, fullname=f"rpms/{repo}", url_path=f"rpms/{repo}")
    body.update(end_commit=rev, start_commit=rev, branch=branch, agent="alice",
                pagure_instance="https://src.example.org/", project_fullname=f"rpms/{repo}")
    return {"i": 1, "msg": body, "msg_id": f"2026-{uuid.uuid4()}", "timestamp": 1700000000,
            "topic": "git.receive"}


def signed(forge: str, event: dict[str, Any] | bytes, *, secret: str = SECRET, kind: str = "",
           delivery: str | None = None) -> tuple[bytes, dict[str, str]]:
    """The body and the headers ``forge`` sends for ``event``, signed with ``secret``."""
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    delivery = delivery or str(uuid.uuid4())
    digest = hmac_sha256_hex(secret, body)
    headers = {
        "github": {"X-GitHub-Event": kind or "push", "X-GitHub-Delivery": delivery,
                   "X-Hub-Signature-256": f"sha256={digest}"},
        "forgejo": {"X-Forgejo-Event": kind or "push", "X-Gitea-Event": kind or "push",
                    "X-Forgejo-Delivery": delivery, "X-Forgejo-Signature": digest,
                    "X-Gitea-Signature": digest},
        "gitlab": {"X-Gitlab-Event": kind or "Push Hook", "X-Gitlab-Event-UUID": delivery,
                   "X-Gitlab-Token": secret},
        "pagure": {"X-Pagure-Topic": kind or "git.receive", "X-Pagure-Signature-256": digest,
                   "X-Pagure-Project": "rpms/vim"},
    }[forge]
    return body, {"Content-Type": "application/json", **headers}


def signed_form(forge: str, event: dict[str, Any], *, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    """``event`` delivered as a form (``payload=<JSON>``), signed as ``forge`` signs one: GitHub over the
    form it sends, Forgejo and Pagure over the JSON inside it."""
    document = json.dumps(event).encode()
    form = urlencode({"payload": document}).encode()
    _, headers = signed(forge, form if forge == "github" else document, secret=secret)
    return form, {**headers, "Content-Type": "application/x-www-form-urlencoded"}
