"""``validate`` and ``publish`` read a Koji build message as the trigger does, on its build topics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_pipeline.cli import main

TAG_TOPIC = "org.fedoraproject.prod.buildsys.tag"
TAGGED = {"build_id": 2063370, "name": "vim", "version": "9.1.0", "release": "1.fc26",
          "tag": "f26-updates-candidate", "owner": "zdohnal"}


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh directory whose configuration takes Koji's tag messages."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CI_PIPELINE_STATE_DIR", str(tmp_path / "state"))
    (tmp_path / "ci-pipeline.toml").write_text(
        f'[fedora_ci]\nbuild_topics = ["{TAG_TOPIC}"]\n'
        'build_repo_url = "file:///srv/builds/{name}/{version}/{release}"\n'
    )
    return tmp_path


def _message(tmp_path: Path, body: object) -> str:
    path = tmp_path / "message.json"
    path.write_text(json.dumps({"topic": TAG_TOPIC, "msg": body}))
    return str(path)


def test_a_tag_message_is_valid_and_can_be_published(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["validate", _message(tmp_path, TAGGED)]) == 0
    assert capsys.readouterr().out == f"valid: {TAG_TOPIC} (build vim-9.1.0-1.fc26)\n"
    assert main(["publish", _message(tmp_path, TAGGED)]) == 0
    assert capsys.readouterr().out.startswith(f"published {TAG_TOPIC}")
    assert main(["validate", _message(tmp_path, {**TAGGED, "tag": "f26-override"})]) == 0
    assert "starts no run" in capsys.readouterr().out


def test_a_malformed_tag_message_is_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["validate", _message(tmp_path, {**TAGGED, "name": "../etc"})]) == 1
    assert capsys.readouterr().err == "invalid: Field 'name' must be a package name.\n"
