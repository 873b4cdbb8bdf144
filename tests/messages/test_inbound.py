"""Parsing dist-git pushes: the accepted forms, every refusal a MessageError, fuzzed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_pipeline.errors import MalformedMessage, MessageError, SchemaViolation, UnknownTopic
from ci_pipeline.messages.envelope import MAX_PAYLOAD_BYTES, encode, make_envelope
from ci_pipeline.messages.fields import GIT_RECEIVE_SUFFIX
from ci_pipeline.messages.inbound import GitPush, make_git_receive, parse_git_receive
from ci_pipeline.messages.push_topics import PushKind, push_kind
from ci_pipeline.messages.schema import validate_envelope
from messages.strategies import push_field_values

SEED_REV = "81e09b9c83e8550b54a64c7bdb4e5d7b534df058"


def _payload(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")


def _fedora_messaging_body(seed_envelope: dict[str, Any]) -> dict[str, Any]:
    commit = {key: value for key, value in seed_envelope["msg"]["commit"].items() if key != "agent"}
    commit.update(patch="diff --git ...", date="2017-04-28T13:29:43+00:00", url=None)
    return {"agent": "trasher", "commit": commit}


@pytest.fixture
def seed_push(seed_envelopes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return copy.deepcopy(seed_envelopes["git.receive"])


def _assert_is_the_seed_push(push: GitPush) -> None:
    assert push.change == ("php-simplepie", SEED_REV, "rpms")
    assert (push.branch, push.username, push.agent) == ("f24", "trasher", "trasher")
    assert push.summary == "Last upstream release"
    assert push.path == "/srv/git/repositories/rpms/php-simplepie.git"
    assert not push.is_fork


def test_the_seed_fedmsg_envelope_parses(seed_push: dict[str, Any]) -> None:
    push = parse_git_receive(_payload(seed_push))
    _assert_is_the_seed_push(push)
    assert push.msg_id == "2017-b29fa2b4-0600-4f08-9475-5f82f6684bd4"
    assert push.topic == "org.fedoraproject.prod.git.receive"


def test_the_bare_commit_body_parses(seed_push: dict[str, Any]) -> None:
    push = parse_git_receive(_payload(seed_push["msg"]))
    _assert_is_the_seed_push(push)
    assert push.msg_id == "" and push.topic == ""


def test_a_fedora_messaging_body_parses(seed_push: dict[str, Any]) -> None:
    push = parse_git_receive(_payload(_fedora_messaging_body(seed_push)))
    _assert_is_the_seed_push(push)


def test_a_fedora_messaging_message_dump_parses(seed_push: dict[str, Any]) -> None:
    dump = {
        "topic": "org.fedoraproject.prod.git.receive",
        "id": "7f9d6e3a-1111-4c6b-9a57-0d1f1b0c2f11",
        "headers": {"fedora_messaging_schema": "git.receive"},
        "body": _fedora_messaging_body(seed_push),
        "queue": None,
    }
    push = parse_git_receive(_payload(dump))
    _assert_is_the_seed_push(push)
    assert push.msg_id == dump["id"]


def test_a_push_without_namespace_is_in_rpms_and_revs_are_lowercased(seed_push: dict[str, Any]) -> None:
    commit = seed_push["msg"]["commit"]
    commit["namespace"] = None
    commit["rev"] = SEED_REV.upper()
    push = parse_git_receive(_payload(seed_push["msg"]))
    assert (push.namespace, push.rev) == ("rpms", SEED_REV)
    del commit["namespace"], commit["path"], commit["agent"]
    push = parse_git_receive(_payload(seed_push["msg"]))
    assert (push.namespace, push.path, push.agent) == ("rpms", "", "trasher")


def test_a_push_to_a_fork_is_recognised(seed_push: dict[str, Any]) -> None:
    seed_push["msg"]["commit"]["path"] = "/srv/git/repositories/forks/trasher/rpms/php-simplepie.git"
    assert parse_git_receive(_payload(seed_push)).is_fork


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("repo", "..", "Field 'commit.repo' must be a package name"),
        ("repo", ".", "Field 'commit.repo' must be a package name"),
        ("repo", "../etc", "Field 'commit.repo' must be a package name"),
        ("repo", "vim\n", "Field 'commit.repo' must be a package name"),
        ("repo", "", "Field 'commit.repo' must be a package name"),
        ("repo", 7, "Field 'commit.repo' must be a string."),
        ("rev", "81e09b9", "Field 'commit.rev' must be 40 hexadecimal digits"),
        ("rev", "g" * 40, "Field 'commit.rev' must be 40 hexadecimal digits"),
        ("rev", SEED_REV + "0", "Field 'commit.rev' must be 40 hexadecimal digits"),
        ("branch", "-f24", "Field 'commit.branch' must be a branch name"),
        ("branch", "f24; rm -rf /", "Field 'commit.branch' must be a branch name"),
        ("branch", "f" * 101, "Field 'commit.branch' must be a branch name"),
        ("namespace", "rpms/../x", "Field 'commit.namespace' must be a dist-git namespace"),
        ("path", ["/srv"], "Field 'commit.path' must be a string."),
        ("username", None, "Field 'commit.username' must be a string."),
    ],
)
def test_unsafe_or_mistyped_fields_are_refused_by_name(
    seed_push: dict[str, Any], field: str, value: Any, reason: str
) -> None:
    seed_push["msg"]["commit"][field] = value
    with pytest.raises(SchemaViolation) as caught:
        parse_git_receive(_payload(seed_push))
    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize("field", ["repo", "rev", "branch"])
def test_a_missing_commit_field_is_named(seed_push: dict[str, Any], field: str) -> None:
    del seed_push["msg"]["commit"][field]
    with pytest.raises(SchemaViolation, match=f"^Field 'commit.{field}' is missing"):
        parse_git_receive(_payload(seed_push))


def test_messages_that_are_not_pushes_are_refused(seed_push: dict[str, Any]) -> None:
    with pytest.raises(SchemaViolation, match="Field 'commit' is missing"):
        parse_git_receive(b'{"repo": "vim"}')
    with pytest.raises(UnknownTopic, match="not a dist-git push"):
        parse_git_receive(_payload(dict(seed_push, topic="org.centos.prod.ci.pipeline.package.queued")))
    with pytest.raises(UnknownTopic):
        parse_git_receive(_payload(dict(seed_push, topic="org.fedoraproject.prod.buildsys.tag")))
    with pytest.raises(UnknownTopic):
        parse_git_receive(_payload({"topic": "org.fedoraproject.prod.bodhi.update", "body": {}}))
    with pytest.raises(SchemaViolation, match="must be strings"):
        parse_git_receive(_payload({"topic": 5, "body": {}}))
    with pytest.raises(MalformedMessage, match="more than"):
        parse_git_receive(b" " * (MAX_PAYLOAD_BYTES + 1))


def test_make_git_receive_builds_the_seed_form_and_parses_back() -> None:
    rev = "591b0d2fc67a45e4ad13bdc3e312d5554852426a"
    envelope = make_git_receive(repo="vim", rev=rev, branch="f26", username="alice", summary="Fix it")
    assert validate_envelope(envelope) == "git.receive"
    assert "crypto" not in envelope and envelope["topic"] == "org.fedoraproject.prod.git.receive"
    push = parse_git_receive(encode(envelope))
    assert push.change == ("vim", rev, "rpms")
    assert (push.branch, push.username, push.agent, push.summary) == ("f26", "alice", "alice", "Fix it")
    assert push.path == "/srv/git/repositories/rpms/vim.git"
    assert push.msg_id == envelope["msg_id"]


def test_make_git_receive_refuses_unsafe_values() -> None:
    with pytest.raises(SchemaViolation, match=r"Field 'commit\.repo'"):
        make_git_receive(repo="../vim", rev="a" * 40, branch="f26")
    with pytest.raises(UnknownTopic):
        make_git_receive(repo="vim", rev="a" * 40, branch="f26", topic="org.centos.prod.ci.pipeline.complete")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def _parse_or_refuse(payload: bytes) -> GitPush | None:
    try:
        return parse_git_receive(payload)
    except MessageError as exc:
        assert str(exc).endswith(".") and "\n" not in str(exc)
        return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_message_errors(payload: bytes) -> None:
    _parse_or_refuse(payload)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_arbitrary_json_only_ever_raises_message_errors(document: Any) -> None:
    _parse_or_refuse(_payload(document))


@settings(max_examples=300, deadline=None)
@given(
    where=st.sampled_from(["envelope", "msg", "commit"]),
    key=st.sampled_from(
        ["repo", "rev", "branch", "namespace", "path", "username", "agent", "summary", "msg", "topic",
         "commit", "msg_id", "i", "timestamp", "stats", "seen", "extra"]
    ),
    value=JSON_VALUES,
    delete=st.booleans(),
)
def test_mutated_pushes_parse_or_raise_message_errors(
    seed_envelopes: dict[str, dict[str, Any]], where: str, key: str, value: Any, delete: bool
) -> None:
    envelope = copy.deepcopy(seed_envelopes["git.receive"])
    target = {"envelope": envelope, "msg": envelope["msg"], "commit": envelope["msg"]["commit"]}[where]
    if delete:
        target.pop(key, None)
    else:
        target[key] = value
    push = _parse_or_refuse(_payload(envelope))
    if push is not None:
        assert push.rev == push.rev.lower() and len(push.rev) == 40


@settings(max_examples=200, deadline=None)
@given(
    repo=push_field_values("repo"),
    rev=st.from_regex(r"[0-9a-f]{40}", fullmatch=True),
    branch=push_field_values("branch"),
    namespace=push_field_values("namespace"),
    summary=st.text(max_size=40),
)
def test_every_valid_push_parses_to_its_own_fields(
    repo: str, rev: str, branch: str, namespace: str, summary: str
) -> None:
    envelope = make_git_receive(repo=repo, rev=rev, branch=branch, namespace=namespace, summary=summary)
    for payload in (encode(envelope), _payload(envelope["msg"])):
        push = parse_git_receive(payload)
        assert push.change == (repo, rev, namespace)
        assert (push.branch, push.summary) == (branch, summary)


PUSHES_DIR = Path(__file__).resolve().parents[1] / "data" / "pushes"


def pushes_file(name: str) -> dict[str, Any]:
    """One of the real-shaped push messages in tests/data/pushes."""
    document: dict[str, Any] = json.loads((PUSHES_DIR / name).read_text("utf-8"))
    return document


#: Each shipped push message and what it announces: (repo, rev prefix, branch, fork, msg_id).
PUSH_FILES = {
    "datagrepper-2015-git-receive-no-i.json":
        ("vim", "3e9a1c5", "f22", False, "2015-4c1f7e0d-8a2b-4f55-9d3e-6b7a1c2d3e4f"),
    "datagrepper-2014-git-receive-no-msg-id.json": ("kernel", "9b2d6e4", "f21", False, ""),
    "per-repo-topic-git-receive.json":
        ("vim", "591b0d2", "f26", False, "2017-6e1e4b1a-2f3d-4a8c-b1d2-5a9c7e3f0b12"),
    "pagure-git-receive.json": ("vim", "b84f4a2", "rawhide", False, "3b8f5a2c-7d1e-4f6a-9b0c-2e4d6f8a1c3e"),
    "pagure-git-receive-fork.json":
        ("vim", "e2a9c7b", "rawhide", True, "8d2e4f6a-1b3c-4d5e-8f7a-9b0c1d2e3f4a"),
}


@pytest.mark.parametrize("name", sorted(PUSH_FILES))
def test_each_real_shaped_push_parses_to_its_change(name: str) -> None:
    document = pushes_file(name)
    repo, rev, branch, fork, msg_id = PUSH_FILES[name]
    push = parse_git_receive(_payload(document))
    assert (push.repo, push.rev[:7], push.branch, push.namespace) == (repo, rev, branch, "rpms")
    assert (push.is_fork, push.msg_id, push.topic) == (fork, msg_id, document["topic"])
    assert push.rev == push.rev.lower() and len(push.rev) == 40


@pytest.mark.parametrize("name", sorted(PUSH_FILES))
def test_each_form_parses_on_fedoras_stg_topics_too(name: str) -> None:
    document = pushes_file(name)
    document["topic"] = document["topic"].replace("org.fedoraproject.prod.", "org.fedoraproject.stg.")
    push = parse_git_receive(_payload(document), topic=document["topic"])
    assert push.topic.startswith("org.fedoraproject.stg.") and push.repo == PUSH_FILES[name][0]


def test_archived_envelopes_need_only_their_body() -> None:
    dump = pushes_file("datagrepper-2015-git-receive-no-i.json")
    assert "i" not in dump
    for key in ("msg_id", "timestamp", "crypto", "signature", "certificate", "source_name", "username"):
        del dump[key]
    dump["meta"] = {"usernames": ["karsten"], "packages": ["vim"]}  # datagrepper's meta=... addition
    assert parse_git_receive(_payload(dump)).change[0] == "vim"
    dump["msg_id"] = None
    assert parse_git_receive(_payload(dump)).msg_id == ""


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("i", -1, "Field 'i' must be a non-negative integer"),
        ("timestamp", "yesterday", "Field 'timestamp' must be a number."),
        ("msg_id", "not-an-id", "Field 'msg_id' must be <year>-<uuid>"),
        ("msg", [], "Field 'msg' must be a JSON object."),
        ("topic", 7, "Field 'topic' must be a string."),
        ("crypto", "rot13", "Field 'crypto' must be x509 or gpg"),
    ],
)
def test_what_an_archived_envelope_carries_is_still_checked(key: str, value: Any, reason: str) -> None:
    dump = pushes_file("datagrepper-2015-git-receive-no-i.json")
    dump[key] = value
    with pytest.raises(SchemaViolation) as caught:
        parse_git_receive(_payload(dump))
    assert str(caught.value).startswith(reason)


def test_an_envelope_without_its_body_says_so() -> None:
    dump = pushes_file("datagrepper-2015-git-receive-no-i.json")
    del dump["msg"]
    with pytest.raises(SchemaViolation, match=r"^Field 'msg' is missing: the envelope carries no"):
        parse_git_receive(_payload(dump))


def test_our_outbound_envelope_contract_stays_strict() -> None:
    with pytest.raises(SchemaViolation, match="Field 'i' is missing"):
        validate_envelope(pushes_file("datagrepper-2015-git-receive-no-i.json"))
    legacy = pushes_file("per-repo-topic-git-receive.json")
    assert validate_envelope(legacy) == GIT_RECEIVE_SUFFIX
    with pytest.raises(UnknownTopic):
        validate_envelope(dict(legacy, topic="org.fedoraproject.prod.pagure.git.receive"))


@pytest.mark.parametrize(
    "topic",
    [
        "org.fedoraproject.prod.git.receive.perl-Moose.f26",
        "org.fedoraproject.prod.git.receive.libsigc++.master",
        "org.fedoraproject.prod.git.receive.python-zope.interface.epel7",
        "org.fedoraproject.stg.git.receive.vim.f26",
    ],
)
def test_per_repo_topics_spell_packages_as_dist_git_does(topic: str) -> None:
    assert push_kind(topic) is PushKind.PER_REPO
    legacy = pushes_file("per-repo-topic-git-receive.json")
    assert parse_git_receive(_payload(dict(legacy, topic=topic))).topic == topic


@pytest.mark.parametrize(
    "topic",
    [
        "org.fedoraproject.prod.bodhi.update.comment",
        "org.fedoraproject.prod.git.receive.",
        "org.fedoraproject.prod.git.receive.vim",
        "org.fedoraproject.prod.git.receive.vim.f26;reboot",
        "org.fedoraproject.prod.pagure.git.branch.creation",
        "org.fedoraproject.prod.pagure.git.receive.vim",
        "org.fedoraproject.prod." + "git." * 64 + "receive",
    ],
)
def test_topics_that_announce_no_push_are_refused_by_name(topic: str) -> None:
    assert push_kind(topic) is None
    legacy = pushes_file("per-repo-topic-git-receive.json")
    with pytest.raises(UnknownTopic, match="is not a dist-git push topic"):
        parse_git_receive(_payload(dict(legacy, topic=topic)))
    with pytest.raises(UnknownTopic, match="is not a dist-git push topic"):
        parse_git_receive(_payload(legacy["msg"]), topic=topic)


def test_a_bare_body_is_read_by_the_topic_it_came_on_or_else_by_its_shape() -> None:
    pagure = pushes_file("pagure-git-receive.json")
    for topic in (pagure["topic"], ""):
        push = parse_git_receive(_payload(pagure["body"]), topic=topic)
        assert (push.repo, push.branch, push.topic) == ("vim", "rawhide", topic)
    # A Pagure body on a fedmsg git.receive topic lacks the seed's commit, and says so.
    with pytest.raises(SchemaViolation, match="Field 'commit' is missing"):
        parse_git_receive(_payload(pagure["body"]), topic="org.fedoraproject.prod.git.receive")
    # A fedmsg body on the Pagure topic is named by what Pagure's schema misses.
    legacy = pushes_file("per-repo-topic-git-receive.json")
    with pytest.raises(SchemaViolation, match=r"^Field '[a-z_]+' is missing"):
        parse_git_receive(_payload(legacy["msg"]), topic=pagure["topic"])


def test_pagure_messages_in_a_fedmsg_envelope_parse_like_the_dump() -> None:
    dump = pushes_file("pagure-git-receive.json")
    envelope = make_envelope(dump["topic"], dump["body"])
    push = parse_git_receive(encode(envelope))
    assert push.change == parse_git_receive(_payload(dump)).change
    assert push.msg_id == envelope["msg_id"]


def test_make_git_receive_refuses_the_pagure_topic() -> None:
    topic = pushes_file("pagure-git-receive.json")["topic"]
    with pytest.raises(UnknownTopic, match="Pagure"):
        make_git_receive(repo="vim", rev="a" * 40, branch="f26", topic=topic)
