"""The main job end to end: ``ci-pipeline demo`` twice in one directory, ``--break``, another package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def demo(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "CI_PIPELINE_WEB_LISTEN": "127.0.0.1:0"}
    environ.pop("CI_PIPELINE_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "ci_pipeline", "demo", *args],
        cwd=workdir,
        env=environ,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_demo_succeeds_twice_and_a_broken_change_fails(tmp_path: Path) -> None:
    first = demo(tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for stage in ("build", "functional", "compose", "integration", "image", "smoke", "e2e"):
        assert f"  {stage:<12} complete SUCCESS" in first.stdout
    assert "org.centos.prod.ci.pipeline.complete  status=SUCCESS" in first.stdout
    assert "Pipeline SUCCESS." in first.stdout

    second = demo(tmp_path)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "/job/ci-pipeline-f26/2/" in second.stdout

    broken = demo(tmp_path, "--break")
    assert broken.returncode == 1
    assert "  functional   complete FAILURE" in broken.stdout
    assert "log of the functional stage:" in broken.stdout
    assert "ci-pipeline runs log 3 --stage functional" in broken.stdout

    # A change to another package composes the last good ci-hello (run 2's), not the broken one.
    other = demo(tmp_path, "--package", "ci-calc")
    assert other.returncode == 0, other.stdout[-3000:] + other.stderr[-3000:]
    builds = (tmp_path / ".ci-pipeline/artifacts/runs/4/compose/builds.txt").read_text().splitlines()
    assert [line.split("\t")[0] for line in builds] == ["ci-calc", "ci-hello"]
    assert builds[0].endswith("/artifacts/runs/4/build/repo/")
    assert builds[1].endswith("/artifacts/runs/2/build/repo/")
