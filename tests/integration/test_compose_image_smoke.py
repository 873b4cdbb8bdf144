"""Compose and image stages with the real dnf, ostree, mkfs and qemu-img (smoke: test_example_machines.py)."""

from __future__ import annotations

import configparser
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from compose_fixtures import (
    REF,
    create_fixture_world,
    hello_spec,
    publish_ci_build,
    stage_context,
)

from ci_pipeline.config import ArtifactsConfig, Config, TriggerConfig
from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import compose, image
from ci_pipeline.stages.base import StageContext, StageResult

pytestmark = pytest.mark.integration

FIRST_NVR = "ci-hello-1.0-1.1.aaaaaaa.fc26"
SECOND_NVR = "ci-hello-1.0-1.2.bbbbbbb.fc26"
Composes = tuple[StageContext, StageResult, StageContext, StageResult]


@dataclass
class Pipeline:
    """A fixture OS, its configuration and a way to run a stage."""

    root: Path
    config: Config
    counter: int = 0
    #: The build stage's outputs of ci-hello 1.2, the newest CI build of f26.
    second_build: dict[str, str] = field(default_factory=dict)

    def context(self, stage: str, fields: Mapping[str, str], **kwargs: object) -> StageContext:
        self.counter += 1
        return stage_context(self.root, self.counter, stage, fields, self.config, **kwargs)

    @property
    def artifacts_root(self) -> Path:
        return Path(self.config.artifacts.root)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    root = tmp_path_factory.mktemp("compose-image-smoke")
    world = create_fixture_world(root / "world")
    config = Config(
        artifacts=ArtifactsConfig(root=str(root / "artifacts"), base_url="http://artifacts.test/atomic"),
        trigger=TriggerConfig(treefile=str(world.treefile)),
    )
    return Pipeline(root=root, config=config)


@pytest.fixture(scope="module")
def composes(pipeline: Pipeline) -> Composes:
    """Two composes of f26: with ci-hello 1.1 built, then after 1.2 is built."""
    first_build = publish_ci_build(
        pipeline.config, 101, "f26", hello_spec("1.0", "1.1.aaaaaaa.fc26"), pipeline.root / "b1"
    )
    assert first_build["nvr"] == FIRST_NVR
    first_ctx = pipeline.context("compose", first_build)
    first = compose.run(first_ctx)
    pipeline.second_build = publish_ci_build(
        pipeline.config, 102, "f26", hello_spec("1.0", "1.2.bbbbbbb.fc26"), pipeline.root / "b2"
    )
    second_ctx = pipeline.context("compose", pipeline.second_build)
    return first_ctx, first, second_ctx, compose.run(second_ctx)


def _ostree(pipeline: Pipeline, *args: str) -> str:
    repo = pipeline.artifacts_root / "f26" / "ostree"
    return subprocess.run(
        ["ostree", f"--repo={repo}", *args], check=True, capture_output=True, text=True
    ).stdout


def test_compose_rev_is_the_commit_at_the_ref(pipeline: Pipeline, composes: Composes) -> None:
    _, first, _, second = composes
    assert second.outputs["compose_rev"] == _ostree(pipeline, "rev-parse", REF).strip()
    assert _ostree(pipeline, "rev-parse", f"{REF}^").strip() == first.outputs["compose_rev"]
    assert second.outputs["compose_url"] == "http://artifacts.test/atomic/f26/ostree"
    assert second.outputs["ref"] == REF
    assert "version: 26.2" in _ostree(pipeline, "show", second.outputs["compose_rev"]).lower() or (
        "'26.2'" in _ostree(pipeline, "show", "--print-metadata-key=version", second.outputs["compose_rev"])
    )


def test_compose_holds_the_new_build(pipeline: Pipeline, composes: Composes, tmp_path: Path) -> None:
    rev = composes[3].outputs["compose_rev"]
    assert "1.0" in _ostree(pipeline, "cat", rev, "/usr/share/ci-hello/version")
    checkout = tmp_path / "checkout"
    _ostree(pipeline, "checkout", "--user-mode", rev, str(checkout))
    installed = subprocess.run(
        ["rpm", "-q", f"--root={checkout}", "--dbpath=/usr/share/rpm", "ci-hello"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert installed == f"{SECOND_NVR}.noarch"
    assert (checkout / "usr/etc/fixture-release").is_file() and not (checkout / "etc").exists()
    assert list((checkout / "var").iterdir()) == []
    assert "d /var/lib/ci-hello" in (checkout / "usr/lib/tmpfiles.d/ci-pipeline-autovar.conf").read_text()


def _tools(ctx: StageContext) -> list[str]:
    """The programs a stage ran, in order, from its log."""
    return [line.split()[1] for line in ctx.log_path.read_text().splitlines() if line.startswith("$ ")]


def test_a_second_compose_upgrades_the_cached_root_with_rpm_alone(composes: Composes) -> None:
    first_ctx, _, second_ctx, _ = composes
    assert "dnf" in _tools(first_ctx)
    assert "dnf" not in _tools(second_ctx) and "rpm" in _tools(second_ctx)


def test_a_changed_base_repo_makes_dnf_install_the_root_again(pipeline: Pipeline, composes: Composes) -> None:
    treefile = Path(pipeline.config.trigger.treefile)
    repo_files = [*treefile.parent.glob("*.repo"), *treefile.parent.glob("repos/*.repo")]
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(repo_files)
    baseurl = parser.get(parser.sections()[0], "baseurl")
    repomd = Path(baseurl.removeprefix("file://")) / "repodata" / "repomd.xml"
    original = repomd.read_bytes()
    try:
        repomd.write_bytes(original + b"\n")
        ctx = pipeline.context("compose", pipeline.second_build)
        compose.run(ctx)
    finally:
        repomd.write_bytes(original)
    assert "dnf" in _tools(ctx)


def test_compose_keeps_package_list_and_diff(composes: Composes) -> None:
    second_ctx = composes[2]
    listing = (second_ctx.artifacts_dir / "packages.txt").read_text()
    diff = (second_ctx.artifacts_dir / "packages.diff").read_text()
    assert f"{SECOND_NVR}.noarch" in listing.splitlines()
    assert f"-{FIRST_NVR}.noarch" in diff and f"+{SECOND_NVR}.noarch" in diff


def test_compose_fails_when_the_build_is_not_installed(pipeline: Pipeline, composes: Composes) -> None:
    ctx = pipeline.context("compose", {"branch": "f26", "nvr": "ci-hello-9.9-1.fc26"})
    with pytest.raises(StageFailure, match=r"no package built from ci-hello-9\.9-1\.fc26"):
        compose.run(ctx)


def test_image_is_built_under_the_seed_name(pipeline: Pipeline, composes: Composes) -> None:
    fields = {"branch": "f26", "nvr": SECOND_NVR, **composes[3].outputs}
    built = image.run(pipeline.context("image", fields, options={"force_image": "1"}))
    rev = fields["compose_rev"]
    assert built.outputs["image_name"] == f"fedora-atomic-26.2-{rev[:15]}.qcow2"
    assert built.outputs["image_url"].endswith(f"/f26/images/{built.outputs['image_name']}")
    assert built.outputs["type"] == "qcow2"
    assert (pipeline.artifacts_root / "f26" / "images" / built.outputs["image_name"]).is_file()
