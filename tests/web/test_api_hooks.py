"""The webhook API on a served app: each forge's push decided as a bus push is, and every refusal."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from ci_pipeline.bus.base import Delivery
from ci_pipeline.config import Config
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Decision
from ci_pipeline.trigger import Trigger
from conftest import served_client
from webhooks.forge_events import REV, SECRET, github_push, gitlab_push, pagure_push, signed

EVENTS = {"github": github_push, "forgejo": github_push, "gitlab": gitlab_push, "pagure": pagure_push}


@pytest.fixture
def hooks_config(web_config: Config) -> Config:
    hooks = web_config.webhooks.model_copy(update={
        "github_secret": SECRET, "forgejo_secret": SECRET, "gitlab_token": SECRET, "pagure_secret": SECRET})
    return web_config.model_copy(update={"webhooks": hooks})


@pytest.fixture
def hooks(hooks_config: Config, sqlite_store: Store) -> Iterator[httpx.Client]:
    """A client of the served app, on an empty store, with every forge's secret set."""
    yield from served_client(hooks_config, sqlite_store, with_run=False)


def decisions(store: Store) -> list[tuple[str, str, str, str]]:
    with store.session() as session:
        rows = session.scalars(select(Decision).order_by(Decision.id)).all()
        return [(row.repo, row.rev, row.decision, row.msg_id) for row in rows]


@pytest.mark.parametrize("forge", sorted(EVENTS))
def test_a_push_queues_a_run_once_and_its_replay_is_refused(forge: str, hooks: httpx.Client,
                                                           sqlite_store: Store) -> None:
    body, headers = signed(forge, EVENTS[forge]())
    answer = hooks.post(f"/api/v1/hooks/{forge}", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == "queued" and answer.json()["run_id"]
    replay = hooks.post(f"/api/v1/hooks/{forge}", content=body, headers=headers)
    assert replay.status_code == 409 and "handled before" in replay.json()["detail"]
    assert decisions(sqlite_store) == [("vim", REV, "queued", answer.json()["delivery"])]


def test_a_webhook_push_and_a_bus_push_are_one_change(hooks: httpx.Client, hooks_config: Config,
                                                     sqlite_store: Store) -> None:
    body, headers = signed("github", github_push(ref="refs/heads/feature-x"))
    ignored = hooks.post("/api/v1/hooks/github", content=body, headers=headers).json()
    assert ignored["decision"] == "ignore" and "feature-x" in ignored["reason"]
    body, headers = signed("forgejo", github_push())
    assert hooks.post("/api/v1/hooks/forgejo", content=body, headers=headers).json()["decision"] == "queued"
    bus_push = make_git_receive(repo="vim", rev=REV, branch="f26")
    delivery = Delivery(1, bus_push["topic"], encode(bus_push), 0)
    Trigger(hooks_config, sqlite_store).handle_deliveries([delivery])
    assert [row[2] for row in decisions(sqlite_store)] == ["ignore", "queued", "ignore"]
    with sqlite_store.session() as session:
        last = session.scalars(select(Decision).order_by(Decision.id.desc())).first()
        assert last is not None and "already ran" in last.reason


@pytest.mark.parametrize(("forge", "change", "status", "words"), [
    ("github", {"X-Hub-Signature-256": "sha256=" + "0" * 64}, 401, "does not match"),
    ("gitlab", {"X-Gitlab-Token": "guess"}, 401, "not the configured"),
    ("forgejo", {"X-Forgejo-Event": "issues"}, 400, "only push events"),
    ("pagure", {"X-Pagure-Topic": "issue.new"}, 400, "only git.receive"),
    ("github", {"X-GitHub-Delivery": ""}, 400, "no delivery id"),
])
def test_refusals_are_clear_client_errors(forge: str, change: dict[str, str], status: int, words: str,
                                          hooks: httpx.Client, sqlite_store: Store) -> None:
    body, headers = signed(forge, EVENTS[forge]())
    answer = hooks.post(f"/api/v1/hooks/{forge}", content=body, headers={**headers, **change})
    assert answer.status_code == status and words in answer.json()["detail"]
    assert decisions(sqlite_store) == []


def test_bodies_that_are_no_push_are_400_and_bad_fields_422(hooks: httpx.Client) -> None:
    body, headers = signed("github", b"{not json")
    assert hooks.post("/api/v1/hooks/github", content=body, headers=headers).status_code == 400
    body, headers = signed("github", github_push(repo="../../etc"))
    answer = hooks.post("/api/v1/hooks/github", content=body, headers=headers)
    assert answer.status_code == 422 and "repo" in answer.json()["detail"]


def test_unknown_forges_and_pushes_with_nothing_to_build(hooks: httpx.Client) -> None:
    body, headers = signed("github", github_push(ref="refs/tags/v1"))
    tag = hooks.post("/api/v1/hooks/github", content=body, headers=headers).json()
    assert tag["decision"] is None and "not a branch" in tag["reason"]
    body, headers = signed("github", {"zen": "hi"}, kind="ping")
    assert hooks.post("/api/v1/hooks/github", content=body, headers=headers).json()["pong"] is True
    assert hooks.post("/api/v1/hooks/bitbucket", content=b"{}").status_code == 404


def test_a_forge_without_its_secret_is_off(client: httpx.Client) -> None:
    body, headers = signed("github", github_push())
    answer = client.post("/api/v1/hooks/github", content=body, headers=headers)
    assert answer.status_code == 403 and "github_secret" in answer.json()["detail"]
