"""Tests of the package data of the example OS: specs, tests playbooks, tarball contents."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ci_pipeline.example.catalog import INTEGRATION_TESTS_DIR, RECIPES, Recipe, recipe, tarball_members
from ci_pipeline.example.closure import CHECK_SCRIPT
from ci_pipeline.example.host import HostKernel
from ci_pipeline.example.specs import release_of

APPLICATIONS = [r for r in RECIPES if r.application]


@pytest.mark.parametrize("package", RECIPES, ids=lambda r: r.name)
def test_every_spec_follows_the_conventions_of_the_os(package: Recipe) -> None:
    spec = package.spec_path.read_text()
    assert "%{?dist}" in spec
    assert release_of(spec) >= 2, "the history needs an older release to start from"
    assert "BuildRequires" not in spec.replace("# No BuildRequires", "")
    assert "nvr.d/%{name}" in spec
    assert "\n%changelog\n" in spec


def _sti_tests(playbook: Path, tag: str) -> list[str]:
    plays = yaml.safe_load(playbook.read_text())
    role = plays[0]["roles"][0]
    assert plays[0]["hosts"] == "localhost"
    assert role["role"] == "standard-test-basic"
    assert role["tags"] == [tag]
    return [next(iter(test.values()))["run"] for test in role["tests"]]


@pytest.mark.parametrize("package", APPLICATIONS, ids=lambda r: r.name)
def test_applications_have_sti_tests_and_a_regression_patch(package: Recipe) -> None:
    found = recipe(package.name)
    commands = _sti_tests(found.tests_path, "classic")
    assert len(commands) >= 3
    assert all(found.name in command for command in commands)
    assert found.regression_patch.read_text().startswith("--- a/")


def test_the_integration_tests_are_an_sti_playbook() -> None:
    commands = _sti_tests(INTEGRATION_TESTS_DIR / "tests" / "tests.yml", "atomic")
    assert any("os-release" in command for command in commands)
    assert any("ci-hello" in command for command in commands)


def test_the_kernel_tarball_carries_the_kernel_its_modules_and_busybox(tmp_path: Path) -> None:
    busybox, vmlinuz, module = tmp_path / "busybox", tmp_path / "vmlinuz-6.1", tmp_path / "virtio_blk.ko"
    kernel = HostKernel("6.1.0-56-cloud-amd64", vmlinuz, (module,))
    members = tarball_members(recipe("ci-kernel"), busybox, kernel)
    assert members["vmlinuz"] == vmlinuz
    assert members["busybox"] == busybox
    assert members["kver"] == b"6.1.0-56-cloud-amd64\n"
    assert members["modules/load.order"] == b"virtio_blk\n"
    assert members["modules/virtio_blk.ko"] == module
    assert "init" in members


def test_closure_tarballs_carry_the_program_its_libraries_and_the_check(tmp_path: Path) -> None:
    kernel = HostKernel("x", tmp_path / "vmlinuz", ())
    members = tarball_members(recipe("ci-rpm"), tmp_path / "busybox", kernel)
    assert members["root/usr/bin/rpm"] == Path("/usr/bin/rpm").resolve()
    assert "root/usr/lib64/ld-linux-x86-64.so.2" in members
    assert "root/usr/lib/x86_64-linux-gnu/librpm.so.9" in members or any(
        name.startswith("root/usr/lib/x86_64-linux-gnu/librpm.so.") for name in members
    )
    assert members["root/usr/lib/rpm/rpmrc"] == Path("/usr/lib/rpm/rpmrc").resolve()
    assert members["check-closure"] == CHECK_SCRIPT
    assert "macros.dbpath" in members and "README" in members


def test_application_tarballs_hold_only_their_sources(tmp_path: Path) -> None:
    kernel = HostKernel("x", tmp_path / "vmlinuz", ())
    members = tarball_members(recipe("ci-hello"), tmp_path / "busybox", kernel)
    assert set(members) == {"Makefile", "greet.c", "greet.h", "hello.c", "test_greet.c"}


def test_an_unknown_package_has_no_recipe() -> None:
    with pytest.raises(KeyError):
        recipe("vim")
