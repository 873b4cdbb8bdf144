"""Reading each forge's push webhook: credentials, events, delivery ids, and the push's fields."""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from forge_events import REV, SECRET, github_push, gitlab_push, pagure_push, signed, signed_form
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from ci_pipeline.errors import MalformedMessage, MessageError, SchemaViolation, SignatureError, UnknownTopic
from ci_pipeline.webhooks.forges import FORGES
from ci_pipeline.webhooks.receive import Hook, form_payload, read_hook

EVENTS = {"github": github_push, "forgejo": github_push, "gitlab": gitlab_push, "pagure": pagure_push}


def read(forge: str, body: bytes, headers: dict[str, str], secret: str = SECRET) -> Hook:
    return read_hook(FORGES[forge], secret, "rpms", Headers(headers), body)


@pytest.mark.parametrize("forge", sorted(FORGES))
def test_a_signed_push_of_each_forge_is_the_pushed_head(forge: str) -> None:
    body, headers = signed(forge, EVENTS[forge]())
    hook = read(forge, body, headers)
    assert hook.push is not None
    pushed = (hook.push.repo, hook.push.rev, hook.push.branch, hook.push.namespace)
    assert pushed == ("vim", REV, "f26", "rpms")
    assert hook.push.username == "alice" and not hook.push.is_fork
    assert hook.delivery and hook.push.msg_id == hook.delivery


@pytest.mark.parametrize("forge", sorted(FORGES))
def test_a_wrong_secret_or_a_changed_body_is_a_signature_error(forge: str) -> None:
    body, headers = signed(forge, EVENTS[forge](), secret="other")
    with pytest.raises(SignatureError):
        read(forge, body, headers)
    body, headers = signed(forge, EVENTS[forge]())
    if forge != "gitlab":  # GitLab's token does not cover the body
        with pytest.raises(SignatureError, match="does not match"):
            read(forge, body.replace(b"vim", b"vin"), headers)
    stripped = {k: v for k, v in headers.items() if "signature" not in k.lower() and "token" not in k.lower()}
    with pytest.raises(SignatureError, match="no X-"):
        read(forge, body, stripped)


@pytest.mark.parametrize("forge", sorted(FORGES))
def test_other_events_are_refused_by_name(forge: str) -> None:
    body, headers = signed(forge, {"action": "opened"}, kind="issues")
    with pytest.raises(UnknownTopic, match="'issues'"):
        read(forge, body, headers)


def test_github_ping_is_answered_without_a_body() -> None:
    body, headers = signed("github", {"zen": "Keep it logically awesome."}, kind="ping")
    assert read("github", body, headers).ping


@pytest.mark.parametrize(("forge", "event"), [
    ("github", github_push(ref="refs/tags/v1")),
    ("github", github_push(rev="0" * 40, deleted=True)),
    ("gitlab", gitlab_push(ref="refs/tags/v1")),
    ("forgejo", github_push(ref="refs/heads/f26", rev="0" * 40)),
])
def test_tags_and_deleted_branches_have_nothing_to_build(forge: str, event: dict[str, Any]) -> None:
    body, headers = signed(forge, event)
    hook = read(forge, body, headers)
    assert hook.push is None and "nothing to build" in hook.nothing_because


def test_a_push_to_a_fork_is_marked_as_one() -> None:
    event = github_push()
    event["repository"]["fork"] = True
    hook = read("github", *signed("github", event))
    assert hook.push is not None and hook.push.is_fork


@pytest.mark.parametrize("delivery", ["", "a b", "x" * 101, "../etc"])
def test_a_delivery_id_that_cannot_be_kept_is_refused(delivery: str) -> None:
    body, headers = signed("github", github_push())
    headers["X-GitHub-Delivery"] = delivery
    with pytest.raises(MalformedMessage, match="delivery id"):
        read("github", body, headers)


def test_fields_breaking_the_push_rules_are_schema_violations() -> None:
    with pytest.raises(SchemaViolation, match="repo"):
        read("github", *signed("github", github_push(repo="../../etc")))
    with pytest.raises(SchemaViolation, match="rev"):
        read("gitlab", *signed("gitlab", gitlab_push(rev="HEAD")))
    with pytest.raises(SchemaViolation):
        read("pagure", *signed("pagure", pagure_push(branch="-rf")))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FORGES)), st.one_of(st.binary(max_size=200), json_values.map(
    lambda value: json.dumps(value).encode())))
def test_any_signed_body_is_a_push_or_one_message_error(forge: str, body: bytes) -> None:
    body, headers = signed(forge, body)
    with contextlib.suppress(MessageError):
        read(forge, body, headers)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FORGES)), st.data())
def test_any_field_of_a_push_event_replaced_is_a_push_or_one_message_error(forge: str,
                                                                           data: st.DataObject) -> None:
    event = EVENTS[forge]()
    target = event["msg"] if forge == "pagure" else event
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(json_values)
    try:
        hook = read(forge, *signed(forge, event))
    except MessageError:
        return
    if hook.push is not None:
        assert hook.push.rev == hook.push.rev.lower() and len(hook.push.rev) == 40


@pytest.mark.parametrize("forge", ["github", "forgejo", "pagure"])
def test_a_form_encoded_delivery_is_the_same_push_as_its_json(forge: str) -> None:
    form, headers = signed_form(forge, EVENTS[forge]())
    hook = read(forge, form, headers)
    assert hook.push is not None
    assert (hook.push.repo, hook.push.rev, hook.push.branch) == ("vim", REV, "f26")
    # Older Pagure sends its form with a JSON content type header: the body decides, not the header.
    assert read(forge, form, {**headers, "Content-Type": "application/json"}).push == hook.push


@pytest.mark.parametrize("forge", ["github", "forgejo", "pagure"])
def test_a_form_whose_payload_changed_or_was_signed_with_another_secret_is_refused(forge: str) -> None:
    form, headers = signed_form(forge, EVENTS[forge]())
    with pytest.raises(SignatureError, match="does not match"):
        read(forge, form.replace(b"vim", b"vin"), headers)
    with pytest.raises(SignatureError):
        read(forge, *signed_form(forge, EVENTS[forge](), secret="other"))


@pytest.mark.parametrize("form", [
    b"payload=%7B%7D&other=1",          # a second field
    b"payload=%FF%FE",                  # percent-encoded bytes that are no UTF-8
    "payload=caf\u00e9".encode(),      # raw bytes that are no ASCII
    b"payload=%7B%7D&&",                # empty fields
])
def test_a_form_that_is_not_one_payload_field_is_malformed(form: bytes) -> None:
    with pytest.raises(MalformedMessage, match="one payload field"):
        form_payload(form)


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=300))
def test_a_form_payload_is_read_back_as_the_exact_bytes_encoded(text: str) -> None:
    assert form_payload(urlencode({"payload": text.encode()}).encode()) == text.encode()


def test_a_json_body_is_no_form() -> None:
    assert form_payload(json.dumps({"payload": 1}).encode()) is None


def test_a_push_of_many_commits_larger_than_a_bus_message_is_read() -> None:
    commits = [{"id": f"{n:040x}", "message": "Rebuild\n\n" + "x" * 600} for n in range(2048)]
    body, headers = signed("github", github_push(commits=commits))
    assert len(body) > 1024 * 1024
    hook = read("github", body, headers)
    assert hook.push is not None and hook.push.rev == REV
