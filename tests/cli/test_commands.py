"""The command line: each command end to end, and one clear sentence for every user mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ci_pipeline.cli import main
from ci_pipeline.config import load_config
from ci_pipeline.store.db import open_store
from ci_pipeline.store.models import Run

SEED_PUSH = "org.fedoraproject.prod.git.receive.json"
REV = "591b0d2fc67a45e4ad13bdc3e312d5554852426a"


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every command works in a fresh directory with its own state."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CI_PIPELINE_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_publish_serve_decisions_messages(capsys: pytest.CaptureFixture[str], seed_dir: Path) -> None:
    assert run(capsys, "publish", str(seed_dir / "messages" / SEED_PUSH))[0] == 0
    assert run(capsys, "serve", "--until-idle", "--no-web")[0] == 0
    code, out, _ = run(capsys, "decisions", "--json")
    [decision] = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and decision["repo"] == "php-simplepie" and decision["decision"] == "queued"
    code, out, _ = run(capsys, "messages", "--json", "--topic", "*.package.queued")
    [envelope] = [json.loads(line) for line in out.splitlines()]
    assert envelope["msg"]["repo"] == "php-simplepie" and envelope["msg"]["CI_NAME"] == "ci-pipeline-f24"


def test_publish_refuses_invalid_and_trigger_dedupes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"commit": {"repo": "vim;reboot", "rev": REV, "branch": "f26"}}))
    assert run(capsys, "publish", "--topic", "org.fedoraproject.prod.git.receive", str(body))[0] == 1
    code, out, _ = run(capsys, "trigger", "--repo", "vim", "--rev", REV, "--branch", "f26")
    assert code == 0 and out.startswith("queued: ")
    code, out, _ = run(capsys, "trigger", "--repo", "vim", "--rev", REV, "--branch", "f26")
    assert code == 0 and out.startswith("ignore: ") and "already ran" in out


def test_invalid_inbound_message_reaches_dead_letters(capsys: pytest.CaptureFixture[str]) -> None:
    from ci_pipeline.bus import open_bus

    bus = open_bus(load_config().bus.url)
    bus.publish("org.fedoraproject.prod.git.receive", b"{not json")
    bus.close()
    assert run(capsys, "serve", "--until-idle", "--no-web")[0] == 0
    code, out, _ = run(capsys, "dead-letters", "--json")
    [dead] = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and dead["payload"] == "{not json" and "not valid JSON" in dead["reason"]


def test_validate_reports_the_reason(
    capsys: pytest.CaptureFixture[str], seed_dir: Path, tmp_path: Path
) -> None:
    seed = seed_dir / "messages" / "org.centos.prod.ci.pipeline.image.complete.json"
    assert run(capsys, "validate", str(seed))[0] == 0
    broken = json.loads(seed.read_text())
    del broken["msg"]["nvr"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    code, _, err = run(capsys, "validate", str(path))
    assert code == 1 and "nvr" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["bogus"], "invalid choice"),
        ([], "Name a command"),
        (["trigger", "--repo", "vim", "--rev", "HEAD", "--branch", "f26"], "40 hexadecimal"),
        (["trigger", "--repo", "../x", "--rev", REV, "--branch", "f26"], "repo"),
        (["trigger", "--repo=--upload-pack=touch /tmp/x", "--rev", REV, "--branch", "f26"], "'commit.repo'"),
        (["trigger", "--repo", "vim", "--rev", REV, "--branch=-f26"], "'commit.branch'"),
        (["trigger", "--repo", "vim", "--rev", REV, "--branch", "f26", "--namespace=-x"], "namespace"),
        (["trigger", "--repo", "vim", "--rev", REV, "--branch", "f" + "9" * 99], "made from the branch"),
        (["publish", "/nonexistent/file.json"], "Cannot read"),
        (["--config", "/nonexistent.toml", "decisions"], "does not exist"),
        (["trigger", "--repo", "vim"], "required"),
    ],
)
def test_user_mistakes_are_one_sentence_without_traceback(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_installed_command_runs(state: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ci_pipeline", "decisions"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_trigger_takes_run_options(capsys: pytest.CaptureFixture[str]) -> None:
    vim = ["trigger", "--repo", "vim", "--rev", REV, "--branch", "f26"]
    code, out, _ = run(capsys, *vim, "--force-image", "--option", "e2e_machines=3")
    assert code == 0 and out.startswith("queued: ")
    code, out, _ = run(capsys, "runs", "--json")
    [listed] = [json.loads(line) for line in out.splitlines()]
    store = open_store(load_config().store.url)
    with store.session() as session:
        run_row = session.get(Run, listed["id"])
        assert run_row is not None
        assert run_row.options == {"force_image": "true", "e2e_machines": "3"}
    store.close()
    code, _, err = run(capsys, *vim, "--force", "--option", "colour=blue")
    assert code == 2 and "unknown" in err


def test_a_cancel_from_the_command_line_is_shown_with_its_source(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "trigger", "--repo", "vim", "--rev", REV, "--branch", "f26")
    assert code == 0 and out.startswith("queued: ")
    [listed] = [json.loads(line) for line in run(capsys, "runs", "--json")[1].splitlines()]
    assert "cancel requested from" not in run(capsys, "runs", "show", str(listed["id"]))[1]
    assert run(capsys, "runs", "cancel", str(listed["id"]))[0] == 0
    code, out, _ = run(capsys, "runs", "show", str(listed["id"]), "--json")
    shown = json.loads(out)
    assert (shown["cancel_requested"], shown["cancel_source"]) == (True, "cli")
    code, out, _ = run(capsys, "runs", "show", str(listed["id"]))
    assert code == 0 and "cancel requested from: the command line" in out


PUSHES_DIR = Path(__file__).resolve().parents[1] / "data" / "pushes"


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("datagrepper-2015-git-receive-no-i.json", "git.receive"),
        ("per-repo-topic-git-receive.json", "git.receive.<repo>.<branch>"),
        ("pagure-git-receive.json", "pagure.git.receive"),
    ],
)
def test_validate_reads_pushes_as_the_trigger_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, form: str
) -> None:
    code, out, _ = run(capsys, "validate", str(PUSHES_DIR / name))
    assert code == 0 and out.strip().endswith(f"({form})")
    broken = json.loads((PUSHES_DIR / name).read_text())
    if "body" in broken:
        broken["body"]["repo"]["name"] = "../etc"
    else:
        broken["msg"]["commit"]["repo"] = "../etc"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    code, _, err = run(capsys, "validate", str(tmp_path / "broken.json"))
    assert code == 1 and "must be a package name" in err
