"""Running a package's Standard Test Interface playbooks (``tests/tests*.yml``) with ansible-playbook.

Each playbook runs once, with the tag of the subject (``classic``, ``atomic``, ``container``) and
the environment the STI defines: ``TEST_SUBJECTS``, ``TEST_ARTIFACTS`` and ``ANSIBLE_INVENTORY``
(the repository's ``tests/inventory`` if it has one, else an inventory whose group ``localhost``
is the subject: a tree reached with the ``sti_chroot`` connection, or a booted machine reached
over SSH, :class:`Subject`). The roles path holds the shipped
``standard-test-{basic,scripts,source,beakerlib,rhts,avocado}`` roles. Playbooks written for older
Ansible are rewritten first (:mod:`~ci_pipeline.stages.sti.normalize`). Facts are not gathered unless a
play asks: the subjects have no Python.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.executors.process import GroupTimeout
from ci_pipeline.machines.ssh import SshTarget, ansible_ssh_args
from ci_pipeline.stages.base import run_captured
from ci_pipeline.stages.sti.normalize import normalize_playbooks

ROLES_DIR = Path(__file__).parents[1] / "roles"
TAGS = ("classic", "atomic", "container")
#: ansible-playbook's exit codes that mean the playbook or the subject is at fault, not a test.
EXIT_REASONS = {
    1: "ansible-playbook reported an error",
    2: "a task of the playbook failed",
    3: "the test subject could not be reached",
    4: "the test subject could not be reached, or the playbook could not be parsed",
    5: "ansible-playbook was given bad options",
    250: "ansible-playbook crashed",
}
_PACKAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+:/()-]{0,199}")
_ERROR_LINE = re.compile(r"^(?:\[ERROR\]: .*|ERROR! .*|fatal: \[.*)$", re.M)


@dataclass(frozen=True)
class PlaybookRun:
    """How one ansible-playbook run ended."""

    playbook: Path
    returncode: int
    output: str

    def error_summary(self) -> str:
        """The lines of ansible's output that say what went wrong (or its last lines)."""
        found = _ERROR_LINE.findall(self.output)
        lines = found[-3:] if found else self.output.strip().splitlines()[-5:]
        return "\n".join(line[:500] for line in lines)


def find_playbooks(tests_dir: Path) -> list[Path]:
    """The STI playbooks of a repository's ``tests/`` directory, sorted (``tests.yml`` first)."""
    if not tests_dir.is_dir() or tests_dir.is_symlink():
        return []
    return sorted(p for p in tests_dir.glob("tests*.yml") if p.is_file() and not p.is_symlink())


def prepare_playbooks(tests_dir: Path, log_path: Path) -> list[Path]:
    """The STI playbooks of ``tests_dir``, rewritten in place where they use older Ansible syntax."""
    playbooks = find_playbooks(tests_dir)

    def report(line: str) -> None:
        with log_path.open("a", encoding="utf-8") as log:
            log.write(line + "\n")

    normalize_playbooks(playbooks, tests_dir, report)
    return playbooks


def required_packages(playbooks: Iterable[Path]) -> list[str]:
    """The ``required_packages`` of every role in the playbooks (those ansible could not parse add none)."""
    found: list[str] = []
    for playbook in playbooks:
        try:
            plays = yaml.safe_load(playbook.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for value in _role_values(plays, "required_packages"):
            names = value if isinstance(value, list) else [value]
            found += [n for n in names if isinstance(n, str) and _PACKAGE_NAME.fullmatch(n)]
    return list(dict.fromkeys(found))


def uses_role(playbooks: Iterable[Path], role: str) -> bool:
    """Whether a play of the playbooks lists ``role`` (by name, or as ``role:`` / ``name:``)."""
    for playbook in playbooks:
        try:
            plays = yaml.safe_load(playbook.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for play in plays if isinstance(plays, list) else []:
            roles = play.get("roles") if isinstance(play, dict) else None
            for entry in roles if isinstance(roles, list) else []:
                name = entry.get("role", entry.get("name")) if isinstance(entry, dict) else entry
                if name == role:
                    return True
    return False


def _role_values(plays: Any, key: str) -> Iterable[Any]:
    for play in plays if isinstance(plays, list) else []:
        if not isinstance(play, dict):
            continue
        for role in play.get("roles") or []:
            if isinstance(role, dict) and key in role:
                yield role[key]
        if key in (play.get("vars") or {}):
            yield play["vars"][key]


@dataclass(frozen=True)
class Subject:
    """What the tests run against: ``TEST_SUBJECTS`` and the inventory variables that reach it."""

    test_subjects: str
    host_vars: Mapping[str, str]


def chroot_subject(root: Path) -> Subject:
    """A directory tree, reached with the ``sti_chroot`` connection."""
    return Subject(str(root), {"ansible_connection": "sti_chroot", "ansible_host": str(root)})


def ssh_subject(image: Path, target: SshTarget) -> Subject:
    """A machine booted from ``image``, reached over SSH as root (files piped: guests may lack sftp)
    with the SSH client's options, host key checks included."""
    return Subject(
        str(image),
        {
            "ansible_connection": "ssh",
            "ansible_host": target.host,
            "ansible_port": str(target.port),
            "ansible_user": target.user,
            "ansible_ssh_private_key_file": str(target.key),
            "ansible_ssh_common_args": ansible_ssh_args(target),
            # Kept on: off, Ansible puts its own StrictHostKeyChecking=no ahead of the common
            # arguments (ssh takes the first value), which would trust a lab host's changed key.
            "ansible_host_key_checking": "true",
            # One connection per command: no control master left running after the playbook.
            "ansible_ssh_args": "-o ControlMaster=no",
            "ansible_ssh_transfer_method": "piped",
            "ansible_shell_executable": "/bin/sh",
        },
    )


def write_inventory(path: Path, subject: Subject) -> Path:
    """An inventory whose group ``localhost`` (what STI playbooks target) is the subject."""
    return write_group_inventory(path, "localhost", {"subject": subject.host_vars})


def write_group_inventory(path: Path, group: str, hosts: Mapping[str, Mapping[str, str]]) -> Path:
    """A JSON inventory with one group of ``hosts`` (name -> host variables)."""
    inventory = {group: {"hosts": {name: dict(variables) for name, variables in hosts.items()}}}
    path.write_text(json.dumps(inventory, indent=2) + "\n", encoding="utf-8")
    return path


def ansible_environment(subjects: str, artifacts: Path, inventory: Path, home: Path) -> dict[str, str]:
    """The environment of an STI run: the STI variables and ci-pipeline's roles and plugins."""
    plugins = ROLES_DIR / "_plugins"
    home.mkdir(parents=True, exist_ok=True)
    keep = {name: os.environ[name] for name in ("PATH", "LANG", "TMPDIR") if name in os.environ}
    return {
        **keep,
        "HOME": str(home),
        "TEST_SUBJECTS": subjects,
        "TEST_ARTIFACTS": str(artifacts),
        "ANSIBLE_INVENTORY": str(inventory),
        "ANSIBLE_ROLES_PATH": str(ROLES_DIR),
        "ANSIBLE_ACTION_PLUGINS": str(plugins / "action"),
        "ANSIBLE_CONNECTION_PLUGINS": str(plugins / "connection"),
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
    }


def ansible_playbook_program() -> str:
    """The ansible-playbook beside this Python (its virtualenv), else the one on PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    return str(beside) if beside.is_file() else "ansible-playbook"


def run_playbook(
    playbook: Path, tag: str, env: Mapping[str, str], log_path: Path, timeout: float | None
) -> PlaybookRun:
    """Run one playbook with the subject's tag; its output goes to ``log_path`` too."""
    if tag not in TAGS:
        raise StageFailure(f"{tag!r} is not a Standard Test Interface tag ({', '.join(TAGS)}).")
    argv = [ansible_playbook_program(), "--tags", tag, playbook.name]
    try:
        returncode, text = run_captured(argv, log_path, cwd=playbook.parent, env=env, timeout=timeout)
    except FileNotFoundError as exc:
        raise InfrastructureError("ansible-playbook is not installed; install ansible-core.") from exc
    except GroupTimeout as exc:
        message = f"The test playbook {playbook.name} did not finish within {exc.timeout:g} s."
        raise StageFailure(message) from exc
    return PlaybookRun(playbook, returncode, text)
