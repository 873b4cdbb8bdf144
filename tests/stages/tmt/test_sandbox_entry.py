"""The sandbox guest's way into the tree never follows a symbolic link the tree holds."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

from ci_pipeline.stages.tmt.command import PLUGINS_DIR


def _enter_tree() -> str:
    """The ENTER_TREE script of the plugin (read from its source: the plugin imports tmt)."""
    source = (PLUGINS_DIR / "provision_sandbox.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "ENTER_TREE":
            return str(ast.literal_eval(node.value))
    raise AssertionError("ENTER_TREE is gone")


def _run(root: Path, shared: Path) -> subprocess.CompletedProcess[str]:
    # "echo" stands in for mkdir, mount and chroot: only the check before them is under test here.
    entering = 'mkdir -p "$root$shared" && mount --rbind "$shared" "$root$shared" && exec chroot "$root" "$@"'
    script = _enter_tree().replace(entering, 'echo would mount "$root$shared"')
    assert script != _enter_tree()
    return subprocess.run(["sh", "-c", script, "sh", str(root), str(shared), "true"],
                          capture_output=True, text=True, check=False)


def test_a_symbolic_link_on_the_way_to_the_mount_point_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "var").mkdir(parents=True)
    outside.mkdir()
    (root / "var" / "lib").symlink_to(outside)
    done = _run(root, Path("/var/lib/ci-pipeline/work/tmt-run"))
    assert done.returncode == 125 and "is a symbolic link in the test subject" in done.stderr
    assert list(outside.iterdir()) == []


def test_a_plain_path_goes_on_to_the_mount(tmp_path: Path) -> None:
    (tmp_path / "root" / "var").mkdir(parents=True)
    done = _run(tmp_path / "root", Path("/var/lib/ci pipeline/work"))
    assert done.returncode == 0 and done.stdout.startswith("would mount")
