"""Deploying a compose's OSTree commit onto a running host over SSH, and rebooting into it.

Where the host has rpm-ostree, ``rpm-ostree rebase <remote>:<ref> <commit>``; else the commit is
pulled from the compose repository (``ostree pull``, over HTTP from the artifact URL) and deployed
with ``ostree admin deploy``. Either way the host's OSTree repo gets a remote named
:data:`REMOTE` for the compose repository. Then the host reboots; the deployment counts once the
host answers again with a new boot id and its booted deployment (a host that reports none booted: its
default one) is the commit. A host that already runs the commit (a stage attempt again on the same
host) is used as it is: neither deployed nor rebooted.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.machines import ssh
from ci_pipeline.provision.base import Deployment, Host

#: The remote, in the host's OSTree repo, of the compose repository.
REMOTE = "ci-pipeline"
SYSTEM_REPO = "/ostree/repo"
#: How long one command of the deployment may take (a pull of a whole tree included).
COMMAND_SECONDS = 1800.0
BOOT_ID = "cat /proc/sys/kernel/random/boot_id"
_CHECKSUM = re.compile(r"[0-9a-f]{64}")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}")
_URL = re.compile(r"https?://[!-~]{1,2000}")
#: One deployment line of ``ostree admin status``: booted mark, stateroot, checksum.serial.
_STATUS_LINE = re.compile(r"^(?P<mark>[* ]) (?P<stateroot>\S+) (?P<checksum>[0-9a-f]{64})\.\d+")


@dataclass(frozen=True)
class Target:
    """A host to deploy onto: how to reach it, and its stateroot (empty: the booted one)."""

    host: Host
    stateroot: str = ""


def run_remote(host: Host, command: str, log_path: Path, *, timeout: float, failure: str = "") -> str:
    """Run ``command`` on ``host`` (logged in ``log_path``); its output. StageFailure naming the host."""
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"$ ssh {host.user}@{host.address} -p {host.port} {command}\n")
    result = ssh.run(host.ssh, command, timeout=timeout)
    if result.returncode != 0:
        why = (result.stderr or result.stdout).strip()[-500:]
        what = failure or f"'{command[:120]}' on the machine {host.name} failed"
        raise StageFailure(f"{what} (exit status {result.returncode}): {why}")
    return result.stdout


def wait_for_host(host: Host, timeout: float) -> float:
    """Wait until ``host`` answers over SSH; the seconds it took. StageFailure naming it otherwise."""
    try:
        return ssh.wait_for_ssh(host.ssh, time.monotonic() + timeout, lambda: "")
    except StageFailure as exc:
        raise StageFailure(
            f"The machine {host.name} ({host.address} port {host.port}) did not answer over SSH "
            f"within {timeout:g} s: {exc}"
        ) from exc


def check_deployment(deployment: Deployment) -> None:
    """Refuse a deployment whose commit, ref or URL could not safely reach a remote shell."""
    if not _CHECKSUM.fullmatch(deployment.commit):
        raise StageFailure(f"The commit {deployment.commit[:80]!r} is not an OSTree checksum.")
    if not _REF.fullmatch(deployment.ref) or ".." in deployment.ref:
        raise StageFailure(f"The ref {deployment.ref[:80]!r} is not an OSTree ref.")
    if not _URL.fullmatch(deployment.compose_url):
        raise StageFailure(f"The compose URL {deployment.compose_url[:80]!r} is not an http(s) URL.")


def deploy_and_reboot(target: Target, deployment: Deployment, log_path: Path, boot_timeout: float) -> None:
    """Deploy ``deployment``'s commit onto the host, reboot it, and wait until it runs the commit."""
    check_deployment(deployment)
    host = target.host
    boot_id = run_remote(host, BOOT_ID, log_path, timeout=60).strip()
    has_rpm_ostree = "yes" in run_remote(
        host, "command -v rpm-ostree >/dev/null && echo yes || echo no", log_path, timeout=60
    )
    if running_commit(host, log_path, rpm_ostree=has_rpm_ostree) == deployment.commit:
        return
    for command in deploy_commands(deployment, target.stateroot, rpm_ostree=has_rpm_ostree):
        run_remote(host, command, log_path, timeout=COMMAND_SECONDS)
    reboot(host, log_path)
    wait_for_new_boot(host, boot_id, log_path, boot_timeout)
    running = running_commit(host, log_path, rpm_ostree=has_rpm_ostree)
    if running != deployment.commit:
        raise StageFailure(
            f"The machine {host.name} runs {running or 'no deployment'} after the reboot, "
            f"not the commit {deployment.commit}."
        )


def deploy_commands(deployment: Deployment, stateroot: str, *, rpm_ostree: bool) -> list[str]:
    """The shell commands that stage ``deployment``'s commit as the host's next boot."""
    repo = f"--repo={SYSTEM_REPO}"
    url, ref, commit = (shlex.quote(v) for v in (deployment.compose_url, deployment.ref, deployment.commit))
    commands = [
        f"ostree remote delete {repo} --if-exists {REMOTE}",
        f"ostree remote add {repo} --no-gpg-verify {REMOTE} {url}",
    ]
    if rpm_ostree:
        return [*commands, f"rpm-ostree rebase {REMOTE}:{ref} {commit}"]
    where = f" --os={shlex.quote(stateroot)}" if stateroot else ""
    return [*commands, f"ostree pull {repo} {REMOTE} {commit}", f"ostree admin deploy{where} {commit}"]


def reboot(host: Host, log_path: Path) -> None:
    """Ask the host to reboot a moment after this connection ends."""
    command = "nohup sh -c 'sleep 1; systemctl reboot || reboot' </dev/null >/dev/null 2>&1 &"
    run_remote(host, command, log_path, timeout=60, failure=f"the reboot of {host.name}")


def wait_for_new_boot(host: Host, old_boot_id: str, log_path: Path, timeout: float) -> None:
    """Wait until ``host`` answers with a boot id other than ``old_boot_id``; else StageFailure."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise StageFailure(
                f"The machine {host.name} did not come back within {timeout:g} s of its reboot."
            )
        wait_for_host(host, left)
        try:
            current = run_remote(host, BOOT_ID, log_path, timeout=30).strip()
        except StageFailure:
            current = old_boot_id  # it went down between the two connections
        if current != old_boot_id:
            return
        time.sleep(1.0)


def running_commit(host: Host, log_path: Path, *, rpm_ostree: bool) -> str:
    """The commit ``host`` runs now (:func:`running_checksum` of its status); "" for none."""
    status = run_remote(host, status_command(rpm_ostree=rpm_ostree), log_path, timeout=120)
    return running_checksum(status, rpm_ostree=rpm_ostree)


def status_command(*, rpm_ostree: bool) -> str:
    """The command that reports the host's deployments."""
    return "rpm-ostree status --json" if rpm_ostree else "ostree admin status"


def running_checksum(status: str, *, rpm_ostree: bool) -> str:
    """The checksum of the booted deployment in ``status`` (else the default one); "" for none."""
    if rpm_ostree:
        try:
            deployments = json.loads(status).get("deployments") or []
        except (json.JSONDecodeError, AttributeError):
            return ""
        listed = [d for d in deployments if isinstance(d, dict)]
        chosen = [d for d in listed if d.get("booted")] or listed
        return str(chosen[0].get("checksum", "")) if chosen else ""
    lines = [match for line in status.splitlines() if (match := _STATUS_LINE.match(line))]
    marked = [match for match in lines if match["mark"] == "*"] or lines
    return marked[0]["checksum"] if marked else ""
