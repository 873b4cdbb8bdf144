"""A stand-in for a lab host: a real SSH server on a loopback port with an OSTree sysroot of its own.

Each lab host is dropbear with a throwaway host key, run as root in a mount and PID namespace
(``unshare``), chrooted into a directory that holds an OSTree sysroot (``ostree admin init-fs`` and
``os-init``) beside a read-only bind of this machine's ``/usr``. So ``ostree pull`` and
``ostree admin deploy`` run for real on it, and write only into its own sysroot (its ``/etc`` is an
overlay on this machine's). Its
``/proc/sys/kernel/random/boot_id`` is a file of its own, and ``systemctl`` there is a script
whose ``reboot`` stops the SSH server: the host then comes back a moment later with a new boot id,
as a rebooted host does (its booted deployment is whatever ``ostree admin status`` reports: a
chroot is booted into none, so the default one counts).
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

#: The stateroot (``--os``) of every lab host.
STATEROOT = "lab"

_LAB_SCRIPT = r"""
set -eu
root=$1 port=$2
lab="$root/run/lab"
mount --rbind -o ro /usr "$root/usr"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$lab/etc,workdir=$lab/etc-work" "$root/etc"
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount --bind "$lab/boot_id" "$root/proc/sys/kernel/random/boot_id"
mount --bind "$lab/systemctl" "$root/usr/bin/systemctl"
while [ ! -e "$lab/stop" ]; do
    if [ -e "$lab/down" ]; then sleep 0.2; continue; fi
    chroot "$root" /usr/sbin/dropbear -F -E -s -p "127.0.0.1:$port" -r /run/lab/host_key \
        -P /run/lab/dropbear.pid &
    server=$!
    while kill -0 "$server" 2>/dev/null; do
        if [ -e "$lab/down" ] || [ -e "$lab/stop" ]; then kill "$server"; fi
        sleep 0.2
    done
    wait "$server" || true
    cat /proc/sys/kernel/random/uuid > "$lab/boot_id"
done
"""

_SYSTEMCTL = """#!/bin/sh
# The lab host's systemctl: "reboot" stops its SSH server, which comes back with a new boot id.
case "$1" in
    reboot) kill "$(cat /run/lab/dropbear.pid)" ;;
    *) echo "systemctl $*: not on a lab host" >&2; exit 1 ;;
esac
"""


@dataclass
class LabHost:
    """One running lab host: its name, SSH port, root directory and the process that runs it."""

    name: str
    port: int
    root: Path
    process: subprocess.Popen[bytes]

    def take_down(self) -> None:
        """Stop answering on SSH, as a host that is off."""
        (self.root / "run/lab/down").touch()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                return
            time.sleep(0.1)
        raise RuntimeError(f"The lab host {self.name} still answers on port {self.port}.")

    def deployments(self) -> str:
        """What ``ostree admin status`` says of this host's sysroot."""
        return subprocess.run(
            ["ostree", "admin", "status", f"--sysroot={self.root}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def stop(self) -> None:
        """End the host and everything in its namespace."""
        (self.root / "run/lab/stop").touch()
        self.process.kill()
        self.process.wait()
        # ostree marks deployment roots immutable; without this nobody could delete the sysroot.
        deployments = self.root / "ostree/deploy"
        subprocess.run(["chattr", "-R", "-i", str(deployments)], capture_output=True, check=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_key(directory: Path) -> Path:
    """A fresh ed25519 key pair for the SSH client; returns the private key's path."""
    key = directory / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


def start_lab_host(name: str, directory: Path, authorized_key: Path) -> LabHost:
    """Start a lab host rooted in ``directory`` that lets in ``authorized_key``'s holder as root."""
    root = directory / name
    root.mkdir(parents=True)
    subprocess.run(["ostree", "admin", "init-fs", str(root)], check=True, capture_output=True)
    subprocess.run(
        ["ostree", "admin", "os-init", f"--sysroot={root}", STATEROOT], check=True, capture_output=True
    )
    for sub in (
        "usr",
        "etc",
        "dev",
        "proc",
        "run/lab/etc",
        "run/lab/etc-work",
        "root/.ssh",
        "tmp",
        "var/tmp",
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for link, target in (
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
    ):
        if not (root / link).exists():
            (root / link).symlink_to(target)
    lab = root / "run/lab"
    (lab / "boot_id").write_text(f"{uuid.uuid4()}\n")
    (lab / "systemctl").write_text(_SYSTEMCTL)
    (lab / "systemctl").chmod(0o755)
    (root / "root/.ssh/authorized_keys").write_text(authorized_key.with_suffix(".pub").read_text())
    subprocess.run(
        ["dropbearkey", "-t", "ed25519", "-f", str(lab / "host_key")], check=True, capture_output=True
    )
    port = free_port()
    with (directory / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--kill-child",
                "sh",
                "-c",
                _LAB_SCRIPT,
                "lab",
                str(root),
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    host = LabHost(name=name, port=port, root=root, process=process)
    _wait_listening(host)
    return host


def _wait_listening(host: LabHost, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.process.poll() is not None:
            raise RuntimeError(f"The lab host {host.name} ended: see {host.root.parent / host.name}.log")
        try:
            with socket.create_connection(("127.0.0.1", host.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"The lab host {host.name} does not listen on port {host.port}.")
