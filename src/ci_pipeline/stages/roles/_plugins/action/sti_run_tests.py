"""Ansible action plugin ``sti_run_tests``: the engine of the shipped ``standard-test-*`` roles.

It clones the role's ``repositories`` on the controller, copies them and the playbook's directory to
the subject, makes sure the required packages are there, checks that the subject has the
framework's harness (beakerlib, restraint-rhts, avocado), runs each test on the subject with a plain
shell (the subject needs no Python), and writes the Standard Test Interface results on the
controller: ``<artifacts>/results.yml`` (STI 2.0), one ``PASS|FAIL|ERROR <name>`` line per test in
``<artifacts>/test.log`` and the test's output in ``<artifacts>/<name>.log``. A missing harness makes
every test of the role an ERROR that names it. The task fails when a test did not pass, as Fedora's
roles do, after every test has run.

The rules live in ``ci_pipeline.stages.sti`` (this plugin runs in the ansible-playbook of
ci-pipeline's own environment).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail  # type: ignore[import-untyped]
from ansible.plugins.action import ActionBase  # type: ignore[import-untyped]

from ci_pipeline.machines.deployment import program_command
from ci_pipeline.stages.git.distgit import GIT_ENVIRONMENT, clone_source
from ci_pipeline.stages.sti.frameworks import (
    FRAMEWORKS,
    Framework,
    Repository,
    RoleTest,
    RoleTestsError,
    repositories,
    role_tests,
)
from ci_pipeline.stages.sti.packages import missing_packages
from ci_pipeline.stages.sti.results import append_results_yml, log_file_name, results_yml_entry

#: Installs what is missing where the subject has a package manager.
_INSTALL_PACKAGES = 'command -v dnf >/dev/null 2>&1 || exit 127\nexec dnf -y -q install "$@"'
GIT_TIMEOUT = 600
_TEST_LOG_WORDS = {"PASSED": "PASS", "FAILED": "FAIL", "ERROR": "ERROR"}


class ActionModule(ActionBase):  # type: ignore[misc]
    """Run a standard-test-* role's tests; see the module docstring."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(
        ("framework", "tests", "tests_dir", "artifacts", "required_packages", "remote_dir", "repositories")
    )

    def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
        """Fetch and copy the tests, run them all, write results.yml, test.log and the per-test logs."""
        result: dict[str, Any] = super().run(tmp, task_vars)
        args = self._task.args
        framework = FRAMEWORKS.get(str(args.get("framework", "basic")))
        if framework is None:
            raise AnsibleActionFail(f"Unknown test framework {args.get('framework')!r}.")
        try:
            entries = role_tests(args.get("tests", []), framework)
            clones = repositories(args.get("repositories"))
        except RoleTestsError as exc:
            raise AnsibleActionFail(str(exc)) from exc
        artifacts = str(args.get("artifacts") or os.path.join(str(args["tests_dir"]), "artifacts"))
        remote_dir = str(args.get("remote_dir", "/var/tmp/sti-tests"))
        os.makedirs(artifacts, exist_ok=True)
        self._require_packages([str(p) for p in args.get("required_packages") or []])
        self._push_tree(str(args["tests_dir"]), remote_dir, artifacts)
        self._push_repositories(clones, remote_dir)
        missing = self._missing_harness(framework)
        outcomes = [
            self._report_missing(entry, framework, artifacts)
            if missing
            else self._run_test(entry, remote_dir, framework, artifacts)
            for entry in entries
        ]
        bad = [entry.name for entry, outcome in zip(entries, outcomes, strict=True) if outcome != "PASSED"]
        result.update(changed=True, failed=bool(bad), tests=len(entries), failed_tests=bad)
        if missing:
            result["msg"] = _missing_harness_reason(framework)
        elif bad:
            result["msg"] = f"{len(bad)} of {len(entries)} tests did not pass: {', '.join(bad)}"
        else:
            result["msg"] = f"{len(entries)} tests passed"
        return result

    def _shell(self, command: str) -> dict[str, Any]:
        # An explicit shell: the default one appends "sleep 0", which a minimal subject may lack.
        return dict(self._low_level_execute_command(command, sudoable=False, executable="/bin/sh"))

    def _require_packages(self, packages: list[str]) -> None:
        """Check the subject has ``packages``; install the missing ones where it has dnf, else fail."""
        if not packages:
            return
        subject_root = getattr(self._connection, "subject_root", None)
        missing = missing_packages(Path(subject_root()), packages) if subject_root else None
        if missing is None:
            # The subject's rpm from PATH: a busybox shell would run its own rpm applet instead.
            queried = self._shell(program_command("rpm", "-q", "--whatprovides", *packages))
            missing = [] if queried["rc"] == 0 else packages
        if not missing:
            return
        quoted = " ".join(shlex.quote(p) for p in missing)
        done = self._shell(f"set -- {quoted}\n{_INSTALL_PACKAGES}")
        if done["rc"] != 0:
            why = (done["stdout"] + done["stderr"]).strip()[-500:] if done["rc"] != 127 else "no dnf there"
            raise AnsibleActionFail(
                f"The required packages {', '.join(missing)} are not on the test subject ({why})."
            )

    def _missing_harness(self, framework: Framework) -> bool:
        return framework.probe != "true" and self._shell(framework.probe + " >/dev/null 2>&1")["rc"] != 0

    def _push_repositories(self, clones: list[Repository], remote_dir: str) -> None:
        """Clone each repository at its version on the controller and copy it to ``remote_dir/dest``."""
        for clone in clones:
            with tempfile.TemporaryDirectory(prefix="sti-repo-") as scratch:
                work = os.path.join(scratch, "repo")
                self._git(
                    "clone", "--quiet", "--no-checkout", "--", clone_source(clone.url), work, repo=clone
                )
                self._git("checkout", "--quiet", "--detach", clone.version, cwd=work, repo=clone)
                self._push_tree(work, f"{remote_dir}/{clone.dest}", "")

    def _git(self, *args: str, repo: Repository, cwd: str | None = None) -> None:
        env = {**os.environ, **GIT_ENVIRONMENT}
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AnsibleActionFail(f"Cannot fetch the tests repository {repo.url}: {exc}") from exc
        if done.returncode != 0:
            why = done.stderr.strip()[-300:]
            raise AnsibleActionFail(f"Cannot fetch the tests repository {repo.url} at {repo.version}: {why}")

    def _push_tree(self, local: str, remote: str, artifacts: str) -> None:
        """Copy the directory ``local`` (not its artifacts or .git) to ``remote`` on the subject."""
        skip = {os.path.realpath(os.path.join(local, ".git"))}
        if artifacts:
            skip.add(os.path.realpath(artifacts))
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

    def _run_test(self, entry: RoleTest, remote_dir: str, framework: Framework, artifacts: str) -> str:
        """Run one test and record it; its outcome (``PASSED`` or ``FAILED``)."""
        directory = f"{remote_dir}/{entry.directory}"
        started = time.monotonic()
        done = self._shell(f"cd {shlex.quote(directory)} || exit 97\nexec 2>&1\n{entry.command}\n")
        duration = time.monotonic() - started
        output = done["stdout"] + done["stderr"]
        outcome = "PASSED" if framework.passed(done["rc"], output) else "FAILED"
        header = f"# {entry.name}\n# exit status {done['rc']}, {duration:.3f} s\n"
        _record(artifacts, entry.name, outcome, header + output)
        return outcome

    def _report_missing(self, entry: RoleTest, framework: Framework, artifacts: str) -> str:
        """Record a test that cannot run for want of its harness: an ERROR that names it."""
        _record(artifacts, entry.name, "ERROR", f"# {entry.name}\n{_missing_harness_reason(framework)}\n")
        return "ERROR"


def _missing_harness_reason(framework: Framework) -> str:
    return f"{framework.harness} is not installed on the test subject; {framework.role} needs it."


def _record(artifacts: str, name: str, outcome: str, log: str) -> None:
    """Write a test's log, its test.log line and its results.yml entry."""
    log_name = log_file_name(name)
    with open(os.path.join(artifacts, log_name), "w", encoding="utf-8") as log_file:
        log_file.write(log)
    with open(os.path.join(artifacts, "test.log"), "a", encoding="utf-8") as summary:
        summary.write(f"{_TEST_LOG_WORDS[outcome]} {name}\n")
    append_results_yml(Path(artifacts), [results_yml_entry(name, outcome, [log_name])])
