"""The example OS built for real: git, rpmbuild, createrepo_c (its boot: test_example_guest.py)."""

from __future__ import annotations

import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.example import distgit
from ci_pipeline.example.rpmbuild import built_rpms, rpmbuild
from ci_pipeline.example.sources import file_digest, read_sources
from ci_pipeline.example.world import World, create_world, push_change
from ci_pipeline.treefile import load_treefile

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return create_world(tmp_path_factory.mktemp("example") / "world")


def _checkout(world: World, package: str, target: Path, branch: str = "f26") -> Path:
    return distgit.clone(world.distgit_repo(package), branch, target)


def _build_from_distgit(world: World, package: str, tmp_path: Path) -> list[Path]:
    """Build a package the way the build stage does: dist-git checkout + lookaside sources."""
    checkout = _checkout(world, package, tmp_path / "checkout")
    sources = [
        entry.lookaside_path(world.lookaside_dir, world.namespace, package)
        for entry in read_sources((checkout / "sources").read_text())
    ]
    sources += sorted(checkout.glob("*.patch"))
    rpmbuild(checkout / f"{package}.spec", sources, tmp_path / "rpmbuild", mode="-ba")
    return built_rpms(tmp_path / "rpmbuild")


def _extract(rpm: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    payload = subprocess.run(["rpm2cpio", str(rpm)], check=True, capture_output=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=payload, cwd=target, check=True)
    return target


def _functional_results(playbook: str, root: Path) -> dict[str, bool]:
    """Run each STI test's command against an unpacked package: name -> passed."""
    role = yaml.safe_load(playbook)[0]["roles"][0]
    env = {**os.environ, "PATH": f"{root}/usr/bin:/usr/bin:/bin"}
    results = {}
    for test in role["tests"]:
        (name, body), = test.items()
        done = subprocess.run(["sh", "-c", body["run"]], env=env, capture_output=True, check=False)
        results[name] = done.returncode == 0
    return results


def test_every_package_has_history_on_f26_and_master(world: World) -> None:
    for package in world.packages:
        repo = world.distgit_repo(package)
        assert distgit.git("rev-parse", "--is-bare-repository", cwd=repo) == "true"
        expected = 3 if package in world.applications else 2
        assert distgit.count_commits(repo, "refs/heads/f26") >= expected
        assert distgit.count_commits(repo, "refs/heads/master") >= expected
        files = distgit.git("ls-tree", "-r", "--name-only", "f26", cwd=repo).split()
        assert f"{package}.spec" in files and "sources" in files
        assert ("tests/tests.yml" in files) == (package in world.applications)


def test_sources_verify_against_the_lookaside(world: World) -> None:
    forms = set()
    for package in world.packages:
        text = distgit.git("show", "f26:sources", cwd=world.distgit_repo(package))
        (entry,) = read_sources(text)
        forms.add(entry.old_form)
        stored = entry.lookaside_path(world.lookaside_dir, world.namespace, package)
        assert file_digest(stored, entry.hashtype) == entry.hash
        url = world.lookaside_url.format(
            namespace=world.namespace, repo=package, filename=entry.filename, hashtype=entry.hashtype,
            hash=entry.hash,
        )
        assert url == f"file://{stored}"
    assert forms == {True, False}, "one package keeps the old md5 form, the others the new one"


def test_the_base_repo_treefile_and_tests_repo_are_usable(world: World) -> None:
    assert (world.base_repo / "repodata" / "repomd.xml").is_file()
    names = {rpm.name.rsplit("-", 2)[0] for rpm in (world.base_repo / "Packages").glob("*.rpm")}
    assert names == set(world.packages)
    assert "${basearch}" in yaml.safe_load(world.treefile.read_text())["ref"]
    treefile = load_treefile(world.treefile)
    assert treefile.ref == "fedora/f26/x86_64/atomic-host"
    assert treefile.repo_urls == [("base", f"file://{world.base_repo}")]
    assert treefile.packages == world.packages
    assert treefile.unapplied == ()
    assert f"baseurl=file://{world.base_repo}\n" in world.repo_file.read_text()
    playbook = distgit.git("show", "f26:tests/tests.yml", cwd=world.tests_repo)
    assert "standard-test-basic" in playbook


@pytest.mark.parametrize(
    "package",
    ["ci-filesystem", "ci-busybox", "ci-kernel", "ci-cloud-init", "ci-bash", "ci-dropbear", "ci-ostree",
     "ci-rpm", "ci-rsync", "ci-util-linux", "ci-hello", "ci-calc"],
)
def test_every_package_builds_from_distgit_and_passes_check(
    world: World, package: str, tmp_path: Path
) -> None:
    rpms = _build_from_distgit(world, package, tmp_path)
    in_base_repo = (world.base_repo / "Packages").glob(f"{package}-[0-9]*")
    assert [rpm.name for rpm in rpms] == [rpm.name for rpm in in_base_repo]
    log = (tmp_path / "rpmbuild" / "rpmbuild.log").read_text()
    assert "Executing(%check)" in log or package == "ci-filesystem"
    assert list((tmp_path / "rpmbuild" / "SRPMS").glob("*.src.rpm"))


def test_a_second_create_world_is_fast_and_changes_nothing(world: World) -> None:
    def snapshot() -> dict[str, tuple[int, int]]:
        return {
            str(path): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in world.root.rglob("*")
            if path.is_file() and path.name != ".world.lock"
        }

    before = snapshot()
    started = time.monotonic()
    again = create_world(world.root)
    assert time.monotonic() - started < 2
    assert again == world
    assert snapshot() == before


def test_push_change_makes_a_new_commit_on_the_branch_only(world: World, tmp_path: Path) -> None:
    repo = world.distgit_repo("ci-calc")
    old_f26, old_master = distgit.head(repo, "f26"), distgit.head(repo, "master")
    rev = push_change(world, "ci-calc")
    assert len(rev) == 40 and rev != old_f26
    assert distgit.head(repo, "f26") == rev
    assert distgit.head(repo, f"{rev}^") == old_f26
    assert distgit.head(repo, "master") == old_master
    spec = distgit.git("show", f"{rev}:ci-calc.spec", cwd=repo)
    assert "Release:        3%{?dist}" in spec
    rpms = _build_from_distgit(world, "ci-calc", tmp_path)
    assert any(rpm.name == "ci-calc-0.3-3.fc26.x86_64.rpm" for rpm in rpms)


def test_a_breaking_change_builds_but_fails_its_functional_tests(world: World, tmp_path: Path) -> None:
    playbook = distgit.git("show", "f26:tests/tests.yml", cwd=world.distgit_repo("ci-hello"))
    good = _extract(next((world.base_repo / "Packages").glob("ci-hello-[0-9]*.rpm")), tmp_path / "good")
    assert all(_functional_results(playbook, good).values())

    push_change(world, "ci-hello", break_tests=True)
    rpms = _build_from_distgit(world, "ci-hello", tmp_path / "broken-build")  # build and %check pass
    binary = next(rpm for rpm in rpms if not rpm.name.endswith(".src.rpm"))
    results = _functional_results(playbook, _extract(binary, tmp_path / "broken"))
    assert results["greets-the-world"] is False
    assert results["greets-a-name"] is True


def test_check_fails_when_the_code_is_broken(world: World, tmp_path: Path) -> None:
    checkout = _checkout(world, "ci-calc", tmp_path / "checkout")
    (entry,) = read_sources((checkout / "sources").read_text())
    tarball = entry.lookaside_path(world.lookaside_dir, world.namespace, "ci-calc")
    with tarfile.open(tarball) as archive:
        archive.extractall(tmp_path / "src", filter="data")
    calc = tmp_path / "src" / "ci-calc-0.3" / "calc.c"
    calc.write_text(calc.read_text().replace("value += parse_term(p);", "value -= parse_term(p);"))
    broken = tmp_path / entry.filename
    with tarfile.open(broken, "w:gz") as archive:
        archive.add(tmp_path / "src" / "ci-calc-0.3", arcname="ci-calc-0.3")
    with pytest.raises(InfrastructureError, match=r"%check"):
        rpmbuild(checkout / "ci-calc.spec", [broken], tmp_path / "rpmbuild", mode="-ba")
    assert "FAIL: \"2+3\"" in (tmp_path / "rpmbuild" / "rpmbuild.log").read_text()
