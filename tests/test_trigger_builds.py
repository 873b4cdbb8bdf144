"""Koji and CI koji-build messages start runs for existing builds; malformed ones are dead-lettered."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ci_pipeline.bus.base import Delivery
from ci_pipeline.config import Config
from ci_pipeline.engine import transitions as t
from ci_pipeline.engine.definition import default_pipeline
from ci_pipeline.errors import MessageError
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.koji_build import NotForUs, Origin, parse_build_message
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import DeadLetter, Decision, OutboxMessage, Run
from ci_pipeline.trigger import Trigger

REV = "591b0d2fc67a45e4ad13bdc3e312d5554852426a"
TAG_TOPIC = "org.fedoraproject.prod.buildsys.tag"
STATE_TOPIC = "org.fedoraproject.prod.buildsys.build.state.change"
CI_TOPIC = "org.centos.prod.ci.koji-build.test.queued"
NVR = {"name": "vim", "version": "9.1.0", "release": "1.fc26"}
TAGGED = {"build_id": 2063370, **NVR, "tag": "f26-updates-candidate", "owner": "zdohnal", "tag_id": 1,
          "instance": "primary", "user": "bodhi"}
COMPLETED = {"build_id": 2063370, "task_id": 118000111, **NVR, "owner": "zdohnal", "new": 1, "old": 0,
             "attribute": "state", "instance": "primary", "epoch": None}
CI_BODY = {
    "contact": {"name": "Another CI", "team": "t", "docs": "https://d", "email": "a@b"},
    "artifact": {"type": "koji-build", "id": 118000111, "component": "vim", "nvr": "vim-9.1.0-1.fc26",
                 "issuer": "zdohnal", "scratch": False,
                 "source": f"git+https://src.fedoraproject.org/rpms/vim.git#{REV}"},
}


def _distgit(root: Path) -> str:
    """A dist-git repository of vim with a branch f26; returns the branch's head."""
    work, bare = root / "work", root / "git" / "rpms" / "vim.git"
    env = {**os.environ, "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@b", "GIT_CONFIG_NOSYSTEM": "1"}
    for argv in (["git", "init", "-q", "--bare", str(bare)], ["git", "init", "-q", str(work)]):
        subprocess.run(argv, check=True, env=env)
    (work / "vim.spec").write_text("Name: vim\n")
    push = ["git", "push", "-q", str(bare), "HEAD:f26"]
    for argv in (["git", "add", "-A"], ["git", "commit", "-qm", "x"], push):
        subprocess.run(argv, cwd=work, check=True, env=env)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, check=True, env=env, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def builds_config(config: Config, tmp_path: Path) -> Config:
    return Config.model_validate({
        **config.model_dump(),
        "trigger": {**config.trigger.model_dump(), "packages": ["vim"]},
        "distgit": {"url": f"file://{tmp_path}/git/{{namespace}}/{{repo}}.git"},
        "bus": {**config.bus.model_dump(), "formats": ["ci-pipeline", "fedora-ci"]},
        "fedora_ci": {"build_topics": [TAG_TOPIC, STATE_TOPIC, "org.centos.prod.ci.koji-build.*"],
                      "build_repo_url": "https://kojipkgs.example/repos/{name}/{version}/{release}/{arch}/"},
    })


def _delivery(topic: str, body: Any, *, envelope: bool = True) -> Delivery:
    msg_id = "2026-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    document = {"topic": topic, "msg": body, "msg_id": msg_id} if envelope else body
    return Delivery(position=1, topic=topic, payload=json.dumps(document).encode(), published_at=0.0)


def _rows(store: Store, model: Any) -> list[Any]:
    with store.session() as session:
        return list(session.scalars(select(model)).all())


def test_a_tagged_build_starts_a_run_for_it_at_its_branch_head(
    builds_config: Config, sqlite_store: Store, tmp_path: Path
) -> None:
    head = _distgit(tmp_path)
    assert Trigger(builds_config, sqlite_store).handle_deliveries([_delivery(TAG_TOPIC, TAGGED)]) == (1, 0)
    [run] = _rows(sqlite_store, Run)
    assert (run.repo, run.rev, run.branch) == ("vim", head, "f26")
    assert run.options == {"existing_build": "true"}
    assert run.fields["nvr"] == "vim-9.1.0-1.fc26"
    assert run.fields["build_repo_url"] == "https://kojipkgs.example/repos/vim/9.1.0/1.fc26/x86_64/"
    assert (run.fields["koji_build_id"], run.fields["rpms"]) == ("2063370", "vim")
    assert run.fields["koji_owner"] == "zdohnal"
    [decision] = _rows(sqlite_store, Decision)
    assert decision.decision == "queued" and "existing build vim-9.1.0-1.fc26" in decision.reason
    # No build stage runs, so nothing announces one.
    assert _rows(sqlite_store, OutboxMessage) == []
    with sqlite_store.session() as session:
        stored = session.get(Run, run.id)
        assert stored is not None
        rows = t.initialize_stages(session, stored, default_pipeline())
        assert (rows[0].stage, rows[0].state) == ("build", "skipped")
        assert "exists already" in rows[0].reason and rows[1].state == "pending"


def test_a_completed_build_and_a_ci_message_start_runs_too(
    builds_config: Config, sqlite_store: Store, tmp_path: Path
) -> None:
    _distgit(tmp_path)
    trigger = Trigger(builds_config, sqlite_store)
    assert trigger.handle_deliveries([_delivery(STATE_TOPIC, COMPLETED)]) == (1, 0)
    dump = _delivery(CI_TOPIC, {"topic": CI_TOPIC, "body": CI_BODY}, envelope=False)
    assert trigger.handle_deliveries([dump]) == (1, 0)
    first, second = _rows(sqlite_store, Run)
    assert first.fields["koji_task_id"] == "118000111"
    # The CI message names the build's commit itself: no dist-git look-up.
    assert second.rev == REV and second.fields["koji_task_id"] == "118000111"


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        (TAG_TOPIC, {**TAGGED, "tag": "f26-override"}),
        (STATE_TOPIC, {**COMPLETED, "new": 3}),
        (CI_TOPIC, {**CI_BODY, "contact": {**CI_BODY["contact"], "name": "ci-pipeline"}}),
    ],
)
def test_messages_that_ask_for_no_run_are_acknowledged_quietly(
    builds_config: Config, sqlite_store: Store, topic: str, body: Any
) -> None:
    assert Trigger(builds_config, sqlite_store).handle_deliveries([_delivery(topic, body)]) == (0, 0)
    assert _rows(sqlite_store, Run) == [] and _rows(sqlite_store, DeadLetter) == []


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        (TAG_TOPIC, {**TAGGED, "name": "../../etc"}, "Field 'name' must be a package name"),
        (TAG_TOPIC, {**TAGGED, "name": "-rf"}, "Field 'name'"),
        (TAG_TOPIC, {**TAGGED, "version": "1 2"}, "Field 'version'"),
        (TAG_TOPIC, {**TAGGED, "release": "1.fc26\n"}, "Field 'release'"),
        (TAG_TOPIC, {**TAGGED, "tag": "$(reboot)"}, "Field 'tag'"),
        (TAG_TOPIC, {**TAGGED, "build_id": "12"}, "Field 'build_id' must be a positive integer"),
        (STATE_TOPIC, {**COMPLETED, "release": "1"}, "names no dist-git branch"),
        (STATE_TOPIC, {**COMPLETED, "new": "1"}, "Field 'new'"),
        (STATE_TOPIC, {**COMPLETED, "task_id": True}, "Field 'task_id'"),
        (CI_TOPIC, {**CI_BODY, "artifact": {"type": "brew-build"}}, "koji-build artifact"),
        (CI_TOPIC, {**CI_BODY, "artifact": {**CI_BODY["artifact"], "component": "emacs"}}, "the NVR's name"),
        (CI_TOPIC, {**CI_BODY, "artifact": {**CI_BODY["artifact"], "scratch": "no"}}, "scratch"),
        (TAG_TOPIC, ["not", "an", "object"], "not a JSON object"),
    ],
)
def test_malformed_build_messages_are_dead_lettered_with_the_reason(
    builds_config: Config, sqlite_store: Store, topic: str, body: Any, reason: str
) -> None:
    assert Trigger(builds_config, sqlite_store).handle_deliveries([_delivery(topic, body)]) == (0, 1)
    [dead] = _rows(sqlite_store, DeadLetter)
    assert reason in dead.reason
    assert _rows(sqlite_store, Run) == []


def test_a_branch_missing_from_dist_git_is_dead_lettered(builds_config: Config, sqlite_store: Store) -> None:
    assert Trigger(builds_config, sqlite_store).handle_deliveries([_delivery(TAG_TOPIC, TAGGED)]) == (0, 1)
    assert "has no branch f26" in _rows(sqlite_store, DeadLetter)[0].reason


def test_a_build_of_an_untracked_package_is_ignored_with_the_reason(
    builds_config: Config, sqlite_store: Store, tmp_path: Path
) -> None:
    _distgit(tmp_path)
    untracked = builds_config.model_copy(
        update={"trigger": builds_config.trigger.model_copy(update={"packages": ["emacs"]})}
    )
    assert Trigger(untracked, sqlite_store).handle_deliveries([_delivery(TAG_TOPIC, TAGGED)]) == (1, 0)
    [decision] = _rows(sqlite_store, Decision)
    assert decision.decision == "ignore" and "not part of the tracked OS" in decision.reason


body_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30),
                        st.lists(st.text(max_size=5), max_size=3))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    topic=st.sampled_from([TAG_TOPIC, STATE_TOPIC, CI_TOPIC]),
    changes=st.dictionaries(
        st.sampled_from(["name", "version", "release", "tag", "build_id", "task_id", "new", "owner",
                         "artifact"]),
        body_values, max_size=4,
    ),
)
def test_any_build_message_is_read_or_refused_in_one_sentence(
    builds_config: Config, topic: str, changes: dict[str, Any]
) -> None:
    base = {TAG_TOPIC: TAGGED, STATE_TOPIC: COMPLETED, CI_TOPIC: CI_BODY}[topic]
    payload = encode({"topic": topic, "msg": {**base, **changes}})
    try:
        build = parse_build_message(payload, topic, builds_config)
    except (MessageError, NotForUs) as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert build.origin in (Origin.TAG, Origin.STATE_CHANGE, Origin.CI)
    for value in (build.name, build.version, build.release, build.tag, build.owner):
        assert not value.startswith("-") and not any(c.isspace() for c in value)
        assert ".." not in value.split("/")
