"""What a booted OSTree machine says it runs: its booted deployment's checksum and its packages.

Asked of the machine itself: ``rpm-ostree status --json`` where rpm-ostree is installed (the
deployment with ``"booted": true``), else ``ostree admin status`` (the line ``* <osname>
<checksum>.<serial>``). Packages are asked of ``rpm -q``. Programs are found on ``PATH`` by the
command itself: a busybox shell built to prefer its own applets would otherwise run busybox's
``rpm`` applet instead of the tree's rpm.
"""

from __future__ import annotations

import json
import re
import shlex

from ci_pipeline.errors import StageFailure
from ci_pipeline.machines.ssh import COMMAND_TIMEOUT, SshTarget, run

_CHECKSUM = re.compile(r"[0-9a-f]{64}")
_STATUS_LINE = re.compile(r"\*\s+\S+\s+([0-9a-f]{64})\.[0-9]+(?:\s.*)?")
#: Exit status of :func:`program_command` when the program is nowhere on PATH.
NOT_INSTALLED = 127


class DeploymentStatusError(ValueError):
    """A status report that names no booted deployment; the message says why."""


def program_command(program: str, *args: str) -> str:
    """A shell command that runs ``program`` from ``PATH`` (never a shell built-in or applet)."""
    call = " ".join(shlex.quote(word) for word in args)
    name = shlex.quote(program)
    return (
        f'IFS=:; for d in $PATH; do [ -x "$d"/{name} ] && [ ! -d "$d"/{name} ] && '
        f'exec "$d"/{name} {call}; done;'
        f" echo {name} is not installed >&2; exit {NOT_INSTALLED}"
    )


def booted_checksum_from_rpm_ostree(text: str) -> str:
    """The booted deployment's checksum in ``rpm-ostree status --json`` output."""
    try:
        status = json.loads(text)
    except ValueError as exc:
        raise DeploymentStatusError(f"rpm-ostree status --json printed no JSON: {exc}") from exc
    deployments = status.get("deployments") if isinstance(status, dict) else None
    for deployment in deployments if isinstance(deployments, list) else []:
        if isinstance(deployment, dict) and deployment.get("booted") is True:
            checksum = deployment.get("checksum")
            if isinstance(checksum, str) and _CHECKSUM.fullmatch(checksum):
                return checksum
            raise DeploymentStatusError(f"The booted deployment's checksum {checksum!r} is not a commit.")
    raise DeploymentStatusError("rpm-ostree status names no booted deployment.")


def booted_checksum_from_ostree(text: str) -> str:
    """The booted deployment's checksum in ``ostree admin status`` output (the ``*`` line)."""
    for line in text.splitlines():
        match = _STATUS_LINE.fullmatch(line.strip())
        if match:
            return match.group(1)
    raise DeploymentStatusError(
        "ostree admin status names no booted deployment (no '* <os> <checksum>.<n>' line)."
    )


def booted_checksum(target: SshTarget, timeout: float = COMMAND_TIMEOUT) -> str:
    """The checksum of the deployment the machine booted; StageFailure when it cannot tell."""
    rpm_ostree = run(target, program_command("rpm-ostree", "status", "--json"), timeout=timeout)
    try:
        if rpm_ostree.returncode == 0:
            return booted_checksum_from_rpm_ostree(rpm_ostree.stdout)
        ostree = run(target, program_command("ostree", "admin", "status"), timeout=timeout)
        if ostree.returncode != 0:
            why = (ostree.stderr or ostree.stdout).strip()[-300:]
            raise StageFailure(
                f"Neither rpm-ostree status nor ostree admin status works on the machine: {why}"
            )
        return booted_checksum_from_ostree(ostree.stdout)
    except DeploymentStatusError as exc:
        raise StageFailure(str(exc)) from exc


def package_installed(target: SshTarget, nvr: str, timeout: float = COMMAND_TIMEOUT) -> tuple[bool, str]:
    """Whether ``rpm -q <nvr>`` finds the package on the machine, and what it said."""
    result = run(target, program_command("rpm", "-q", nvr), timeout=timeout)
    return result.returncode == 0, (result.stdout + result.stderr).strip()[-300:]
