"""Which build the functional subject gets, checked before any tool runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.config import ArtifactsConfig, Config
from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.sti.subjects import build_packages, build_repo_source

BASE = "http://artifacts.example/ci"


def _context(tmp_path: Path, **fields: str) -> StageContext:
    config = Config(state_dir=str(tmp_path)).model_copy(
        update={"artifacts": ArtifactsConfig(root=str(tmp_path / "artifacts"), base_url=BASE)}
    )
    return StageContext(
        run_id=1,
        stage="functional",
        attempt=1,
        fields=fields,
        workdir=tmp_path,
        artifacts_dir=tmp_path / "a",
        artifacts_url="",
        log_path=tmp_path / "log",
        config=config,
    )


def _repo(tmp_path: Path, *names: str, relative: str = "f26/repo/hello_repo") -> Path:
    repo = tmp_path / "artifacts" / relative
    (repo / "repodata").mkdir(parents=True)
    (repo / "repodata" / "repomd.xml").write_text("<repomd/>")
    for name in names:
        (repo / name).write_text("")
    return repo


def test_a_package_url_under_the_artifacts_is_the_local_repo(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "hello-1.0-1.fc26.x86_64.rpm", "hello-1.0-1.fc26.src.rpm")
    ctx = _context(tmp_path, package_url=f"{BASE}/f26/repo/hello_repo/")
    assert build_repo_source(ctx) == (repo.as_uri(), repo)
    assert build_packages(ctx, repo) == [str(repo / "hello-1.0-1.fc26.x86_64.rpm")]


@pytest.mark.parametrize(
    "url", [f"{BASE}/f26/../../etc/", f"{BASE}/", "ftp://x/y", "", f"{BASE}/f26/repo/none/"]
)
def test_bad_package_urls_are_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(StageFailure):
        build_repo_source(_context(tmp_path, package_url=url))


def test_a_remote_repo_installs_the_rpms_at_the_nvr(tmp_path: Path) -> None:
    ctx = _context(
        tmp_path,
        package_url="https://repos.example/hello/",
        nvr="hello-1.0-1.2.abc.fc26",
        rpms="hello,hello-doc,bad;name",
    )
    assert build_repo_source(ctx) == ("https://repos.example/hello/", None)
    assert build_packages(ctx, None) == ["hello-1.0-1.2.abc.fc26", "hello-doc-1.0-1.2.abc.fc26"]
    with pytest.raises(StageFailure, match="names no packages"):
        build_packages(_context(tmp_path, nvr="hello-1.0-1"), None)


def test_the_runs_own_build_repo_is_tested_not_the_shared_one_a_newer_build_replaced(tmp_path: Path) -> None:
    _repo(tmp_path, "hello-1.1-1.fc26.x86_64.rpm")  # the branch's shared repo: a newer build is there now
    own = _repo(tmp_path, "hello-1.0-1.fc26.x86_64.rpm", relative="runs/7/build/repo")
    ctx = _context(
        tmp_path, package_url=f"{BASE}/f26/repo/hello_repo/", build_repo_url=f"{BASE}/runs/7/build/repo/"
    )
    assert build_repo_source(ctx) == (own.as_uri(), own)
    assert build_packages(ctx, own) == [str(own / "hello-1.0-1.fc26.x86_64.rpm")]


@pytest.mark.parametrize("url", [f"{BASE}/runs/../../etc/", "ftp://x/y", f"{BASE}/runs/8/build/repo/"])
def test_a_bad_build_repo_url_is_refused_by_its_name(tmp_path: Path, url: str) -> None:
    _repo(tmp_path, "hello-1.1-1.fc26.x86_64.rpm")
    ctx = _context(tmp_path, package_url=f"{BASE}/f26/repo/hello_repo/", build_repo_url=url)
    with pytest.raises(StageFailure, match=r"build_repo_url|has no repodata"):
        build_repo_source(ctx)
