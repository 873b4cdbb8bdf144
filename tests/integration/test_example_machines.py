"""The boot-level stages on the real example OS: compose, image, then smoke, integration and e2e over SSH."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from compose_fixtures import example_config, machine_store, stage_context

from ci_pipeline.config import Config
from ci_pipeline.errors import StageFailure
from ci_pipeline.example.world import World, create_world
from ci_pipeline.stages import compose, e2e, image, integration, smoke
from ci_pipeline.stages.base import StageContext, StageResult

pytestmark = pytest.mark.integration


@dataclass
class Example:
    """The example world, its configuration, and the fields after compose and image."""

    root: Path
    world: World
    config: Config
    fields: dict[str, str]
    counter: int = 0

    def context(self, stage: str, fields: Mapping[str, str], **kwargs: object) -> StageContext:
        self.counter += 1
        return stage_context(self.root, self.counter, stage, fields, self.config, **kwargs)

    def run(self, stage: str, function: object, **kwargs: object) -> tuple[StageContext, StageResult]:
        ctx = self.context(stage, self.fields, **kwargs)
        return ctx, function(ctx)  # type: ignore[operator]


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Example:
    root = tmp_path_factory.mktemp("example-machines")
    world = create_world(root / "world")
    config = example_config(root, world, store=machine_store(root / "store.sqlite", runs=20))
    state = Example(root=root, world=world, config=config, fields={"branch": world.branch})
    for name, stage in (("compose", compose.run), ("image", image.run)):
        _, result = state.run(name, stage)
        state.fields.update(result.outputs)
    return state


def qemu_using(directory: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "qemu-system" in cmdline and str(directory) in cmdline:
            found.append(cmdline)
    return found


def installed_nvr(example: Example, name: str) -> str:
    """The NVR of package ``name`` in the compose, as the package recorded it in the tree."""
    repo = Path(example.config.artifacts.root) / example.world.branch / "ostree"
    return subprocess.run(
        [
            "ostree",
            f"--repo={repo}",
            "cat",
            example.fields["compose_rev"],
            f"/usr/lib/ci-pipeline/nvr.d/{name}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_smoke_boots_the_image_and_finds_its_commit_and_package(example: Example) -> None:
    fields = {**example.fields, "nvr": installed_nvr(example, "ci-hello")}
    ctx = example.context("smoke", fields)
    result = smoke.run(ctx)
    assert [(t.name, t.outcome) for t in result.tests] == [
        ("boot", "PASSED"),
        ("commit", "PASSED"),
        ("nvr", "PASSED"),
    ]
    assert qemu_using(ctx.workdir) == []


def test_smoke_fails_naming_the_package_the_machine_lacks(example: Example) -> None:
    fields = {**example.fields, "nvr": "ci-hello-9.9-1.fc26"}
    with pytest.raises(StageFailure, match="Smoke step nvr failed") as failure:
        smoke.run(example.context("smoke", fields))
    assert {t.name: t.outcome for t in failure.value.tests} == {
        "boot": "PASSED",
        "commit": "PASSED",
        "nvr": "FAILED",
    }


def test_integration_runs_the_example_suite_on_a_booted_compose(example: Example) -> None:
    ctx, result = example.run("integration", integration.run_integration)
    outcomes = {t.name: t.outcome for t in result.tests}
    assert outcomes["sshd-is-listening"] == outcomes["the-deployment-is-booted"] == "PASSED"
    assert set(outcomes.values()) == {"PASSED"}
    assert (ctx.artifacts_dir / "subject.console.log").is_file()
    assert not list(example.root.glob("artifacts/*/images/*scratch*")), "the scratch image is not published"
    assert qemu_using(ctx.workdir) == []


def test_e2e_installs_three_machines_and_every_node_reaches_every_node(example: Example) -> None:
    ctx, result = example.run("e2e", e2e.run)
    outcomes = {t.name: t.outcome for t in result.tests}
    assert len(outcomes) == 9 and set(outcomes.values()) == {"PASSED"}
    assert "reach.node3-serves-node1" in outcomes
    assert "9 e2e tests passed on 3 machines" in result.summary
    assert qemu_using(ctx.workdir) == []
