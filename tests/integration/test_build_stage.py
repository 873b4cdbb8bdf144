"""The build stage end to end with real git, rpmspec, rpmbuild and createrepo_c on a fixture package."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import build
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.rpm.yumrepo import publish_yum_repo
from ci_pipeline.stages.tools import Deadline

pytestmark = pytest.mark.integration


def _load_package_worlds() -> ModuleType:
    # The fixture builders live in tests/stages/conftest.py; load them under a name of their own.
    path = Path(__file__).parents[1] / "stages" / "conftest.py"
    spec = importlib.util.spec_from_file_location("build_stage_package_worlds", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


worlds = _load_package_worlds()


def _context(tmp_path: Path, branch: str = "f26", **world_options: object) -> tuple[StageContext, object]:
    world = worlds.create_package_world(tmp_path / "world", **world_options)
    config = worlds.build_config(tmp_path, world)
    return worlds.build_context(tmp_path, config, worlds.fields_of(world, branch)), world


def _rpm_release(path: Path) -> str:
    done = subprocess.run(["rpm", "-qp", "--qf", "%{release}", str(path)], capture_output=True, text=True)
    return done.stdout


def test_build_marks_the_release_runs_check_and_publishes_a_yum_repo(tmp_path: Path) -> None:
    ctx, world = _context(tmp_path)
    sha7 = world.rev[:7]  # type: ignore[attr-defined]
    result = build.run(ctx)
    assert result.outputs["nvr"] == f"hello-1.0-1.3.{sha7}.fc26"
    assert result.outputs["original_spec_nvr"] == "hello-1.0-1.fc26"
    assert result.outputs["package_url"] == "http://artifacts.example/ci/f26/repo/hello_repo/"
    assert result.outputs["rpms"] == "hello"
    assert result.outputs["srpm"] == f"hello-1.0-1.3.{sha7}.fc26.src.rpm"
    repo = tmp_path / "artifacts" / "f26" / "repo" / "hello_repo"
    assert (repo / "repodata" / "repomd.xml").is_file()
    built = repo / f"hello-1.0-1.3.{sha7}.fc26.noarch.rpm"
    assert _rpm_release(built) == f"1.3.{sha7}.fc26"
    assert (repo / result.outputs["srpm"]).is_file()
    # The build's own repository, which the package's next build leaves alone, for composes.
    own = ctx.artifacts_dir / "repo"
    assert result.outputs["build_repo_url"] == f"{ctx.artifacts_url.rstrip('/')}/repo/"
    assert (own / "repodata" / "repomd.xml").is_file() and (own / built.name).is_file()
    assert (own / result.outputs["srpm"]).is_file()
    assert [(t.name, t.outcome) for t in result.tests] == [("hello %check", "PASSED")]
    assert "%check" in ctx.log_path.read_text()


def test_master_builds_for_rawhide(tmp_path: Path) -> None:
    ctx, world = _context(tmp_path, branch="master")
    result = build.run(ctx)
    assert result.outputs["nvr"] == f"hello-1.0-1.3.{world.rev[:7]}.fc27"  # type: ignore[attr-defined]
    assert result.outputs["package_url"].endswith("/master/repo/hello_repo/")


def test_spec_without_dist_gets_its_release_line_marked(tmp_path: Path) -> None:
    ctx, world = _context(tmp_path, release="4")
    result = build.run(ctx)
    assert result.outputs["original_spec_nvr"] == "hello-1.0-4"
    assert result.outputs["nvr"] == f"hello-1.0-4.3.{world.rev[:7]}"  # type: ignore[attr-defined]


def test_failing_check_is_a_stage_failure_with_the_log_tail(tmp_path: Path) -> None:
    ctx, world = _context(tmp_path, check_passes=False)
    nvr = f"hello-1.0-1.3.{world.rev[:7]}.fc26"  # type: ignore[attr-defined]
    with pytest.raises(StageFailure, match=rf"The unit tests \(%check\) of {nvr} failed\.") as failure:
        build.run(ctx)
    assert "Bad exit status" in str(failure.value)
    assert not (tmp_path / "artifacts" / "f26" / "repo" / "hello_repo").exists()


def test_republishing_replaces_the_repository_whole(tmp_path: Path) -> None:
    ctx, _ = _context(tmp_path)
    result = build.run(ctx)
    repo = tmp_path / "artifacts" / "f26" / "repo" / "hello_repo"
    srpm = ctx.workdir / "rpmbuild" / "SRPMS" / result.outputs["srpm"]
    publish_yum_repo([srpm], repo, ctx.log_path, Deadline(60))
    assert sorted(p.name for p in repo.glob("*.rpm")) == [result.outputs["srpm"]]
    assert (repo / "repodata" / "repomd.xml").is_file()
    assert sorted(p.name for p in repo.parent.iterdir()) == ["hello_repo"]


FAKE_MOCK = """#!/bin/sh
# Stands in for mock: records its arguments, then "rebuilds" by copying or failing like a %check.
echo "$@" > "$FAKE_MOCK_ARGS"
while [ $# -gt 0 ]; do
  case "$1" in --resultdir) results="$2"; shift ;; --rebuild) srpm="$2"; shift ;; esac
  shift
done
mkdir -p "$results"
if [ -n "$FAKE_MOCK_FAIL_CHECK" ]; then
  echo "error: Bad exit status from /var/tmp/rpm-tmp.1 (%check)" > "$results/build.log"
  exit 30
fi
cp "$srpm" "$results/"
cp "$srpm" "$results/hello-1.0-1.noarch.rpm"
"""


@pytest.fixture
def fake_mock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``mock`` on PATH that records its command line in the returned file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mock").write_text(FAKE_MOCK)
    (bin_dir / "mock").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_MOCK_ARGS", str(tmp_path / "mock-args"))
    return tmp_path / "mock-args"


def test_mock_builds_the_srpm_in_its_chroot_when_configured(tmp_path: Path, fake_mock: Path) -> None:
    ctx, world = _context(tmp_path)
    ctx = dataclasses.replace(ctx, options={"mock_config": "fedora-26-x86_64"})
    result = build.run(ctx)
    args = fake_mock.read_text()
    assert args.startswith("--root fedora-26-x86_64 --resultdir ")
    assert f"--define dist .3.{world.rev[:7]}.fc26" in args  # type: ignore[attr-defined]
    assert result.outputs["rpms"] == "hello"


def test_mock_check_failure_is_reported_as_unit_tests(
    tmp_path: Path, fake_mock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MOCK_FAIL_CHECK", "1")
    ctx, _ = _context(tmp_path)
    ctx = dataclasses.replace(ctx, options={"mock_config": "fedora-26-x86_64"})
    with pytest.raises(
        StageFailure, match=r"The unit tests \(%check\) of hello-1\.0-1\.3\.\w{7}\.fc26 failed"
    ):
        build.run(ctx)
