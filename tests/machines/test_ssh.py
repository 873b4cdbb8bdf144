"""The SSH client's command lines: host keys of fresh machines and of lab hosts."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ci_pipeline.machines.ssh import SshTarget, ansible_ssh_args, config_path, login_command, ssh_argv
from ci_pipeline.provision.base import Host


def _options(argv: list[str]) -> dict[str, str]:
    return dict(argv[i + 1].split("=", 1) for i, word in enumerate(argv) if word == "-o")


def test_a_fresh_machine_s_host_key_is_trusted_and_not_recorded() -> None:
    argv = ssh_argv(SshTarget("127.0.0.1", 2222, "root", Path("/k")), "true")
    options = _options(argv)
    assert options["StrictHostKeyChecking"] == "no" and options["UserKnownHostsFile"] == "/dev/null"
    assert argv[-2:] == ["root@127.0.0.1", "true"] and argv[argv.index("-p") + 1] == "2222"


def test_a_lab_host_s_key_is_learnt_once_into_its_known_hosts(tmp_path: Path) -> None:
    known = tmp_path / "state" / "known_hosts"
    host = Host("lab1", "10.0.0.5", 22, "admin", Path("/k"), known_hosts=known, connect_timeout=7)
    options = _options(ssh_argv(host.ssh, "true"))
    assert options["StrictHostKeyChecking"] == "accept-new"
    assert options["UserKnownHostsFile"] == str(known) and options["ConnectTimeout"] == "7"
    assert known.parent.is_dir()


def test_the_login_command_and_ansible_s_options_carry_the_same_host_key_checks(tmp_path: Path) -> None:
    known = tmp_path / "state" / "known_hosts"
    lab = Host("lab1", "10.0.0.5", 22, "admin", Path("/k"), known_hosts=known).ssh
    fresh = SshTarget("127.0.0.1", 2222, "root", Path("/k"))
    for argv in (shlex.split(login_command(lab)), shlex.split(ansible_ssh_args(lab))):
        options = _options(argv)
        assert options["StrictHostKeyChecking"] == "accept-new"
        assert options["UserKnownHostsFile"] == str(known)
    for argv in (shlex.split(login_command(fresh)), shlex.split(ansible_ssh_args(fresh))):
        options = _options(argv)
        assert options["StrictHostKeyChecking"] == "no" and options["UserKnownHostsFile"] == "/dev/null"
    login = shlex.split(login_command(lab))
    assert login[0] == "ssh" and login[-2:] == ["-l", "admin"] and login[login.index("-i") + 1] == "/k"


def _ssh_reads(path_option: str) -> str:
    """The known hosts file ``ssh -G`` resolves from ``UserKnownHostsFile=<path_option>``."""
    shown = subprocess.run(
        ["ssh", "-G", "-o", f"UserKnownHostsFile={path_option}", "example.test"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    prefix = "userknownhostsfile "
    return next(line.removeprefix(prefix) for line in shown.splitlines() if line.startswith(prefix))


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="ab/ #%\"'\\~=", min_size=1, max_size=12))
def test_a_known_hosts_path_reaches_ssh_as_written(name: str) -> None:
    path = Path("/state") / name
    assert _ssh_reads(config_path(path)) == str(path)
