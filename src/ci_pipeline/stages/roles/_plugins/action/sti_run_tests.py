"""Ansible action plugin ``sti_run_tests``: the engine of the shipped ``standard-test-*`` roles.

It copies the playbook's directory to the subject, makes sure the required packages are there, runs
each test on the subject with a plain shell (the subject needs no Python), and writes the Standard
Test Interface results on the controller: ``<artifacts>/test.log`` gets one ``PASS <name>`` or
``FAIL <name>`` line per test and ``<artifacts>/<name>.log`` the test's output. The task fails when
a test failed, as Fedora's roles do, after every test has run.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from typing import Any

from ansible.errors import AnsibleActionFail  # type: ignore[import-untyped]
from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]

FRAMEWORKS = ("basic", "beakerlib")
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_BEAKERLIB_FAILED = re.compile(r"OVERALL RESULT: FAIL|::\s+\[\s*(FAIL|ERROR)\s*\]\s+::")
#: Installs what a test needs where the subject has a package manager; a tree without one was
#: provisioned by the test system (ci-pipeline installs ``required_packages`` into the tree).
_REQUIRE_PACKAGES = (
    'if command -v dnf >/dev/null 2>&1; then exec dnf -y -q install "$@"; fi\n'
    'rpm -q "$@" 2>/dev/null; rc=$?\n'
    # 127: no rpm in the tree (busybox may even claim an rpm applet it cannot run).
    '[ "$rc" -eq 127 ] && exit 0; exit "$rc"'
)


def test_entries(tests: Any, framework: str) -> list[tuple[str, str, str]]:
    """(name, dir, shell command) of each entry of a role's ``tests:`` list."""
    if not isinstance(tests, list):
        raise AnsibleActionFail("The role's 'tests' is not a list.")
    entries = []
    for entry in tests:
        if isinstance(entry, str) and framework == "basic":
            entries.append((entry, ".", entry))
        elif isinstance(entry, str):
            entries.append((entry, entry, _beakerlib_command()))
        elif isinstance(entry, dict) and len(entry) == 1:
            name, spec = next(iter(entry.items()))
            if not isinstance(spec, dict):
                raise AnsibleActionFail(f"The test {name!r} is not a mapping with 'dir' and 'run'.")
            default_run = _beakerlib_command() if framework == "beakerlib" else ""
            run = str(spec.get("run", default_run))
            if not run:
                raise AnsibleActionFail(f"The test {name!r} has no 'run' command.")
            entries.append((str(name), str(spec.get("dir", ".")), run))
        else:
            raise AnsibleActionFail(f"The test entry {entry!r} is neither a command nor name: {{dir, run}}.")
    return entries


def _beakerlib_command() -> str:
    return "if command -v bash >/dev/null 2>&1; then bash ./runtest.sh; else /bin/sh ./runtest.sh; fi"


def log_file_name(name: str) -> str:
    """A file name for a test's log: its name with anything unsafe replaced."""
    return (_UNSAFE_IN_FILE_NAME.sub("_", name).strip("._") or "test")[:120] + ".log"


class ActionModule(ActionBase):  # type: ignore[misc]
    """Run a standard-test-* role's tests; see the module docstring."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(
        ("framework", "tests", "tests_dir", "artifacts", "required_packages", "remote_dir")
    )

    def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
        """Copy the tests, run them all, write test.log and the per-test logs."""
        result: dict[str, Any] = super().run(tmp, task_vars)
        args = self._task.args
        framework = str(args.get("framework", "basic"))
        if framework not in FRAMEWORKS:
            raise AnsibleActionFail(f"Unknown test framework {framework!r}.")
        entries = test_entries(args.get("tests", []), framework)
        artifacts = str(args.get("artifacts") or os.path.join(str(args["tests_dir"]), "artifacts"))
        remote_dir = str(args.get("remote_dir", "/var/tmp/sti-tests"))
        os.makedirs(artifacts, exist_ok=True)
        self._require_packages([str(p) for p in args.get("required_packages") or []])
        self._push_tree(str(args["tests_dir"]), remote_dir, artifacts)
        failed = [
            name
            for name, directory, run in entries
            if not self._run_test(name, f"{remote_dir}/{directory}", run, framework, artifacts)
        ]
        result.update(changed=True, failed=bool(failed), tests=len(entries), failed_tests=failed)
        result["msg"] = (
            f"{len(failed)} of {len(entries)} tests failed: {', '.join(failed)}"
            if failed
            else f"{len(entries)} tests passed"
        )
        return result

    def _shell(self, command: str) -> dict[str, Any]:
        # An explicit shell: the default one appends "sleep 0", which a minimal subject may lack.
        return dict(self._low_level_execute_command(command, sudoable=False, executable="/bin/sh"))

    def _require_packages(self, packages: list[str]) -> None:
        if not packages:
            return
        quoted = " ".join(shlex.quote(p) for p in packages)
        done = self._shell(f"set -- {quoted}\n{_REQUIRE_PACKAGES}")
        if done["rc"] != 0:
            raise AnsibleActionFail(
                f"The required packages {', '.join(packages)} are not on the subject: "
                f"{(done['stdout'] + done['stderr']).strip()[-500:]}"
            )

    def _push_tree(self, local: str, remote: str, artifacts: str) -> None:
        """Copy the directory ``local`` (not its artifacts or .git) to ``remote`` on the subject."""
        skip = {os.path.realpath(artifacts), os.path.realpath(os.path.join(local, ".git"))}
        directories, files = [remote], []
        for top, dirs, names in os.walk(local):
            dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(top, d)) not in skip]
            relative = os.path.relpath(top, local)
            target = remote if relative == "." else f"{remote}/{relative}"
            directories += [f"{target}/{d}" for d in dirs]
            files += [
                (os.path.join(top, n), f"{target}/{n}") for n in names if os.path.isfile(os.path.join(top, n))
            ]
        made = self._shell(
            f"rm -rf {shlex.quote(remote)} && mkdir -p " + " ".join(shlex.quote(d) for d in directories)
        )
        if made["rc"] != 0:
            raise AnsibleActionFail(f"Cannot create {remote} on the subject: {made['stderr'].strip()}")
        for source, target in files:
            self._connection.put_file(source, target)
        executables = [target for source, target in files if os.access(source, os.X_OK)]
        if executables:
            self._shell("chmod +x " + " ".join(shlex.quote(t) for t in executables))

    def _run_test(self, name: str, directory: str, run: str, framework: str, artifacts: str) -> bool:
        """Run one test, write its log and its test.log line; True when it passed."""
        started = time.monotonic()
        done = self._shell(f"cd {shlex.quote(directory)} || exit 97\nexec 2>&1\n{run}\n")
        duration = time.monotonic() - started
        output = done["stdout"] + done["stderr"]
        passed = done["rc"] == 0 and not (framework == "beakerlib" and _BEAKERLIB_FAILED.search(output))
        with open(os.path.join(artifacts, log_file_name(name)), "w", encoding="utf-8") as log:
            log.write(f"# {name}\n# exit status {done['rc']}, {duration:.3f} s\n{output}")
        with open(os.path.join(artifacts, "test.log"), "a", encoding="utf-8") as summary:
            summary.write(f"{'PASS' if passed else 'FAIL'} {name}\n")
        return passed
