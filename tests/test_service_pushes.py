"""Push messages as dist-git really sent them, end to end on the SQLite bus: ``publish``, then
``serve --until-idle``, then ``decisions`` and ``dead-letters`` say what became of each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci_pipeline.bus import open_bus
from ci_pipeline.cli import main
from ci_pipeline.config import load_config
from ci_pipeline.messages.envelope import encode, make_envelope

PUSHES_DIR = Path(__file__).resolve().parent / "data" / "pushes"
#: A one-stage pipeline whose build always succeeds: these tests are about what the trigger decides.
PIPELINE = '[[stage]]\nname = "build"\nrun = "true"\n'
CONFIG = """
[bus]
environment = "{environment}"
{topics}
[trigger]
packages = ["vim", "kernel"]
branches = "^(f[0-9]+|rawhide|master)$"
[pipeline]
file = "pipeline.toml"
"""


def configure(directory: Path, environment: str = "prod", topics: str = "") -> None:
    (directory / "pipeline.toml").write_text(PIPELINE)
    (directory / "ci-pipeline.toml").write_text(CONFIG.format(environment=environment, topics=topics))


@pytest.fixture(autouse=True)
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CI_PIPELINE_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    """Run one command; it must succeed. Its JSON lines, if it printed any."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def shipped(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((PUSHES_DIR / name).read_text("utf-8"))
    return document


def test_each_real_push_form_is_decided_end_to_end(capsys: pytest.CaptureFixture[str], here: Path) -> None:
    configure(here)
    for name in (
        "datagrepper-2015-git-receive-no-i.json",
        "datagrepper-2014-git-receive-no-msg-id.json",
        "per-repo-topic-git-receive.json",
        "pagure-git-receive.json",
        "pagure-git-receive-fork.json",
    ):
        cli(capsys, "publish", str(PUSHES_DIR / name))
    # The same Pagure push once more, as a body given with its topic: the same change, so ignored.
    pagure = shipped("pagure-git-receive.json")
    (here / "body.json").write_text(json.dumps(pagure["body"]))
    cli(capsys, "publish", "--topic", pagure["topic"], "body.json")

    cli(capsys, "serve", "--until-idle", "--no-web")

    decisions = cli(capsys, "decisions", "--json")
    found = [(d["repo"], d["rev"][:7], d["branch"], d["namespace"], d["decision"], d["ignore_cause"])
             for d in decisions]
    assert found == [
        ("vim", "3e9a1c5", "f22", "rpms", "queued", None),
        ("kernel", "9b2d6e4", "f21", "rpms", "queued", None),
        ("vim", "591b0d2", "f26", "rpms", "queued", None),
        ("vim", "b84f4a2", "rawhide", "rpms", "queued", None),
        ("vim", "e2a9c7b", "rawhide", "rpms", "ignore", "fork"),
        ("vim", "b84f4a2", "rawhide", "rpms", "ignore", "duplicate"),
    ]
    assert [d["msg_id"] for d in decisions[:2]] == ["2015-4c1f7e0d-8a2b-4f55-9d3e-6b7a1c2d3e4f", ""]
    assert "forks/ttomecek/rpms/vim" in decisions[4]["reason"]
    runs = cli(capsys, "runs", "--json")
    assert sorted((run["repo"], run["branch"], run["state"]) for run in runs) == [
        ("kernel", "f21", "complete"), ("vim", "f22", "complete"),
        ("vim", "f26", "complete"), ("vim", "rawhide", "complete"),
    ]
    assert cli(capsys, "dead-letters", "--json") == []


def test_a_stage_service_hears_fedoras_stg_pushes(capsys: pytest.CaptureFixture[str], here: Path) -> None:
    configure(here, environment="stage")
    for name in ("per-repo-topic-git-receive.json", "pagure-git-receive.json"):
        document = shipped(name)
        document["topic"] = document["topic"].replace(".prod.", ".stg.")
        (here / name).write_text(json.dumps(document))
        cli(capsys, "publish", name)
    prod = shipped("datagrepper-2015-git-receive-no-i.json")  # prod's topic: not this service's
    cli(capsys, "publish", str(PUSHES_DIR / "datagrepper-2015-git-receive-no-i.json"))

    cli(capsys, "serve", "--until-idle", "--no-web")

    decisions = cli(capsys, "decisions", "--json")
    assert [(d["branch"], d["decision"]) for d in decisions] == [("f26", "queued"), ("rawhide", "queued")]
    assert prod["msg"]["commit"]["rev"] not in {d["rev"] for d in decisions}


def test_a_wider_subscription_dead_letters_what_is_no_push(
    capsys: pytest.CaptureFixture[str], here: Path
) -> None:
    configure(here, topics='trigger_topics = ["org.fedoraproject.prod.*"]')
    bodhi = make_envelope("org.fedoraproject.prod.bodhi.update.comment", {"comment": {"text": "karma +1"}})
    bus = open_bus(load_config().bus.url)
    bus.publish(bodhi["topic"], encode(bodhi))
    bus.close()
    cli(capsys, "publish", str(PUSHES_DIR / "pagure-git-receive.json"))

    cli(capsys, "serve", "--until-idle", "--no-web")

    [dead] = cli(capsys, "dead-letters", "--json")
    assert dead["topic"] == bodhi["topic"]
    assert dead["reason"] == ("Topic 'org.fedoraproject.prod.bodhi.update.comment' is not a dist-git push"
                              " topic (git.receive, git.receive.<repo>.<branch> or pagure.git.receive).")
    [decision] = cli(capsys, "decisions", "--json")
    assert (decision["repo"], decision["branch"], decision["decision"]) == ("vim", "rawhide", "queued")
