"""tmt package manager plugin ``ci-pipeline-sandbox``: the requirements of a sandboxed tree are
installed before tmt runs, so tmt only checks them.

The tree has no network (the sandbox has a network namespace of its own): ci-pipeline installs every
requirement of the plans and tests into it with ``dnf --installroot`` first. This plugin tells tmt
which of them are there (those ci-pipeline says it installed, files with ``test -e``, packages with
the tree's ``rpm`` when it has one, else a command of that name) and refuses to install anything,
naming what is missing: a requirement missing from the tree is an error of the test set-up,
reported as tmt's own error. tmt picks it for the ``ci-pipeline-sandbox`` guest only: its probe
succeeds where ``CI_PIPELINE_SANDBOX`` is set, which the guest sets in every command it runs.
"""

from __future__ import annotations

from tmt.package_managers import (
    FileSystemPath,
    Installable,
    Options,
    PackageManager,
    PackageManagerEngine,
    escape_installables,
    provides_package_manager,
)
from tmt.utils import Command, CommandOutput, PrepareError, ShellScript

#: The variable the sandbox guest sets in every command; the probe looks for it.
SANDBOX_MARKER = "CI_PIPELINE_SANDBOX"


def _missing(*installables: Installable) -> str:
    return ", ".join(str(installable) for installable in installables)


class SandboxEngine(PackageManagerEngine):  # type: ignore[misc]
    """Shell scripts that check the tree; every change of it is refused."""

    def prepare_command(self) -> tuple[Command, Command]:
        """No package manager command exists in the tree's stead."""
        return Command("true"), Command()

    def check_presence(self, *installables: Installable) -> ShellScript:
        """Print each installable that is not in the tree, one a line (the script always succeeds)."""
        lines = []
        for installable, escaped in zip(installables, escape_installables(*installables), strict=True):
            if isinstance(installable, FileSystemPath):
                lines.append(f"test -e {escaped} || echo {escaped}")
            else:
                lines.append(
                    f"if command -v rpm >/dev/null 2>&1; then rpm -q --whatprovides {escaped} >/dev/null 2>&1"
                    f" || echo {escaped}; else command -v {escaped} >/dev/null 2>&1 || echo {escaped}; fi"
                )
        return ShellScript("\n".join([*lines, "true"]))

    def _refuse(self, *installables: Installable, options: Options | None = None) -> ShellScript:
        raise PrepareError(
            f"The test subject lacks {_missing(*installables)}: ci-pipeline installs the plans' requirements "
            "before the tests run, and these were not among them or could not be installed."
        )

    install = reinstall = install_debuginfo = _refuse

    def refresh_metadata(self) -> ShellScript:
        """Nothing to refresh: the tree has no repositories of its own to use."""
        return ShellScript("true")

    def enable_repo(self, *repo_ids: str) -> ShellScript:
        """Repositories cannot be used from the tree (it has no network)."""
        raise PrepareError(f"The test subject cannot enable repositories ({', '.join(repo_ids)}).")

    disable_repo = enable_repo


@provides_package_manager("ci-pipeline-sandbox")
class SandboxPackageManager(PackageManager[SandboxEngine]):  # type: ignore[misc]
    """Checks a sandboxed tree's requirements; never installs."""

    NAME = "ci-pipeline-sandbox"
    probe_command = Command("sh", "-c", f'test -n "${SANDBOX_MARKER}"')
    probe_priority = 1000
    _engine_class = SandboxEngine

    def check_presence(self, *installables: Installable) -> dict[Installable, bool]:
        """Which installables are in the tree: those ci-pipeline installed, and those the tree shows."""
        installed: frozenset[str] = getattr(self.guest, "installed", frozenset())
        asked = [item for item in installables if str(item) not in installed]
        if not asked:
            return dict.fromkeys(installables, True)
        output = self.guest.execute(self.engine.check_presence(*asked))
        missing = {line.strip() for line in (output.stdout or "").splitlines() if line.strip()}
        escaped = dict(zip(asked, escape_installables(*asked), strict=True))
        return {
            item: item not in escaped or (escaped[item] not in missing and str(item) not in missing)
            for item in installables
        }

    def install(self, *installables: Installable, options: Options | None = None) -> CommandOutput:
        """Nothing missing is fine; anything missing is refused with what it is."""
        options = options or Options()
        missing = [item for item, present in self.check_presence(*installables).items() if not present]
        if missing:
            self.engine.install(*missing)
        return CommandOutput(stdout=None, stderr=None)

    reinstall = install

    def install_debuginfo(
        self, *installables: Installable, options: Options | None = None
    ) -> CommandOutput:
        """Debuginfo is never installed into the tree."""
        self.engine.install(*installables)
        return CommandOutput(stdout=None, stderr=None)

    def refresh_metadata(self) -> CommandOutput:
        """Nothing to refresh."""
        return CommandOutput(stdout=None, stderr=None)
