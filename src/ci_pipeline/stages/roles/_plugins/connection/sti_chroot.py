"""Ansible connection plugin ``sti_chroot``: run a test subject's commands inside a directory tree.

Every command runs as ``/bin/sh -c`` chrooted into the tree, in fresh user, mount, PID, network, IPC
and UTS namespaces (``unshare``): the tests see only the tree, cannot reach the network, cannot see
or signal host processes, and hold capabilities only inside their own user namespace. Files are
copied in and out through the sandbox too, so a symbolic link in the tree never leads to the host.
Nothing in the tree needs Python: use ``raw``, ``script`` or action plugins that stay on the
controller (the ``standard-test-*`` roles shipped with ci-pipeline do).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from ansible.errors import AnsibleConnectionFailure, AnsibleError  # type: ignore[import-untyped]
from ansible.plugins.connection import ConnectionBase  # type: ignore[import-untyped]

DOCUMENTATION = """
    name: sti_chroot
    short_description: run commands chrooted into a directory tree inside new namespaces
    description:
        - Runs every command as /bin/sh -c inside the tree, with unshare and chroot.
    author: ci-pipeline
    options:
        remote_addr:
            description: The absolute path of the tree (the subject's root directory).
            type: string
            default: inventory_hostname
            vars:
                - name: inventory_hostname
                - name: ansible_host
"""

#: The environment of a command in the tree: nothing of the controller's leaks in.
SUBJECT_ENVIRONMENT = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C",
    "LC_ALL": "C",
    "TERM": "dumb",
}
SANDBOX = (
    "unshare",
    "--user",
    "--map-root-user",
    "--mount",
    "--uts",
    "--ipc",
    "--pid",
    "--net",
    "--fork",
    "--kill-child",
)


def sandbox_argv(root: str, command: str, *args: str) -> list[str]:
    """The command line that runs the shell ``command`` (with ``$1``... = ``args``) inside ``root``."""
    return [*SANDBOX, "chroot", root, "/bin/sh", "-c", command, "sh", *args]


class Connection(ConnectionBase):  # type: ignore[misc]
    """A connection to the directory tree named by ``ansible_host``."""

    transport = "sti_chroot"
    _connected: bool
    has_pipelining = False
    #: The action plugins wrap commands in ``/bin/sh -c``; that shell is the tree's own.
    allow_executable = True

    def _root(self) -> str:
        root = str(self.get_option("remote_addr"))
        if not os.path.isabs(root) or not os.path.isdir(root):
            raise AnsibleConnectionFailure(f"The test subject {root} is not a directory tree.")
        if not os.path.lexists(os.path.join(root, "bin", "sh")):
            raise AnsibleConnectionFailure(f"The test subject {root} has no /bin/sh to run tests with.")
        if shutil.which("unshare") is None or shutil.which("chroot") is None:
            raise AnsibleConnectionFailure("unshare and chroot (util-linux, coreutils) are not installed.")
        return root

    def set_become_plugin(self, plugin: Any) -> None:
        """Ignore become (``become: yes``, old ``sudo: yes``): commands already run as root in the tree."""
        self.become = None

    def subject_root(self) -> str:
        """The tree's directory on the controller: host tools (``rpm --root``) can read it directly."""
        return self._root()

    def _connect(self) -> Connection:
        if not self._connected:
            self._root()
            self._connected = True
        return self

    def _run(
        self,
        command: str,
        *args: str,
        stdin: Any = subprocess.PIPE,
        in_data: bytes | None = None,
        stdout: Any = subprocess.PIPE,
    ) -> tuple[int, bytes, bytes]:
        process = subprocess.Popen(
            sandbox_argv(self._root(), command, *args),
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=SUBJECT_ENVIRONMENT,
            cwd="/",
        )
        out, err = process.communicate(in_data)
        return process.returncode, out or b"", err or b""

    def exec_command(
        self, cmd: str, in_data: bytes | None = None, sudoable: bool = True
    ) -> tuple[int, bytes, bytes]:
        """Run the shell command ``cmd`` in the tree."""
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        return self._run(cmd, in_data=in_data)

    def put_file(self, in_path: str, out_path: str) -> None:
        """Copy the controller's file ``in_path`` to ``out_path`` in the tree."""
        super().put_file(in_path, out_path)
        try:
            with open(in_path, "rb") as source:
                rc, _, err = self._run('cat > "$1"', out_path, stdin=source)
        except OSError as exc:
            raise AnsibleError(f"Cannot read {in_path}: {exc}") from exc
        if rc != 0:
            raise AnsibleError(f"Cannot write {out_path} in the test subject: {err.decode(errors='replace')}")

    def fetch_file(self, in_path: str, out_path: str) -> None:
        """Copy ``in_path`` of the tree to the controller's ``out_path``."""
        super().fetch_file(in_path, out_path)
        with open(out_path, "wb") as target:
            rc, _, err = self._run('cat -- "$1"', in_path, stdout=target)
        if rc != 0:
            raise AnsibleError(f"Cannot read {in_path} in the test subject: {err.decode(errors='replace')}")

    def close(self) -> None:
        """Nothing stays open between commands."""
        self._connected = False
