"""The build stage's checks before any tool runs, its early failures, and where it publishes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ci_pipeline.config import Config
from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.stages import build
from ci_pipeline.stages.base import StageContext
from stages.field_values import GOOD, HOSTILE

if TYPE_CHECKING:
    from conftest import PackageWorld


@pytest.mark.parametrize(("field", "value"), HOSTILE)
def test_run_rejects_hostile_fields_before_any_command(
    field: str, value: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def no_commands(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a command ran: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_commands)
    ctx = StageContext(
        run_id=1,
        stage="build",
        attempt=1,
        fields={**GOOD, field: value},
        workdir=tmp_path,
        artifacts_dir=tmp_path,
        artifacts_url="",
        log_path=tmp_path / "log",
        config=Config(),
    )
    with pytest.raises(StageFailure, match=f"The field {field}="):
        build.run(ctx)
    assert list(tmp_path.iterdir()) == []


def test_missing_spec_is_a_stage_failure(
    package_world: Callable[..., PackageWorld], stage_context: Callable[..., StageContext]
) -> None:
    world = package_world(with_spec=False)
    with pytest.raises(
        StageFailure, match=rf"The dist-git repository hello at {world.rev[:7]} has no hello\.spec\."
    ):
        build.run(stage_context(world))


def test_unknown_branch_is_a_stage_failure(
    package_world: Callable[..., PackageWorld], stage_context: Callable[..., StageContext]
) -> None:
    with pytest.raises(StageFailure, match="The branch private has no dist tag"):
        build.run(stage_context(package_world(), branch="private"))


def test_unreachable_distgit_fails_the_run_as_infrastructure(
    package_world: Callable[..., PackageWorld], stage_context: Callable[..., StageContext]
) -> None:
    world = package_world()
    with pytest.raises(
        InfrastructureError, match=r"The dist-git repository .*/rpms/nothere\.git cannot be reached"
    ):
        build.run(stage_context(world, repo="nothere"))


def test_nonexistent_rev_fails_the_run(
    package_world: Callable[..., PackageWorld], stage_context: Callable[..., StageContext]
) -> None:
    world = package_world()
    with pytest.raises(StageFailure, match=f"The commit {'a' * 40} does not exist in "):
        build.run(stage_context(world, rev="a" * 40))


def test_checksum_mismatch_fails_the_run_naming_the_file(
    package_world: Callable[..., PackageWorld], stage_context: Callable[..., StageContext]
) -> None:
    wrong = "0" * 128
    world = package_world(sources_line=f"SHA512 (hello-1.0.tar.gz) = {wrong}")
    cached = world.root / "lookaside/rpms/hello/hello-1.0.tar.gz/sha512"
    (cached / wrong).mkdir()
    (cached / wrong / "hello-1.0.tar.gz").write_bytes(b"not the tarball")
    with pytest.raises(StageFailure, match=r"The source hello-1\.0\.tar\.gz .*does not match"):
        build.run(stage_context(world))
