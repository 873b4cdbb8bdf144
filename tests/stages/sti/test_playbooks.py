"""Finding STI playbooks, their required packages, the inventory and the environment of a run."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.machines.ssh import SshTarget
from ci_pipeline.stages.sti import playbooks
from ci_pipeline.stages.sti.playbooks import (
    ROLES_DIR,
    PlaybookRun,
    ansible_environment,
    chroot_subject,
    find_playbooks,
    required_packages,
    run_playbook,
    ssh_subject,
    uses_role,
    write_inventory,
)


def test_find_playbooks_takes_tests_star_yml_sorted(tmp_path: Path) -> None:
    for name in ("tests_b.yml", "tests.yml", "other.yml", "tests.yaml"):
        (tmp_path / name).write_text("- hosts: localhost\n")
    (tmp_path / "tests_dir.yml").mkdir()
    assert [p.name for p in find_playbooks(tmp_path)] == ["tests.yml", "tests_b.yml"]
    assert find_playbooks(tmp_path / "missing") == []


def test_required_packages_come_from_roles_and_play_vars(tmp_path: Path) -> None:
    (tmp_path / "tests.yml").write_text(
        "- hosts: localhost\n  vars: {required_packages: [gzip]}\n  roles:\n"
        "  - role: standard-test-basic\n    required_packages: [ci-hello, 'bad name; rm', ci-hello]\n"
        "  - standard-test-source\n"
    )
    (tmp_path / "tests_broken.yml").write_text("- hosts: [ {{\n")
    assert required_packages(find_playbooks(tmp_path)) == ["ci-hello", "gzip"]


def test_inventory_makes_the_subject_the_localhost_group(tmp_path: Path) -> None:
    written = write_inventory(tmp_path / "inv.json", chroot_subject(tmp_path / "root"))
    inventory = json.loads(written.read_text())
    assert inventory == {
        "localhost": {
            "hosts": {"subject": {"ansible_connection": "sti_chroot", "ansible_host": str(tmp_path / "root")}}
        }
    }


def test_environment_sets_the_sti_variables_and_the_shipped_roles(tmp_path: Path) -> None:
    env = ansible_environment("/subject", tmp_path / "artifacts", tmp_path / "inv.json", tmp_path / "home")
    assert env["TEST_SUBJECTS"] == "/subject"
    assert env["TEST_ARTIFACTS"] == str(tmp_path / "artifacts")
    assert env["ANSIBLE_INVENTORY"] == str(tmp_path / "inv.json")
    assert env["ANSIBLE_GATHERING"] == "explicit"
    assert (Path(env["ANSIBLE_ROLES_PATH"]) / "standard-test-basic" / "tasks" / "main.yml").is_file()
    assert (Path(env["ANSIBLE_CONNECTION_PLUGINS"]) / "sti_chroot.py").is_file()
    assert (Path(env["ANSIBLE_ACTION_PLUGINS"]) / "sti_run_tests.py").is_file()
    assert Path(env["ANSIBLE_ROLES_PATH"]) == ROLES_DIR


def test_run_playbook_refuses_an_unknown_tag(tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match="not a Standard Test Interface tag"):
        run_playbook(tmp_path / "tests.yml", "vm", {}, tmp_path / "log", None)


def test_error_summary_prefers_ansible_error_lines() -> None:
    output = "PLAY [x]\n[ERROR]: Task failed: role missing\nfatal: [subject]: FAILED! => {}\nPLAY RECAP\n"
    run = PlaybookRun(Path("tests.yml"), 2, output)
    assert run.error_summary() == "[ERROR]: Task failed: role missing\nfatal: [subject]: FAILED! => {}"
    assert PlaybookRun(Path("t.yml"), 1, "a\nb\n").error_summary() == "a\nb"


def test_uses_role_finds_roles_by_name_or_mapping(tmp_path: Path) -> None:
    (tmp_path / "tests.yml").write_text(
        "- hosts: localhost\n  roles:\n"
        "  - {role: standard-test-source, tags: [always]}\n  - standard-test-basic\n"
    )
    (tmp_path / "tests_broken.yml").write_text("- hosts: [ {{\n")
    playbooks = find_playbooks(tmp_path)
    assert uses_role(playbooks, "standard-test-source") and uses_role(playbooks, "standard-test-basic")
    assert not uses_role(playbooks, "standard-test-beakerlib")


def test_a_booted_machine_is_reached_over_ssh_with_piped_files(tmp_path: Path) -> None:
    target = SshTarget(host="127.0.0.1", port=2222, user="root", key=tmp_path / "id_ed25519")
    written = write_inventory(tmp_path / "inv.json", ssh_subject(tmp_path / "disk.qcow2", target))
    host = json.loads(written.read_text())["localhost"]["hosts"]["subject"]
    assert host["ansible_connection"] == "ssh" and host["ansible_ssh_transfer_method"] == "piped"
    assert (host["ansible_host"], host["ansible_port"], host["ansible_user"]) == ("127.0.0.1", "2222", "root")
    assert host["ansible_ssh_private_key_file"] == str(tmp_path / "id_ed25519")
    assert "StrictHostKeyChecking=no" in host["ansible_ssh_common_args"]


def _common_options(host_vars: dict[str, str]) -> dict[str, str]:
    """The ``-o`` settings of ``ansible_ssh_common_args`` as Ansible splits it (shell words)."""
    words = shlex.split(host_vars["ansible_ssh_common_args"])
    return dict(words[i + 1].split("=", 1) for i, word in enumerate(words) if word == "-o")


def test_a_lab_host_s_key_is_checked_against_its_known_hosts(tmp_path: Path) -> None:
    known = tmp_path / "state dir" / "known_hosts"
    lab = SshTarget(host="10.0.0.5", port=22, user="root", key=tmp_path / "k", known_hosts=known)
    fresh = SshTarget(host="127.0.0.1", port=2222, user="root", key=tmp_path / "k")
    lab_vars = ssh_subject(tmp_path / "disk.qcow2", lab).host_vars
    fresh_vars = ssh_subject(tmp_path / "disk.qcow2", fresh).host_vars
    assert _common_options(dict(lab_vars))["StrictHostKeyChecking"] == "accept-new"
    assert _common_options(dict(lab_vars))["UserKnownHostsFile"] == f'"{known}"'
    assert _common_options(dict(fresh_vars))["StrictHostKeyChecking"] == "no"
    assert _common_options(dict(fresh_vars))["UserKnownHostsFile"] == "/dev/null"
    # Ansible's own check stays on, or its StrictHostKeyChecking=no would come first and win.
    assert lab_vars["ansible_host_key_checking"] == fresh_vars["ansible_host_key_checking"] == "true"


def _program(path: Path, script: str) -> Path:
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)
    return path


def test_run_playbook_runs_in_the_playbooks_directory_and_logs_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = _program(tmp_path / "fake-ansible-playbook", 'echo "$PWD $*"; exit 2')
    monkeypatch.setattr(playbooks, "ansible_playbook_program", lambda: str(program))
    (tmp_path / "tests").mkdir()
    playbook, log = tmp_path / "tests" / "tests.yml", tmp_path / "log"
    run = run_playbook(playbook, "classic", {}, log, 10)
    assert run == PlaybookRun(playbook, 2, f"{tmp_path / 'tests'} --tags classic tests.yml\n")
    assert log.read_text() == f"$ {program} --tags classic tests.yml\n{run.output}"


def test_run_playbook_words_an_overrun_and_a_missing_ansible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = _program(tmp_path / "fake-ansible-playbook", "exec sleep 5")
    monkeypatch.setattr(playbooks, "ansible_playbook_program", lambda: str(program))
    with pytest.raises(StageFailure, match=r"^The test playbook tests\.yml did not finish within 0\.3 s\.$"):
        run_playbook(tmp_path / "tests.yml", "classic", {}, tmp_path / "log", 0.3)
    monkeypatch.setattr(playbooks, "ansible_playbook_program", lambda: str(tmp_path / "absent"))
    missing = r"^ansible-playbook is not installed; install ansible-core\.$"
    with pytest.raises(InfrastructureError, match=missing):
        run_playbook(tmp_path / "tests.yml", "classic", {}, tmp_path / "log", None)
