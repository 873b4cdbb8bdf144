"""The SSH client's command lines: host keys of fresh machines and of lab hosts."""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.machines.ssh import SshTarget, ssh_argv
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
