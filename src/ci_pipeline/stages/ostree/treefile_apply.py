"""Apply a treefile's content keys to an installed root, as rpm-ostree's post-processing does.

In rpm-ostree's order, on the root dnf filled (``/etc`` still at ``/etc``), before
:func:`.tree.prepare_tree` reshapes it for OSTree:

- ``units``: a ``multi-user.target.wants`` link per unit; ``default-target``: ``default.target``;
- ``remove-files``: paths deleted from the tree; ``remove-from-packages``: a package's files (``rpm
  -ql``) that match one of its regular expressions;
- ``add-files``: files beside the treefile copied in;
- ``etc-group-members``: checked in ``/etc/group``, where the compose keeps every group;
- ``postprocess`` (inline scripts: included files' first) then ``postprocess-script``: each copied
  to ``/tmp`` of the root and run there in the sandbox the STI tests use for a tree (``unshare`` of
  user, mount, PID, network, IPC and UTS namespaces, and ``chroot``): never on the host.

No path of the treefile leads out of the root: a path whose directory resolves outside it fails.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import base
from ci_pipeline.stages.ostree import repo as ostree
from ci_pipeline.stages.ostree.compose_install import RPMDB_PATH
from ci_pipeline.stages.roles._plugins.connection.sti_chroot import SUBJECT_ENVIRONMENT, sandbox_argv
from ci_pipeline.treefile import Treefile
from ci_pipeline.treefile_keys import unapplied_reason

POSTPROCESS_TIMEOUT = 1800.0
SYSTEMD_UNITS = "usr/lib/systemd/system"
WANTS = "etc/systemd/system/multi-user.target.wants"


def report_keys(treefile: Treefile, log_path: Path) -> str:
    """Write the keys the compose does not apply, and the ignored ones, to the log; return a summary."""
    with log_path.open("a", encoding="utf-8") as log:
        for key in treefile.unapplied:
            log.write(f"treefile: key '{key}' not applied: {unapplied_reason(key)}.\n")
        for key, why in treefile.ignored:
            log.write(f"treefile: key '{key}' ignored: {why}.\n")
        for repo in treefile.repos:
            if repo.gpgcheck:
                log.write(f"treefile: repo {repo.id} sets gpgcheck, not applied: no signature is checked.\n")
    if not treefile.unapplied:
        return ""
    return f" Treefile keys not applied: {', '.join(treefile.unapplied)}."


def apply_treefile(treefile: Treefile, root: Path, workdir: Path, log_path: Path) -> None:
    """Carry out the treefile's content keys on ``root``; see the module docstring."""
    enable_units(treefile, root, log_path)
    remove_files(treefile, root, log_path)
    remove_from_packages(treefile, root, workdir, log_path)
    add_files(treefile, root, log_path)
    check_group_members(treefile, root, log_path)
    run_postprocess(treefile, root, log_path)


def _log(log_path: Path, line: str) -> None:
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"treefile: {line}\n")


def _inside(root: Path, relative: str) -> Path:
    """``root/relative``, refused when its directory resolves outside ``root`` (a symlink out)."""
    target = root / relative.lstrip("/")
    real_root = root.resolve()
    parent = target.parent.resolve()
    if parent != real_root and real_root not in parent.parents:
        raise StageFailure(f"The treefile path /{relative.lstrip('/')} leads out of the composed tree.")
    return parent / target.name


def enable_units(treefile: Treefile, root: Path, log_path: Path) -> None:
    """Enable ``units`` as rpm-ostree does (multi-user.target.wants links) and set ``default-target``."""
    if treefile.units:
        wants = _inside(root, WANTS + "/x").parent
        wants.mkdir(parents=True, exist_ok=True)
        for unit in treefile.units:
            template = re.sub(r"@[^.]+\.", "@.", unit)
            if not any((root / SYSTEMD_UNITS / name).exists() for name in (unit, template)):
                _log(log_path, f"unit {unit} is enabled but no package installs /{SYSTEMD_UNITS}/{unit}")
            link = wants / unit
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(f"/{SYSTEMD_UNITS}/{unit}")
            _log(log_path, f"enabled {unit}")
    if treefile.default_target:
        link = _inside(root, "etc/systemd/system/default.target")
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(f"/{SYSTEMD_UNITS}/{treefile.default_target}")
        _log(log_path, f"default target {treefile.default_target}")


def _delete(path: Path) -> bool:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
        return True
    if path.is_symlink() or path.exists():
        path.unlink()
        return True
    return False


def remove_files(treefile: Treefile, root: Path, log_path: Path) -> None:
    """Delete ``remove-files`` from the tree (a path that is not there is noted, as rpm-ostree skips it)."""
    for relative in treefile.remove_files:
        removed = _delete(_inside(root, relative))
        _log(log_path, f"removed /{relative}" if removed else f"remove-files: /{relative} is not in the tree")


def remove_from_packages(treefile: Treefile, root: Path, workdir: Path, log_path: Path) -> None:
    """Delete the files of each named package that match one of its regular expressions."""
    for package, expressions in treefile.remove_from_packages:
        argv = ["rpm", "-ql", f"--root={root}", f"--dbpath={RPMDB_PATH}", package]
        try:
            listing = ostree.run_to_file(argv, workdir / f"rpm-ql-{package}.txt", log_path)
        except StageFailure as exc:
            raise StageFailure(
                f"The treefile's remove-from-packages names {package}, which the compose did not install."
            ) from exc
        patterns = [re.compile(expression) for expression in expressions]
        files = [line for line in listing.splitlines() if line.startswith("/")]
        removed = 0
        # Deepest first, so a directory's files go before it.
        for path in sorted(files, key=lambda p: p.count("/"), reverse=True):
            if any(pattern.search(path) for pattern in patterns):
                removed += _delete(_inside(root, path))
        _log(log_path, f"removed {removed} files of {package}")


def add_files(treefile: Treefile, root: Path, log_path: Path) -> None:
    """Copy each ``add-files`` source beside the treefile to its destination in the tree."""
    for source, destination in treefile.add_files:
        if not source.is_file():
            raise StageFailure(f"The treefile's add-files source {source} is not a file.")
        target = _inside(root, destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        shutil.copyfile(source, target)
        target.chmod(source.stat().st_mode & 0o7777)
        _log(log_path, f"added {destination} from {source}")


def check_group_members(treefile: Treefile, root: Path, log_path: Path) -> None:
    """Every group stays in ``/etc/group`` here (no ``/usr/lib/group`` split): say which are there."""
    if not treefile.etc_group_members:
        return
    group_file = root / "etc/group"
    text = group_file.read_text(encoding="utf-8", errors="replace") if group_file.is_file() else ""
    present = {line.split(":", 1)[0] for line in text.splitlines()}
    for group in treefile.etc_group_members:
        where = "in /etc/group" if group in present else "not defined by any package"
        _log(log_path, f"etc-group-members: {group} {where}")


def run_postprocess(treefile: Treefile, root: Path, log_path: Path) -> None:
    """Run the inline ``postprocess`` scripts, then ``postprocess-script``, inside the root's sandbox."""
    scripts: list[tuple[str, bytes]] = [
        (f"postprocess[{number}]", text.encode()) for number, text in enumerate(treefile.postprocess)
    ]
    if treefile.postprocess_script is not None:
        try:
            scripts.append((str(treefile.postprocess_script), treefile.postprocess_script.read_bytes()))
        except OSError as exc:
            raise StageFailure(
                f"The treefile's postprocess-script {treefile.postprocess_script} cannot be read: "
                f"{exc.strerror}."
            ) from exc
    if not scripts:
        return
    if not os.path.lexists(root / "bin/sh"):
        raise StageFailure("The treefile has postprocess scripts, but the composed tree has no /bin/sh.")
    tmp = _inside(root, "tmp/x").parent
    tmp.mkdir(exist_ok=True)
    for number, (name, content) in enumerate(scripts):
        inside = f"/tmp/ci-pipeline-postprocess-{number}"
        script = tmp / f"ci-pipeline-postprocess-{number}"
        script.write_bytes(content)
        script.chmod(0o755)
        _log(log_path, f"running {name} in the composed tree")
        try:
            # '"$1"' rather than exec: a script without a #! line runs as a shell script.
            base.run_tool(
                sandbox_argv(str(root), '"$1"', inside),
                log_path,
                env=SUBJECT_ENVIRONMENT,
                timeout=POSTPROCESS_TIMEOUT,
                failure=f"The treefile's {name} failed in the composed tree",
            )
        finally:
            script.unlink(missing_ok=True)
