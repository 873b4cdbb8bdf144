"""tmt provision plugin ``ci-pipeline-connect``: tmt's ``connect``, with a fast SSH master connection.

tmt runs a guest's commands through an SSH master connection whose control socket lives in its run
directory; a socket path of 84 characters or more (most of ours: the run directory is deep in the
stage's work directory) makes it warn and open a new SSH connection for each of its ~70 commands of
a small plan, each a full handshake with a slow guest. Here the socket lives in a private directory
of the tmt process in the system's temporary directory instead, so the master is used.

With the master, tmt stops it when a step starts and when it ends, and spawns a new one at the
step's first command (provision, prepare and execute each have one); right after spawning it asks the
master whether it is up (``ssh -O check``, in ``GuestSsh._assert_ssh_master_process``). Milliseconds
after the spawn the master is still logging in, so that first check always fails, and tmt's waiting
for the master (``default_ssh_master_start_waiting``) uses the default tick of ``tmt.utils.wait``: it
sleeps 30 s before checking again, however soon the machine answers. No option or environment
variable changes that tick (``TMT_SSH_MASTER_START_TIMEOUT`` sets only the deadline). This guest's
spawn returns once the master has logged in, i.e. when its control socket exists (OpenSSH creates it
after authentication), looking every :data:`MASTER_POLL` seconds, so tmt's first check succeeds. A
master that ends before (a machine not answering, a refused key) is a failed command at once, which
tmt's waiting for a connection retries (``TMT_CONNECT_TIMEOUT``), rather than 2 min of 30 s ticks.

Everything else is tmt's ``connect``, with the same options. tmt loads this module from
``TMT_PLUGINS`` (in tmt's own virtualenv: it imports tmt, never ci_pipeline).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import shutil
import tempfile
import time

import tmt.guest
import tmt.log
import tmt.steps
import tmt.steps.provision
import tmt.utils
from tmt.steps.provision.connect import ConnectGuestData, GuestConnect, ProvisionConnect
from tmt.utils import Command, Path
from tmt.utils.feeling_safe import UB_REBOOT_KEYS

#: How often the spawn looks whether the master has logged in, in seconds.
MASTER_POLL = 0.05


@functools.cache
def socket_directory() -> Path:
    """The directory of this tmt process's SSH master sockets (private to this user), removed when
    the process ends."""
    directory = Path(tempfile.mkdtemp(prefix="tmt-ssh-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


class GuestConnectReady(GuestConnect):  # type: ignore[misc]
    """tmt's ``connect`` guest whose SSH master socket has a short path, and whose master is logged
    in when its spawn returns (a master that ended first is a failed command)."""

    @functools.cached_property
    def _ssh_master_socket_path(self) -> Path:
        guest = f"{self.primary_address}-{self.port}-{self.user}"
        return socket_directory() / f"{hashlib.sha256(guest.encode()).hexdigest()[:16]}.socket"

    def _spawn_ssh_master_process(self, logger: tmt.log.Logger | None = None) -> None:
        super()._spawn_ssh_master_process(logger)
        process, socket = self._ssh_master_process, self._ssh_master_socket_path
        deadline = time.monotonic() + tmt.guest.SSH_MASTER_START_TIMEOUT
        while process.poll() is None and not socket.exists() and time.monotonic() < deadline:
            time.sleep(MASTER_POLL)
        if process.poll() is not None and not socket.exists():
            # tmt's check would fail until its deadline (2 min, in 30 s ticks); a failed command
            # lets tmt's connection waiting try again on its own deadline (TMT_CONNECT_TIMEOUT).
            raise tmt.utils.RunError(
                f"The SSH master connection to '{self._ssh_guest}' ended before logging in"
                f" (exit status {process.returncode}).",
                Command(*process.args),
                process.returncode,
            )


@tmt.steps.provides_method("ci-pipeline-connect")
class ProvisionConnectReady(ProvisionConnect):  # type: ignore[misc]
    """
    Connect to a running machine over SSH as ``connect`` does, minus its 30 s SSH master waits.

    .. code-block:: shell

        provision --how ci-pipeline-connect --guest 192.0.2.7 --port 22 --user root --key ~/.ssh/id
    """

    _guest_class = GuestConnectReady

    def go(self, *, logger: tmt.log.Logger | None = None) -> None:
        """Make the guest (``connect`` makes its own guest class, hence the copy of its few steps)."""
        tmt.steps.provision.ProvisionPlugin.go(self, logger=logger)
        if not self.data.guest:
            raise tmt.utils.SpecificationError("Provide a host name or an ip address to connect.")
        if any((self.data.soft_reboot, self.data.systemd_soft_reboot, self.data.hard_reboot)):
            UB_REBOOT_KEYS.assert_is_allowed(self._logger)
        data = ConnectGuestData.from_plugin(self)
        data.show(verbose=self.verbosity_level, logger=self._logger)
        self._guest = GuestConnectReady(logger=self._logger, data=data, name=self.name, parent=self.step)
        self._guest.start()
        self._guest.setup()
