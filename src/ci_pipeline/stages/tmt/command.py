"""The ``tmt run`` command lines: which tmt, and how it provisions the subject.

tmt lives in a virtualenv of its own (``.venv-tmt`` beside ours, made by ``scripts/setup.sh``) and
is called as a tool. A subject is either a directory tree, entered through the same sandbox as the
STI tests (the ``ci-pipeline-sandbox`` provision method of :mod:`._plugins`), or a booted machine
reached over SSH (``ci-pipeline-connect``: tmt's own ``connect`` without its 30 s wait for the SSH
master at each step, with the SSH client's host key checks given in its environment). Everything put
on a command line here is checked first: it may come from a
message.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.machines.ssh import SshTarget, host_key_settings

#: The folder of ci-pipeline's tmt plugins, named to tmt in ``TMT_PLUGINS``.
PLUGINS_DIR = Path(__file__).resolve().parent / "_plugins"
#: The provision method of a sandboxed tree (:mod:`._plugins.provision_sandbox`).
SANDBOX_METHOD = "ci-pipeline-sandbox"
#: The provision method of a booted machine (:mod:`._plugins.provision_connect`).
CONNECT_METHOD = "ci-pipeline-connect"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
#: tmt turns ``TMT_SSH_STRICT_HOST_KEY_CHECKING=v`` into ``-oStrictHostKeyChecking=v`` ahead of its
#: own defaults.
SSH_OPTION_PREFIX = "TMT_SSH_"
_WORD_START = re.compile(r"(?<=[a-z])(?=[A-Z])")


def tmt_program() -> str:
    """The tmt to run: the one of the virtualenv beside ours, else one on ``PATH``."""
    beside = Path(sys.prefix).parent / ".venv-tmt" / "bin" / "tmt"
    if beside.is_file():
        return str(beside)
    found = shutil.which("tmt")
    if found is None:
        raise InfrastructureError("tmt is not installed (scripts/setup.sh puts it in .venv-tmt).")
    return found


def sandbox_provision(root: Path, installed: Sequence[str] = ()) -> list[str]:
    """tmt's ``provision`` step for the tree ``root``, run inside the STI tests' sandbox;
    ``installed`` are the requirements already installed into it (package names or paths)."""
    if not root.is_absolute() or not root.is_dir():
        raise StageFailure(f"The test subject {root} is not a directory tree.")
    if any(not word or any(c.isspace() for c in word) for word in installed):
        raise StageFailure("A requirement installed into the test subject has no name or has spaces.")
    # The STI connection plugin owns the sandbox; it imports ansible, so only a tmt run loads it.
    from ci_pipeline.stages.roles._plugins.connection.sti_chroot import SANDBOX

    provision = ["provision", "--how", SANDBOX_METHOD, "--root", str(root), "--sandbox", shlex.join(SANDBOX)]
    return [*provision, "--installed", " ".join(installed)] if installed else provision


def connect_provision(target: SshTarget) -> list[str]:
    """tmt's provision step for the machine ``target`` (tmt's ``connect``, through
    :data:`CONNECT_METHOD`); StageFailure when a part is not valid."""
    if not _valid_host(target.host):
        raise StageFailure(f"The machine's address {target.host[:100]!r} is not a host name or IP address.")
    if not 1 <= target.port <= 65535:
        raise StageFailure(f"The machine's SSH port {target.port} is not a TCP port.")
    if not _USER.fullmatch(target.user):
        raise StageFailure(f"The machine's user {target.user[:40]!r} is not a user name.")
    if not target.key.is_absolute() or not target.key.is_file():
        raise StageFailure(f"The machine's SSH key {target.key} is not a file.")
    return [
        "provision", "--how", CONNECT_METHOD, "--guest", target.host, "--port", str(target.port),
        "--user", target.user, "--key", str(target.key),
    ]


def connect_environment(target: SshTarget) -> dict[str, str]:
    """The environment variables that give tmt's connections to ``target`` the SSH client's host key
    checks (:func:`~ci_pipeline.machines.ssh.host_key_settings`).

    tmt puts ``StrictHostKeyChecking=no`` and ``UserKnownHostsFile=/dev/null`` on each ssh command line
    ahead of any ``--ssh-option``, and ssh takes an option's first value; only the options of its
    ``TMT_SSH_*`` variables come before them.
    """
    return {
        SSH_OPTION_PREFIX + _WORD_START.sub("_", name).upper(): value
        for name, value in host_key_settings(target.known_hosts).items()
    }


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _HOSTNAME.fullmatch(host) is not None
    return True


def run_command(program: str, tree: Path, workdir: Path, provision: Sequence[str]) -> list[str]:
    """``tmt run`` of every plan of the fmf tree ``tree``, its run directory ``workdir``, on the
    subject ``provision`` names; results end in ``<workdir>/<plan>/execute/results.yaml``."""
    return [program, "--root", str(tree), "run", "--id", str(workdir), "--scratch", "--all", *provision]
