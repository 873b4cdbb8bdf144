"""The tmt command lines: the sandbox and SSH provision steps, checked before they reach tmt."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.roles._plugins.connection.sti_chroot import SANDBOX
from ci_pipeline.stages.tmt.command import (
    PLUGINS_DIR,
    SSH_OPTION_PREFIX,
    SshTarget,
    connect_environment,
    connect_provision,
    run_command,
    sandbox_provision,
)


def test_the_sandbox_step_names_the_tree_and_the_sti_sandbox(tmp_path: Path) -> None:
    assert sandbox_provision(tmp_path, ["bash", "/usr/bin/flock"]) == [
        "provision", "--how", "ci-pipeline-sandbox", "--root", str(tmp_path),
        "--sandbox", shlex.join(SANDBOX), "--installed", "bash /usr/bin/flock",
    ]
    assert "--installed" not in sandbox_provision(tmp_path)
    assert (PLUGINS_DIR / "provision_sandbox.py").is_file()


@pytest.mark.parametrize("installed", [["two words"], [""], ["a\nb"]])
def test_the_sandbox_step_refuses_requirements_with_spaces(tmp_path: Path, installed: list[str]) -> None:
    with pytest.raises(StageFailure, match="no name or has spaces"):
        sandbox_provision(tmp_path, installed)


def test_the_sandbox_step_needs_an_existing_absolute_tree(tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match="not a directory tree"):
        sandbox_provision(tmp_path / "missing")
    with pytest.raises(StageFailure, match="not a directory tree"):
        sandbox_provision(Path("relative"))


def test_the_connect_step_is_tmts_connect_through_ci_pipelines_plugin(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("key")
    assert connect_provision(SshTarget("192.0.2.7", 2222, "root", key)) == [
        "provision", "--how", "ci-pipeline-connect", "--guest", "192.0.2.7", "--port", "2222",
        "--user", "root", "--key", str(key),
    ]
    assert connect_provision(SshTarget("vm-1.example.org", 22, "cloud-user", key))[4] == "vm-1.example.org"
    assert connect_provision(SshTarget("::1", 22, "root", key))[4] == "::1"
    assert (PLUGINS_DIR / "provision_connect.py").is_file()


@pytest.mark.parametrize(
    ("host", "port", "user", "key_name", "problem"),
    [
        ("-oProxyCommand=x", 22, "root", "key", "not a host name"),
        ("host name", 22, "root", "key", "not a host name"),
        ("a" * 300, 22, "root", "key", "not a host name"),
        ("host", 0, "root", "key", "not a TCP port"),
        ("host", 70000, "root", "key", "not a TCP port"),
        ("host", 22, "-lroot", "key", "not a user name"),
        ("host", 22, "root", "missing-key", "not a file"),
    ],
)
def test_the_connect_step_refuses_what_is_not_a_target(
    tmp_path: Path, host: str, port: int, user: str, key_name: str, problem: str
) -> None:
    (tmp_path / "key").write_text("key")
    with pytest.raises(StageFailure, match=problem):
        connect_provision(SshTarget(host, port, user, tmp_path / key_name))


@given(host=st.text(max_size=60))
def test_no_host_that_could_be_an_option_or_hold_a_space_is_accepted(host: str) -> None:
    key = Path(__file__)
    try:
        argv = connect_provision(SshTarget(host, 22, "root", key))
    except StageFailure:
        return
    assert not argv[4].startswith("-") and not any(c.isspace() for c in argv[4])


def _tmt_ssh_options(environment: dict[str, str]) -> dict[str, str]:
    """The ssh options tmt makes of ``TMT_SSH_*`` variables (``tmt.guest.configure_ssh_options``)."""
    return {
        name.removeprefix(SSH_OPTION_PREFIX).title().replace("_", ""): value
        for name, value in environment.items()
    }


def test_the_connect_step_s_environment_carries_the_host_key_checks(tmp_path: Path) -> None:
    known = tmp_path / "state" / "known_hosts"
    lab = SshTarget("192.0.2.7", 22, "root", tmp_path / "key", known_hosts=known)
    assert _tmt_ssh_options(connect_environment(lab)) == {
        "StrictHostKeyChecking": "accept-new",
        "UserKnownHostsFile": str(known),
    }
    assert known.parent.is_dir()
    fresh = SshTarget("127.0.0.1", 2222, "root", tmp_path / "key")
    assert _tmt_ssh_options(connect_environment(fresh)) == {
        "StrictHostKeyChecking": "no",
        "UserKnownHostsFile": "/dev/null",
    }


def test_tmt_runs_every_plan_of_the_tree_in_its_own_run_directory(tmp_path: Path) -> None:
    argv = run_command("/opt/tmt", tmp_path / "tree", tmp_path / "run", ["provision", "--how", "x"])
    assert argv == ["/opt/tmt", "--root", str(tmp_path / "tree"), "run", "--id", str(tmp_path / "run"),
                    "--scratch", "--all", "provision", "--how", "x"]
