"""tmt provision plugin ``ci-pipeline-sandbox``: a guest that is a directory tree run in a sandbox.

tmt loads this module from ``TMT_PLUGINS`` (it runs in tmt's own virtualenv: it imports tmt, never
ci_pipeline). Every guest command runs as ``/bin/bash -c`` chrooted into the tree given by
``--root``, inside the namespaces the command prefix ``--sandbox`` creates (ci-pipeline passes the
``sti_chroot`` connection's ``unshare`` line, so tmt tests are as contained as STI ones), with none
of tmt's own environment. tmt's run directory is bind-mounted into the tree at the same path, so
tests, scripts and results need no copying and ``push``/``pull`` are no-ops. Nothing runs on the
scheduler's host but the sandbox's own set-up.
"""

from __future__ import annotations

import shlex
from typing import Any

import tmt
import tmt.guest
import tmt.log
import tmt.steps
import tmt.steps.provision
import tmt.utils
from tmt.container import container, field
from tmt.steps.provision.local import GuestLocal
from tmt.utils import Command, Path, ShellScript
from tmt.utils.environment import Environment

#: The environment of every command in the tree: nothing of tmt's process leaks in.
SUBJECT_ENVIRONMENT = (
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C",
    "LC_ALL=C",
    "TERM=dumb",
    # How tmt tells this guest apart: the package manager plugin beside this one probes for it.
    "CI_PIPELINE_SANDBOX=1",
)
#: Run inside the new namespaces before the chroot: bind tmt's run directory into the tree at the
#: same path, then become the tree. ``$1`` is the tree, ``$2`` the run directory, the rest the command.
#: The tree is the subject's (tests run in it, and may have changed it): a symbolic link on the way
#: to the mount point would lead ``mkdir`` and ``mount`` out of the tree, so none is followed.
ENTER_TREE = (
    'root=$1; shared=$2; shift 2; inside=$root; saved_ifs=$IFS; IFS=/; set -f; '
    'for part in $shared; do [ -n "$part" ] || continue; inside=$inside/$part; '
    'if [ -L "$inside" ]; then echo "ci-pipeline: $inside is a symbolic link in the test subject" >&2; '
    "exit 125; fi; done; IFS=$saved_ifs; set +f; "
    'mkdir -p "$root$shared" && mount --rbind "$shared" "$root$shared" && exec chroot "$root" "$@"'
)


@container
class ProvisionSandboxData(tmt.guest.GuestData, tmt.steps.provision.ProvisionStepData):  # type: ignore[misc]
    """The tree to run in and the sandbox command prefix."""

    root: str | None = field(
        default=None, option="--root", metavar="PATH", help="The directory tree the guest is."
    )
    sandbox: str | None = field(
        default=None,
        option="--sandbox",
        metavar="COMMAND",
        help="The command prefix that creates the sandbox's namespaces (shell words).",
    )
    installed: str | None = field(
        default=None,
        option="--installed",
        metavar="PACKAGES",
        help="The requirements already installed into the tree (space-separated).",
    )


class GuestSandbox(GuestLocal):  # type: ignore[misc]
    """A directory tree on this host, entered only through the sandbox."""

    root: str = ""
    sandbox: tuple[str, ...] = ()
    #: The requirements ci-pipeline installed into the tree before tmt ran.
    installed: frozenset[str] = frozenset()

    def _prepare_command_environment(self, environment: Environment | None = None) -> Environment:
        # The generic guest's environment (tmt's and the plan's variables), not the local one's,
        # which copies the whole environment of tmt's process.
        return tmt.guest.Guest._prepare_command_environment(self, environment=environment)

    def execute(
        self,
        command: Command | ShellScript,
        cwd: Path | None = None,
        environment: Environment | None = None,
        friendly_command: str | None = None,
        test_session: bool = False,
        immediately: bool = True,
        tty: bool = False,
        silent: bool = False,
        log: tmt.log.LoggingFunction | None = None,
        interactive: bool = False,
        on_process_start: Any = None,
        on_process_end: Any = None,
        sourced_files: list[Path] | None = None,
        **kwargs: Any,
    ) -> tmt.utils.CommandOutput:
        """Run ``command`` with bash in the tree, in ``cwd`` (a path inside the tree)."""
        script = ShellScript.from_scripts(
            self._prepare_command_environment(environment=environment).to_shell_exports()
        )
        if cwd is not None:
            script += ShellScript(f"cd {shlex.quote(str(cwd))}")
        for file in reversed(sourced_files or []):
            script += ShellScript(f"source {shlex.quote(str(file))}")
        script += command.to_script() if isinstance(command, Command) else command
        shared = str(self.parent.run_workdir.absolute())
        wrapped = Command(
            "env", "-i", *SUBJECT_ENVIRONMENT, *self.sandbox,
            "/bin/sh", "-c", ENTER_TREE, "sh", self.root, shared,
            "/bin/bash", "-c", script.to_element(),
        )
        return self._run_guest_command(
            wrapped,
            log=log,
            friendly_command=friendly_command or str(command),
            silent=silent,
            cwd=Path("/"),
            interactive=interactive,
            on_process_start=on_process_start,
            on_process_end=on_process_end,
            **kwargs,
        )

    def start(self) -> None:
        """Check once that the tree can be entered: a tree is there or not, waiting changes nothing."""
        self.verbose("sandboxed tree", self.root, "green")
        try:
            self.execute(Command("true"), silent=True)
        except tmt.utils.RunError as exc:
            raise tmt.utils.ProvisionError(
                f"The test subject {self.root} cannot be entered: {exc.stderr or exc}"
            ) from exc


@tmt.steps.provides_method("ci-pipeline-sandbox")
class ProvisionSandbox(tmt.steps.provision.ProvisionPlugin[ProvisionSandboxData]):  # type: ignore[misc]
    """
    Run the tests in a directory tree inside a sandbox (unshare + chroot), never on the host.

    .. code-block:: shell

        provision --how ci-pipeline-sandbox --root /srv/subject --sandbox 'unshare --user ...'
    """

    _data_class = ProvisionSandboxData
    _guest_class = GuestSandbox
    _thread_safe = True
    _guest = None

    def go(self, *, logger: tmt.log.Logger | None = None) -> None:
        """Make the guest of the tree named by ``--root``."""
        super().go(logger=logger)
        root, sandbox = self.data.root, self.data.sandbox
        if not root or not Path(root).is_absolute() or not (Path(root) / "bin" / "sh").exists():
            raise tmt.utils.ProvisionError(f"The test subject {root!r} is not a tree with a /bin/sh.")
        if not sandbox:
            raise tmt.utils.ProvisionError("No sandbox command is given (--sandbox).")
        data = tmt.guest.GuestData.from_plugin(self)
        data.primary_address = "localhost"
        guest = GuestSandbox(logger=self._logger, data=data, name=self.name, parent=self.step)
        guest.root = root
        guest.sandbox = tuple(shlex.split(sandbox))
        guest.installed = frozenset((self.data.installed or "").split())
        self._guest = guest
        guest.start()
        guest.setup()
