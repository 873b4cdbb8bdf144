"""Reaching a booted machine over SSH with the OpenSSH client: a fresh key pair, commands, files.

Every command runs non-interactively (``BatchMode``), uses only the target's key, gives up on a
silent machine after ``ConnectTimeout`` and is killed after its own timeout. A booted machine's new
host key is trusted without being recorded (each boot has a fresh one); a target with a
``known_hosts`` file (a lab host) learns its key on first contact there and refuses a changed one.
The other SSH users (Ansible's inventories, tmt's ``connect``, the e2e scripts' ``E2E_SSH``) take the
same checks from here (:func:`host_key_settings`), each in the form it reads.
Guests need neither sftp nor scp: files go through the command's standard input (``cat > path``).
Commands are run by the guest's POSIX shell.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.stages import base

CONNECT_TIMEOUT = 5
COMMAND_TIMEOUT = 120.0
#: How long one "is SSH up yet?" attempt may take, how long it waits for the server's greeting (a
#: guest whose network is not up yet never sends one: qemu's forwarded port accepts regardless), and
#: the pause between attempts.
PROBE_TIMEOUT = 8.0
PROBE_CONNECT_TIMEOUT = 2
PROBE_PAUSE = 0.2
#: How often a waiting attempt asks whether the machine still runs.
WATCH_INTERVAL = 0.1
#: The client options of every connection (also handed to Ansible), beside ``ConnectTimeout`` and
#: the host key checks.
CLIENT_OPTIONS = (
    "-o",
    "BatchMode=yes",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ServerAliveInterval=5",
    "-o",
    "ServerAliveCountMax=3",
)
#: What ends or splits an unquoted ssh_config argument besides blanks.
_CONFIG_SPECIAL = "\"'#\\"


@dataclass(frozen=True)
class KeyPair:
    """A private key file and its public key line."""

    private: Path
    public: str


@dataclass(frozen=True)
class SshTarget:
    """Where a machine's SSH server answers on this host, and how to log in."""

    host: str
    port: int
    user: str
    key: Path
    #: Where its host key is learnt and checked (``None``: trusted unrecorded, a fresh machine).
    known_hosts: Path | None = None
    connect_timeout: int = CONNECT_TIMEOUT


@dataclass(frozen=True)
class CommandResult:
    """How a command on a machine ended."""

    returncode: int
    stdout: str
    stderr: str


def new_key_pair(directory: Path, log_path: Path) -> KeyPair:
    """A new ed25519 key pair without passphrase in ``directory`` (created, private to this user)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = directory / "id_ed25519"
    for stale in (private, private.with_suffix(".pub")):
        stale.unlink(missing_ok=True)
    base.run_tool(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci-pipeline", "-f", str(private)],
        log_path,
        timeout=30.0,
        failure="ssh-keygen could not make a key pair",
    )
    public = private.with_suffix(".pub").read_text(encoding="utf-8").strip()
    return KeyPair(private=private, public=public)


def host_key_settings(known_hosts: Path | None) -> dict[str, str]:
    """The ssh_config settings of the host key checks, by name: the one rule of every SSH user.

    With ``known_hosts`` (a lab host) a key is learnt there on first contact and a changed one is
    refused; its directory is made here, since ssh records no key into a missing one. Without it (a
    machine booted for this run, with a fresh key) any key is trusted and none is recorded.
    """
    if known_hosts is None:
        return {"StrictHostKeyChecking": "no", "UserKnownHostsFile": "/dev/null"}
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    return {"StrictHostKeyChecking": "accept-new", "UserKnownHostsFile": config_path(known_hosts)}


def config_path(path: Path) -> str:
    """``path`` as an ssh_config argument: ``%`` escaped (ssh expands tokens in file names), and
    double-quoted when it holds what would split or end the argument (blanks, quotes, ``#``)."""
    text = str(path).replace("%", "%%")
    if not any(c.isspace() or c in _CONFIG_SPECIAL for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def client_options(connect_timeout: int = CONNECT_TIMEOUT, known_hosts: Path | None = None) -> list[str]:
    """The ssh options of every connection, giving up on a silent server after ``connect_timeout`` s.

    Host keys are checked as :func:`host_key_settings` says.
    """
    checks = [
        word for name, value in host_key_settings(known_hosts).items() for word in ("-o", f"{name}={value}")
    ]
    return [*CLIENT_OPTIONS, *checks, "-o", f"ConnectTimeout={connect_timeout}"]


def target_options(target: SshTarget, connect_timeout: int | None = None) -> list[str]:
    """The ssh options of a connection to ``target``: :func:`client_options` with its host key
    record, and its key as the only identity."""
    return [
        *client_options(connect_timeout or target.connect_timeout, target.known_hosts),
        "-o",
        "IdentitiesOnly=yes",
        "-i",
        str(target.key),
    ]


def ssh_argv(target: SshTarget, command: str, connect_timeout: int | None = None) -> list[str]:
    """The ssh command line that runs the shell ``command`` on ``target``."""
    return [
        "ssh",
        *target_options(target, connect_timeout),
        "-p",
        str(target.port),
        "-T",
        f"{target.user}@{target.host}",
        command,
    ]


def login_command(target: SshTarget) -> str:
    """A shell command line that logs in as ``target``'s user with its key and host key checks, to
    which a script adds ``-p PORT ADDRESS COMMAND`` (for the machines that share them)."""
    return shlex.join(["ssh", *target_options(target), "-l", target.user])


def ansible_ssh_args(target: SshTarget) -> str:
    """The client options of ``target`` as one shell-quoted string, for ``ansible_ssh_common_args``
    (Ansible passes its key and port itself)."""
    return shlex.join(client_options(target.connect_timeout, target.known_hosts))


def run(
    target: SshTarget, command: str, *, timeout: float = COMMAND_TIMEOUT, stdin: bytes | None = None
) -> CommandResult:
    """Run ``command`` on ``target``; exit status 255 means ssh itself failed (see ``stderr``)."""
    done = _run_bytes(target, command, timeout, stdin or b"")
    return CommandResult(
        done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")
    )


def _run_bytes(
    target: SshTarget, command: str, timeout: float, stdin: bytes
) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ssh_argv(target, command), input=stdin, capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise InfrastructureError("The OpenSSH client (ssh) is not installed.") from exc
    except subprocess.TimeoutExpired as exc:
        raise StageFailure(f"The command {command[:200]!r} did not finish within {timeout:g} s.") from exc


def check_output(target: SshTarget, command: str, *, timeout: float = COMMAND_TIMEOUT) -> str:
    """``command``'s standard output; StageFailure with its error output when it fails."""
    result = run(target, command, timeout=timeout)
    if result.returncode != 0:
        why = (result.stderr or result.stdout).strip()[-500:]
        raise StageFailure(
            f"{command[:200]!r} failed on the machine (exit status {result.returncode}): {why}"
        )
    return result.stdout


def copy_to(target: SshTarget, local: Path, remote: str, *, timeout: float = COMMAND_TIMEOUT) -> None:
    """Copy the file ``local`` to the path ``remote`` on the machine, through ``cat``."""
    quoted = shlex.quote(remote)
    result = run(target, f"cat > {quoted}", stdin=local.read_bytes(), timeout=timeout)
    if result.returncode != 0:
        raise StageFailure(f"Copying {local.name} to {remote} failed: {result.stderr.strip()[-300:]}")


def copy_from(target: SshTarget, remote: str, *, timeout: float = COMMAND_TIMEOUT) -> bytes:
    """The bytes of the file ``remote`` on the machine, through ``cat``."""
    done = _run_bytes(target, f"cat {shlex.quote(remote)}", timeout, b"")
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip()[-300:]
        raise StageFailure(f"Reading {remote} from the machine failed: {why}")
    return done.stdout


def wait_for_ssh(target: SshTarget, deadline: float, still_booting: Callable[[], str]) -> float:
    """Wait until ``ssh ... true`` succeeds; the seconds it took.

    ``still_booting`` returns why the machine can no longer answer ("" while it may), and is asked
    every :data:`WATCH_INTERVAL` even while an attempt waits; StageFailure when it says so or when
    ``deadline`` (a ``time.monotonic()`` value) passes.
    """
    started = time.monotonic()
    last = ""
    while True:
        if time.monotonic() >= deadline:
            raise StageFailure(
                f"SSH on port {target.port} did not answer within {time.monotonic() - started:.0f} s"
                + (f" (last: {last})" if last else "")
            )
        returncode, stderr = _probe(target, min(deadline, time.monotonic() + PROBE_TIMEOUT), still_booting)
        if returncode == 0:
            return time.monotonic() - started
        last = stderr.strip().splitlines()[-1][:200] if stderr.strip() else last
        time.sleep(PROBE_PAUSE)


def _probe(target: SshTarget, until: float, still_booting: Callable[[], str]) -> tuple[int, str]:
    """One ``ssh ... true`` attempt, given up at ``until``; its exit status and error output."""
    try:
        process = subprocess.Popen(
            ssh_argv(target, "true", PROBE_CONNECT_TIMEOUT),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError as exc:
        raise InfrastructureError("The OpenSSH client (ssh) is not installed.") from exc
    try:
        while process.poll() is None and time.monotonic() < until:
            why = still_booting()
            if why:
                raise StageFailure(f"The machine stopped before SSH answered: {why}")
            time.sleep(WATCH_INTERVAL)
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate()
    return process.returncode, stderr.decode("utf-8", "replace")
