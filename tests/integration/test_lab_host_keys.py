"""A lab host's changed host key is refused by every SSH user, not only by the SSH client.

One lab host (tests/integration/lab_host.py, a real SSH server) is reached the way the stages reach
it: an STI playbook through Ansible's inventory, the e2e scripts' ``E2E_SSH`` and tmt's
``provision how=connect``. Each learns the host's key on first contact; once the record holds
another key for that host and port, each fails and says why.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_host import LabHost, client_key, start_lab_host

from ci_pipeline.machines.ssh import SshTarget, login_command
from ci_pipeline.stages.sti.playbooks import (
    ansible_environment,
    run_playbook,
    ssh_subject,
    write_inventory,
)
from ci_pipeline.stages.tmt.command import (
    PLUGINS_DIR,
    connect_environment,
    connect_provision,
    run_command,
    tmt_program,
)
from ci_pipeline.stages.tmt.runner import host_key_refusal
from fmf_trees import fmf_tree

pytestmark = pytest.mark.integration

CHANGED = "REMOTE HOST IDENTIFICATION HAS CHANGED"
PLAYBOOK = "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - raw: 'true'\n      tags: [classic]\n"
TMT_PLAN = "provision:\n    how: connect\nexecute:\n    how: tmt\n    script: 'true'\n"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[LabHost, SshTarget]]:
    key = client_key(tmp_path)
    host = start_lab_host("lab1", tmp_path / "lab", key)
    # A directory name with a blank: the record's path must reach every SSH user as one file.
    known_hosts = tmp_path / "state dir" / "known_hosts"
    try:
        yield host, SshTarget("127.0.0.1", host.port, "root", key, known_hosts=known_hosts, connect_timeout=5)
    finally:
        host.stop()


def _change_recorded_key(target: SshTarget, tmp_path: Path) -> None:
    """Replace the learnt record with another key for the host's address and port."""
    assert target.known_hosts is not None and target.known_hosts.read_text().strip()
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    public = other.with_suffix(".pub").read_text().split()[:2]
    target.known_hosts.write_text(f"[{target.host}]:{target.port} {' '.join(public)}\n")


def _playbook(target: SshTarget, tmp_path: Path) -> tuple[int, str]:
    tests = tmp_path / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "tests.yml").write_text(PLAYBOOK)
    inventory = write_inventory(tmp_path / "inventory.json", ssh_subject(tmp_path / "disk.qcow2", target))
    env = ansible_environment("disk.qcow2", tmp_path / "artifacts", inventory, tmp_path / "ansible-home")
    run = run_playbook(tests / "tests.yml", "classic", env, tmp_path / "ansible.log", 120.0)
    return run.returncode, run.output


def _e2e_ssh(target: SshTarget) -> subprocess.CompletedProcess[str]:
    script = 'eval "$E2E_SSH -p $PORT $ADDRESS true"'
    env = {**os.environ, "E2E_SSH": login_command(target), "PORT": str(target.port), "ADDRESS": target.host}
    return subprocess.run(
        ["sh", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _tmt(target: SshTarget, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    tree = tmp_path / "tree"
    if not tree.is_dir():
        fmf_tree(tree, {"plan.fmf": TMT_PLAN})
    argv = run_command(tmt_program(), tree, tmp_path / name, connect_provision(target))
    env = {**os.environ, **connect_environment(target), "TMT_CONNECT_TIMEOUT": "5", "NO_COLOR": "1",
           "TMT_PLUGINS": str(PLUGINS_DIR)}
    env["TMT_SCRIPTS_DIR"] = "/var/tmp/tmt-scripts"  # the lab host's /usr is read-only
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, check=False)


def test_ansible_refuses_a_lab_host_whose_key_changed(
    lab: tuple[LabHost, SshTarget], tmp_path: Path
) -> None:
    _, target = lab
    returncode, output = _playbook(target, tmp_path)
    assert returncode == 0, output
    _change_recorded_key(target, tmp_path)
    returncode, output = _playbook(target, tmp_path)
    assert returncode == 4 and CHANGED in output and "Host key verification failed" in output


def test_e2e_ssh_refuses_a_lab_host_whose_key_changed(lab: tuple[LabHost, SshTarget], tmp_path: Path) -> None:
    _, target = lab
    first = _e2e_ssh(target)
    assert first.returncode == 0, first.stderr
    _change_recorded_key(target, tmp_path)
    refused = _e2e_ssh(target)
    assert refused.returncode == 255 and CHANGED in refused.stderr
    assert "Host key verification failed" in refused.stderr


def test_tmt_refuses_a_lab_host_whose_key_changed(lab: tuple[LabHost, SshTarget], tmp_path: Path) -> None:
    """tmt gets past its SSH connections at first (its plan then stops at the lab host's tools: their
    flock is owned by no package), having learnt the key into the record, which its own options
    alone would not; then refuses the changed key (tmt retries until its connect timeout)."""
    _, target = lab
    first = _tmt(target, tmp_path, "first")
    said = first.stdout + first.stderr
    assert "Failed to push workdir" not in said and "Host key verification failed" not in said, said
    assert target.known_hosts is not None and target.known_hosts.read_text().strip()
    _change_recorded_key(target, tmp_path)
    refused = _tmt(target, tmp_path, "refused")
    said = refused.stdout + refused.stderr
    assert refused.returncode == 2 and "Failed to connect to the guest" in said, said
    # tmt says why in its run's log only, whence the stage's result takes ssh's words.
    refusal = host_key_refusal(tmp_path / "refused" / "log.txt")
    assert f"Host key for [127.0.0.1]:{target.port} has changed" in refusal
