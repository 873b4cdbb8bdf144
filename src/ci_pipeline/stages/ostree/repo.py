"""Thin wrappers over the ``ostree`` command for the compose and image stages.

Every call goes through :func:`ci_pipeline.stages.base.run_tool` so that its output lands in the
stage log and its process group dies on a timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.stages import base
from ci_pipeline.stages.fields import COMMIT_CHECKSUM

#: A shell snippet that runs "$@" with its standard output in the file "$1" (argv stays unquoted data).
_TO_FILE = 'out="$1"; shift; exec "$@" > "$out"'


def run_to_file(argv: Sequence[str], out: Path, log_path: Path, *, timeout: float | None = None) -> str:
    """Run a tool with its standard output written to ``out``; return that output."""
    base.run_tool(["sh", "-c", _TO_FILE, "sh", str(out), *argv], log_path, timeout=timeout)
    return out.read_text(encoding="utf-8", errors="replace")


def init_repo(repo: Path, mode: str, log_path: Path, *, fsync: bool = True) -> None:
    """Create an OSTree repo of ``mode`` (archive, bare, bare-user) unless it exists.

    ``fsync=False`` suits caches only: writes are faster and a crash may lose objects.
    """
    if (repo / "config").is_file():
        return
    repo.mkdir(parents=True, exist_ok=True)
    base.run_tool(["ostree", f"--repo={repo}", "init", f"--mode={mode}"], log_path)
    if not fsync:
        base.run_tool(["ostree", f"--repo={repo}", "config", "set", "core.fsync", "false"], log_path)


def resolve_ref(repo: Path, ref: str) -> str | None:
    """The commit checksum at ``ref`` in ``repo``, or None when the ref does not exist."""
    path = repo / "refs" / "heads" / ref
    try:
        checksum = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InfrastructureError(f"The OSTree ref file {path} cannot be read: {exc}.") from exc
    if not COMMIT_CHECKSUM.fullmatch(checksum):
        raise InfrastructureError(f"The OSTree ref file {path} does not hold a commit checksum.")
    return checksum


def commit_tree(
    repo: Path, ref: str, tree: Path, log_path: Path, *, subject: str, version: str, parent: str | None
) -> str:
    """Commit the directory ``tree`` to ``ref`` and return the new commit's checksum."""
    argv = [
        "ostree",
        f"--repo={repo}",
        "commit",
        f"--branch={ref}",
        f"--tree=dir={tree}",
        f"--subject={subject}",
        f"--add-metadata-string=version={version}",
        # Files hardlinked from a checkout of this repo are not read or checksummed again.
        "--link-checkout-speedup",
        "--generate-sizes",
    ]
    if parent:
        argv.append(f"--parent={parent}")
    base.run_tool(argv, log_path, failure=f"ostree commit of {ref} failed")
    checksum = resolve_ref(repo, ref)
    if checksum is None:
        raise InfrastructureError(f"ostree commit did not move the ref {ref} in {repo}.")
    return checksum


def pull_local(dest: Path, source: Path, ref: str, log_path: Path) -> None:
    """Copy ``ref`` and its objects from the local repo ``source`` into ``dest``."""
    base.run_tool(["ostree", f"--repo={dest}", "pull-local", str(source), ref], log_path)


def checkout(repo: Path, ref: str, dest: Path, log_path: Path, *, hardlink: bool = False) -> None:
    """Check ``ref`` out into the new directory ``dest`` (hardlinks need a bare repo on one fs)."""
    argv = ["ostree", f"--repo={repo}", "checkout", ref, str(dest)]
    if hardlink:
        argv[3:3] = ["-H"]
    base.run_tool(argv, log_path)


def update_summary(repo: Path, log_path: Path) -> None:
    """Regenerate the repo's summary file so that clients see the new ref."""
    base.run_tool(["ostree", f"--repo={repo}", "summary", "-u"], log_path)


def prune(repo: Path, keep_younger_than: str, log_path: Path) -> None:
    """Delete commits older than ``keep_younger_than`` (``30 days ago``), and unreachable objects."""
    base.run_tool(
        ["ostree", f"--repo={repo}", "prune", "--refs-only", f"--keep-younger-than={keep_younger_than}"],
        log_path,
    )
