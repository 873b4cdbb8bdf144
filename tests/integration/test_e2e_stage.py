"""The e2e stage on the real example OS: compose, image, then machines booted from it run the suite."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from compose_fixtures import stage_context

from ci_pipeline.config import ArtifactsConfig, Config, DistGitConfig, LookasideConfig, TriggerConfig
from ci_pipeline.errors import StageFailure
from ci_pipeline.example.world import World, create_world
from ci_pipeline.stages import compose, e2e, image
from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.qemu.e2e_suite import pack_suite

pytestmark = pytest.mark.integration

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.org",
    "GIT_COMMITTER_NAME": "Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.org",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass
class Booted:
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
def booted(tmp_path_factory: pytest.TempPathFactory) -> Booted:
    root = tmp_path_factory.mktemp("e2e")
    world = create_world(root / "world")
    config = Config(
        artifacts=ArtifactsConfig(root=str(root / "artifacts"), base_url="http://artifacts.test"),
        trigger=TriggerConfig(treefile=str(world.treefile)),
        distgit=DistGitConfig(url=world.distgit_url),
        lookaside=LookasideConfig(url=world.lookaside_url),
    )
    state = Booted(root=root, world=world, config=config, fields={"branch": world.branch})
    for name, stage in (("compose", compose.run), ("image", image.run)):
        _, result = state.run(name, stage)
        state.fields.update(result.outputs)
    return state


def _suite_variant(booted: Booted, name: str, change: dict[str, str | None]) -> str:
    """A copy of the example suite with e2e/ files added (text) or removed (None); its file:// URL."""
    work = booted.root / f"suite-{name}"
    subprocess.run(["git", "clone", "-q", str(booted.world.tests_repo), str(work)], check=True, env=GIT_ENV)
    for path, text in change.items():
        target = work / path
        if text is None:
            shutil.rmtree(target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            target.chmod(0o755)
    subprocess.run(["git", "add", "-A"], cwd=work, check=True, env=GIT_ENV)
    subprocess.run(["git", "commit", "-q", "-m", name], cwd=work, check=True, env=GIT_ENV)
    return work.as_uri()


def _qemu_processes_using(directory: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmdline.startswith("qemu-system") and str(directory) in cmdline:
            found.append(cmdline)
    return found


def test_two_machines_run_the_example_suite_and_reach_each_other(booted: Booted) -> None:
    ctx, result = booted.run("e2e", e2e.run)
    names = {t.name: t.outcome for t in result.tests}
    assert names["machine1/reaches-its-peers.sh"] == names["machine2/reaches-its-peers.sh"] == "PASSED"
    assert set(names.values()) == {"PASSED"} and len(names) == 8
    assert "8 e2e tests passed on 2 machines" in result.summary
    console = (ctx.artifacts_dir / "machine2.console.log").read_text()
    assert "10.77.0.11 answers" in console and "CI-PIPELINE-BOOT-DONE" in console
    assert b'tests="8"' in (ctx.artifacts_dir / "results.xml").read_bytes()
    assert _qemu_processes_using(ctx.artifacts_dir) == []


def test_a_failing_test_fails_the_stage_naming_it(booted: Booted) -> None:
    url = _suite_variant(
        booted, "failing", {"e2e/zz-fails.sh": "#!/bin/sh\necho the cluster is broken\nexit 1\n"}
    )
    options = {"integration_tests_url": url, "integration_tests_ref": "master", "e2e_machines": "1"}
    with pytest.raises(
        StageFailure, match=r"1 of 5 e2e tests failed: machine1/zz-fails\.sh\.\n.*\nthe cluster is broken"
    ):
        booted.run("e2e", e2e.run, options=options)


def test_a_suite_without_e2e_tests_is_success_with_no_e2e_tests(booted: Booted) -> None:
    url = _suite_variant(booted, "none", {"e2e": None})
    _, result = booted.run(
        "e2e", e2e.run, options={"integration_tests_url": url, "integration_tests_ref": "master"}
    )
    assert result.summary == "no e2e tests"
    assert [(t.name, t.outcome) for t in result.tests] == [("no e2e tests", "SKIPPED")]


def test_a_machine_past_the_timeout_fails_with_its_console_and_leaves_no_qemu(booted: Booted) -> None:
    url = _suite_variant(
        booted, "hangs", {"e2e/hangs.sh": "#!/bin/sh\necho waiting forever\nexec sleep 1000\n"}
    )
    options = {"integration_tests_url": url, "integration_tests_ref": "master", "e2e_machines": "2"}
    ctx = booted.context("e2e", booted.fields, options=options, timeout=25.0)
    with pytest.raises(
        StageFailure, match=r"machine1 did not finish the e2e suite within \d+ s\.(.|\n)*waiting forever"
    ):
        e2e.run(ctx)
    assert _qemu_processes_using(ctx.artifacts_dir) == []
    assert (ctx.artifacts_dir / "results.xml").is_file()


def test_the_suite_disk_is_an_ext4_image_labelled_for_the_init(tmp_path: Path) -> None:
    suite = tmp_path / "e2e"
    suite.mkdir()
    (suite / "check.sh").write_text("#!/bin/sh\ntrue\n")
    (suite / "check.sh").chmod(0o755)
    disk = pack_suite(suite, {"E2E_COMPOSE_REV": "ab" * 32}, tmp_path, tmp_path / "log")
    label = subprocess.run(["e2label", str(disk)], capture_output=True, text=True, check=True).stdout.strip()
    assert label == "ci-e2e"
    listing = subprocess.run(
        ["debugfs", "-R", "ls -l /tests", str(disk)], capture_output=True, text=True, check=True
    ).stdout
    assert "100755" in listing and "check.sh" in listing
    env = subprocess.run(
        ["debugfs", "-R", "cat /ci-e2e.env", str(disk)], capture_output=True, text=True, check=True
    )
    assert env.stdout == f"E2E_COMPOSE_REV={'ab' * 32}\n"
