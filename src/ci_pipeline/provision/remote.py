"""Commands on a provisioned host over SSH, with the OpenSSH client.

Every connection is non-interactive (``BatchMode``), uses only the host's key, and learns an unknown
host key on first contact into the provisioners' own ``known_hosts`` file (a changed key is refused).
Values reach the remote shell quoted (:func:`shlex.quote`) by the callers.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.provision.base import Host
from ci_pipeline.stages.tools import capture_tool

#: The pause between two tries to reach a host that does not answer yet.
RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class SSHOptions:
    """How this side connects: its ``known_hosts`` file and the time one connection may take."""

    known_hosts: Path
    connect_timeout: int = 10

    def argv(self, host: Host, command: str) -> list[str]:
        """The ssh command line that runs ``command`` (a shell command line) on ``host``."""
        return [
            "ssh",
            "-q",
            "-i",
            str(host.key),
            "-p",
            str(host.port),
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            f"ConnectTimeout={self.connect_timeout}",
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            "-o",
            "LogLevel=ERROR",
            "--",
            f"{host.user}@{host.address}",
            command,
        ]


def run_remote(
    host: Host, command: str, options: SSHOptions, log_path: Path, *, timeout: float, failure: str = ""
) -> str:
    """Run ``command`` on ``host``; return what it printed. A failure is a StageFailure naming the host."""
    options.known_hosts.parent.mkdir(parents=True, exist_ok=True)
    return capture_tool(
        options.argv(host, command),
        log_path,
        timeout=timeout,
        failure=failure or f"'{command[:120]}' on the machine {host.name} failed",
    )


def answers(host: Host, options: SSHOptions) -> bool:
    """Whether ``host`` runs a command over SSH now (within one connection's timeout)."""
    options.known_hosts.parent.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            options.argv(host, "true"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=options.connect_timeout + 5,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    except FileNotFoundError as exc:
        raise InfrastructureError("The program ssh (OpenSSH's client) is not installed.") from exc
    return done.returncode == 0


def wait_for_ssh(host: Host, options: SSHOptions, timeout: float) -> float:
    """Wait until ``host`` answers over SSH; return the seconds it took.

    A host that does not answer within ``timeout`` is a StageFailure naming it.
    """
    start = time.monotonic()
    deadline = start + timeout
    while not answers(host, options):
        if time.monotonic() >= deadline:
            raise StageFailure(
                f"The machine {host.name} ({host.address} port {host.port}) did not answer over SSH "
                f"within {timeout:g} s."
            )
        time.sleep(min(RETRY_SECONDS, max(0.0, deadline - time.monotonic())))
    return time.monotonic() - start
