"""Pagure's git.receive body: Pagure's schema, then our field rules; forks; fuzzed and cross-checked."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pagure_messages.git_schema import GitReceiveV1

from ci_pipeline.errors import MessageError, SchemaViolation
from ci_pipeline.messages.pagure_push import push_from_pagure_body
from ci_pipeline.messages.push import GitPush
from messages.strategies import push_field_values

PUSHES_DIR = Path(__file__).resolve().parents[1] / "data" / "pushes"
TOPIC = "org.fedoraproject.prod.pagure.git.receive"


def body_of(name: str) -> dict[str, Any]:
    """The body of a shipped fedora-messaging dump of a Pagure push."""
    body: dict[str, Any] = json.loads((PUSHES_DIR / name).read_text("utf-8"))["body"]
    return body


PUSH = body_of("pagure-git-receive.json")
FORK = body_of("pagure-git-receive-fork.json")


def parse(body: Any) -> GitPush:
    return push_from_pagure_body(body, msg_id="", topic=TOPIC)


def test_a_push_builds_the_pushed_branch_head() -> None:
    push = parse(PUSH)
    assert push.change == ("vim", PUSH["end_commit"], "rpms")
    assert (push.branch, push.path, push.agent) == ("rawhide", "rpms/vim", "zdohnal")
    assert push.username == "zdohnal"
    assert push.name == "Zdenek Dohnal" and not push.is_fork


def test_a_fork_push_is_recognised_by_its_parent_or_its_name() -> None:
    assert parse(FORK).is_fork and parse(FORK).path == "forks/ttomecek/rpms/vim"
    by_parent = copy.deepcopy(FORK)
    by_parent["repo"]["fullname"] = "rpms/vim"
    assert parse(by_parent).is_fork
    by_name = copy.deepcopy(FORK)
    by_name["repo"]["parent"] = None
    assert parse(by_name).is_fork


def test_a_full_branch_ref_names_its_branch_and_other_refs_are_refused() -> None:
    assert parse(dict(PUSH, branch="refs/heads/f41")).branch == "f41"
    with pytest.raises(SchemaViolation, match=r"^Field 'branch' must name a branch, not 'refs/tags/v1'\.$"):
        parse(dict(PUSH, branch="refs/tags/v1"))


def test_a_push_outside_dist_git_namespaces_or_deleting_a_branch_is_refused() -> None:
    outside = copy.deepcopy(PUSH)
    outside["repo"]["namespace"] = None
    with pytest.raises(SchemaViolation, match=r"'repo\.namespace' is null"):
        parse(outside)
    with pytest.raises(SchemaViolation, match="'end_commit' is all zeros"):
        parse(dict(PUSH, end_commit="0" * 40))


@pytest.mark.parametrize(
    ("where", "field", "value", "reason"),
    [
        # Pagure's own schema (pagure-messages) speaks first.
        ("body", "old_commit", None, "Field 'old_commit' must be a string."),
        ("body", "forced", "no", "Field 'forced' must be true or false."),
        ("body", "authors", {}, "Field 'authors' must be a list."),
        ("repo", "name", 7, "Field 'repo.name' must be a string."),
        ("repo", "fullname", None, "Field 'repo.fullname' must be a string."),
        # Then our rules for what reaches a path, a subprocess or a column.
        ("repo", "name", "../etc", "Field 'repo.name' must be a package name"),
        ("repo", "name", "vim\n", "Field 'repo.name' must be a package name"),
        ("repo", "namespace", "rpms/../x", "Field 'repo.namespace' must be a dist-git namespace"),
        ("body", "end_commit", "HEAD", "Field 'end_commit' must be 40 hexadecimal digits"),
        ("body", "end_commit", "a" * 41, "Field 'end_commit' must be 40 hexadecimal digits"),
        ("body", "branch", "f26; reboot", "Field 'branch' must be a branch name"),
        ("body", "branch", "-f26", "Field 'branch' must be a branch name"),
    ],
)
def test_broken_fields_are_named(where: str, field: str, value: Any, reason: str) -> None:
    body = copy.deepcopy(PUSH)
    (body if where == "body" else body["repo"])[field] = value
    with pytest.raises(SchemaViolation) as caught:
        parse(body)
    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize("field", sorted(GitReceiveV1.body_schema["required"]))
def test_every_field_pagures_schema_requires_is_required(field: str) -> None:
    body = copy.deepcopy(PUSH)
    del body[field]
    with pytest.raises(SchemaViolation, match=rf"^Field '{field}' is missing\.$"):
        parse(body)


def test_a_body_that_is_not_an_object_is_one_sentence() -> None:
    with pytest.raises(SchemaViolation, match=r"^The Pagure git\.receive body must be a JSON object\.$"):
        parse([PUSH])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
BODY_KEYS = [*PUSH, "extra"]
REPO_KEYS = [*PUSH["repo"], "extra"]


def _parse_or_refuse(body: Any) -> GitPush | None:
    try:
        return parse(body)
    except MessageError as exc:
        assert str(exc).endswith(".") and "\n" not in str(exc)
        return None


def _pagure_accepts(body: Any) -> bool:
    try:
        GitReceiveV1(topic=TOPIC, body=body).validate()
    except jsonschema.ValidationError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(
    where=st.sampled_from(["body", "repo", "author"]),
    key=st.sampled_from(sorted({*BODY_KEYS, *REPO_KEYS})),
    value=JSON_VALUES,
    delete=st.booleans(),
)
def test_mutated_pagure_pushes_parse_only_when_pagure_and_our_rules_accept_them(
    where: str, key: str, value: Any, delete: bool
) -> None:
    body = copy.deepcopy(PUSH)
    target = {"body": body, "repo": body["repo"], "author": body["authors"][0]}[where]
    if delete:
        target.pop(key, None)
    else:
        target[key] = value
    push = _parse_or_refuse(body)
    if push is not None:
        # Whatever we accept, the message class of pagure-messages accepts too.
        assert _pagure_accepts(body)
        assert len(push.rev) == 40 and push.rev == push.rev.lower()
        assert push.repo == body["repo"]["name"] and push.namespace == body["repo"]["namespace"]


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_arbitrary_json_as_a_pagure_body_only_ever_raises_message_errors(document: Any) -> None:
    assert _parse_or_refuse(document) is None or _pagure_accepts(document)


@settings(max_examples=200, deadline=None)
@given(
    repo=push_field_values("repo"),
    rev=st.from_regex(r"[0-9a-fA-F]{40}", fullmatch=True).filter(lambda rev: set(rev) != {"0"}),
    branch=push_field_values("branch"),
    namespace=push_field_values("namespace"),
    full_ref=st.booleans(),
    owner=st.sampled_from(["", "forks/alice/"]),
)
def test_every_valid_pagure_push_parses_to_its_own_fields(
    repo: str, rev: str, branch: str, namespace: str, full_ref: bool, owner: str
) -> None:
    body = copy.deepcopy(PUSH)
    body.update(end_commit=rev, branch=f"refs/heads/{branch}" if full_ref else branch)
    body["repo"].update(name=repo, namespace=namespace, fullname=f"{owner}{namespace}/{repo}")
    assert _pagure_accepts(body)
    push = parse(body)
    assert push.change == (repo, rev.lower(), namespace)
    assert push.branch == branch and push.is_fork == bool(owner)
