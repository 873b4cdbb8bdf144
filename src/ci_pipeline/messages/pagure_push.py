"""Pagure's ``git.receive`` body (what dist-git sends today) as a :class:`GitPush`.

The body is checked first against the ``pagure.git.receive`` schema of the ``pagure-messages``
package (Pagure's own contract), then against ci-pipeline's rules for the fields that later reach a
path, a subprocess or a column: ``repo.name``, ``end_commit``, ``branch`` and ``repo.namespace`` must
pass the ``git.receive`` schema's rules for repo, rev, branch and namespace. One body is one pushed
branch; the run builds its head, ``end_commit``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

from ci_pipeline.errors import SchemaViolation
from ci_pipeline.messages.fields import GIT_RECEIVE_SUFFIX, load_schema
from ci_pipeline.messages.push import GitPush
from ci_pipeline.messages.quoting import quote_value
from ci_pipeline.messages.schema import validate_instance

WHAT = "Pagure git.receive body"
#: Each Pagure field ci-pipeline uses, and the ``git.receive`` commit rule it must pass.
FIELD_RULES: tuple[tuple[str, str], ...] = (
    ("repo.name", "repo"),
    ("end_commit", "rev"),
    ("branch", "branch"),
    ("repo.namespace", "namespace"),
)
_BRANCH_REF = "refs/heads/"
_NO_COMMIT = "0" * 40


@cache
def pagure_checks() -> tuple[Callable[[Any], Any], Any]:
    """The pagure-messages ``GitReceiveV1`` body schema, compiled fast and as jsonschema's authority."""
    # Imported on first use: fedora-messaging, which it builds on, takes a fifth of a second to load.
    from pagure_messages.git_schema import GitReceiveV1

    schema = GitReceiveV1.body_schema
    authority = validator_for(schema)(schema)
    return fastjsonschema.compile(schema, use_formats=False, detailed_exceptions=False), authority


@cache
def _rule_checks() -> dict[str, tuple[Draft202012Validator, str]]:
    commit = load_schema(GIT_RECEIVE_SUFFIX)["properties"]["commit"]["properties"]
    return {field: (Draft202012Validator(commit[rule]), commit[rule]["description"])
            for field, rule in FIELD_RULES}


def push_from_pagure_body(body: Any, *, msg_id: str, topic: str) -> GitPush:
    """The push a Pagure ``git.receive`` body announces; SchemaViolation with one sentence if it
    breaks Pagure's schema or one of ci-pipeline's field rules."""
    validate_instance(*pagure_checks(), body, WHAT)
    repo: Mapping[str, Any] = body["repo"]
    branch = _branch_name(body["branch"])
    values = {"repo.name": repo["name"], "end_commit": body["end_commit"], "branch": branch,
              "repo.namespace": repo["namespace"]}
    for field, (rule, description) in _rule_checks().items():
        if not rule.is_valid(values[field]):
            raise SchemaViolation(f"Field {quote_value(field)} must be {description}.")
    if repo["namespace"] is None:
        raise SchemaViolation("Field 'repo.namespace' is null: the push went to a project outside "
                              "dist-git's namespaces.")
    rev = body["end_commit"].lower()
    if rev == _NO_COMMIT:
        raise SchemaViolation("Field 'end_commit' is all zeros: the push deleted the branch.")
    authors = body["authors"]
    fullname: str = repo["fullname"]
    return GitPush(
        repo=repo["name"],
        rev=rev,
        branch=branch,
        namespace=repo["namespace"],
        path=fullname,
        username=body["agent"],
        agent=body["agent"],
        name=authors[0]["fullname"] if authors else "",
        msg_id=msg_id,
        topic=topic,
        fork=repo.get("parent") is not None or fullname.startswith("forks/"),
    )


def _branch_name(ref: str) -> str:
    """The branch a pushed ref names; Pagure sends the bare name, and some versions the full ref."""
    name = ref.removeprefix(_BRANCH_REF)
    if name.startswith("refs/"):
        raise SchemaViolation(f"Field 'branch' must name a branch, not {quote_value(ref)}.")
    return name
