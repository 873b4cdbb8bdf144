"""The functional stage runs a package's tmt plans for real: tmt, dnf, unshare and chroot.

tmt runs from its own virtualenv with ci-pipeline's sandbox provision method; the tests run in a
fresh root of the build, never on this host.
"""

from __future__ import annotations

import shutil
import socket
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from tmt_fixtures import TmtWorld, functional_context, make_world, run

from ci_pipeline import stage_contract
from ci_pipeline.errors import StageFailure
from ci_pipeline.messages.koji_build import ExistingBuild, Origin
from ci_pipeline.stages import functional
from ci_pipeline.stages.tmt.command import SshTarget, connect_provision
from ci_pipeline.stages.tmt.metadata import read_metadata
from ci_pipeline.stages.tmt.runner import run_plans
from ci_pipeline.stages.tools import Deadline

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> TmtWorld:
    return make_world(tmp_path_factory.mktemp("tmt"))


def _failure(
    world: TmtWorld, tmp_path: Path, case: str
) -> tuple[StageFailure, dict[str, stage_contract.TestCaseResult]]:
    with pytest.raises(StageFailure) as caught:
        functional.run_functional(functional_context(world, tmp_path, case))
    return caught.value, {test.name: test for test in caught.value.tests}


def test_passing_failing_erroring_warning_and_informing_tests(world: TmtWorld, tmp_path: Path) -> None:
    failure, tests = _failure(world, tmp_path, "mixed")
    assert {name: test.outcome for name, test in tests.items()} == {
        "/plans/all /tests/passes": "PASSED",
        "/plans/all /tests/fails": "FAILED",
        "/plans/all /tests/errors": "ERROR",
        "/plans/all /tests/warns": "NEEDS_INSPECTION",
        "/plans/all /tests/informs": "INFO",
        "/plans/all /tests/sees-no-host": "PASSED",
    }
    assert str(failure).startswith("1 of 6 tests failed: /plans/all /tests/fails.")
    assert "app is not ok" in tests["/plans/all /tests/fails"].log
    assert "Maximum test time '1s' exceeded" in tests["/plans/all /tests/errors"].log
    artifacts = tmp_path / "artifacts" / "tmt"
    assert (artifacts / "plans" / "all" / "execute" / "results.yaml").is_file()
    assert (artifacts / "log.txt").is_file()
    assert not (tmp_path / "work" / "root").exists()


def test_passing_plans_pass_with_their_requirements_installed(world: TmtWorld, tmp_path: Path) -> None:
    result = functional.run_functional(functional_context(world, tmp_path, "passing"))
    assert {t.name: t.outcome for t in result.tests} == {
        "/plans/all /tests/passes": "PASSED", "/plans/all /tests/extra-is-there": "PASSED",
    }
    assert result.summary == "2 tests passed (tmt)."


def test_a_repository_with_sti_and_tmt_runs_both(world: TmtWorld, tmp_path: Path) -> None:
    result = functional.run_functional(functional_context(world, tmp_path, "both"))
    assert {t.name: t.outcome for t in result.tests} == {
        "sti-app-says-ok": "PASSED",
        "/plans/all /tests/passes": "PASSED",
        "/plans/all /tests/extra-is-there": "PASSED",
    }
    junit = ET.parse(tmp_path / "artifacts" / "results.xml").getroot().find("testsuite")
    assert junit is not None and junit.get("tests") == "3"


def test_an_invalid_plan_is_an_error_with_tmts_reason_not_a_failure(world: TmtWorld, tmp_path: Path) -> None:
    failure, tests = _failure(world, tmp_path, "invalid-plan")
    error = tests["/plans/all (tmt error)"]
    assert error.outcome == "ERROR" and "no-such-executor" in error.log
    assert not any(test.outcome == "FAILED" for test in tests.values())
    assert "could not run" in str(failure)


def test_a_missing_requirement_is_an_error(world: TmtWorld, tmp_path: Path) -> None:
    failure, tests = _failure(world, tmp_path, "missing-requirement")
    assert [test.outcome for test in tests.values()] == ["ERROR"]
    assert "no-such-package" in str(failure)


def test_an_existing_builds_rpms_come_from_its_own_repository(world: TmtWorld, tmp_path: Path) -> None:
    koji = tmp_path / "koji"
    built = world.root / "artifacts" / "f26" / "repo" / "tmt-app_repo"
    shutil.copytree(built, koji / "tmt-app" / "1.0" / "1.2.abcdef0.fc26")
    template = f"file://{koji}/{{name}}/{{version}}/{{release}}"
    settings = world.config.fedora_ci.model_copy(update={"build_repo_url": template})
    config = world.config.model_copy(update={"fedora_ci": settings})
    build = ExistingBuild("tmt-app", "1.0", "1.2.abcdef0.fc26", Origin.TAG, build_id=5, owner="packager")
    ctx = functional_context(world, tmp_path, "passing")
    fields = {key: ctx.fields[key] for key in ("repo", "branch", "namespace", "rev")}
    ctx = replace(ctx, config=config, fields={**fields, **build.fields(config)})
    result = functional.run_functional(ctx)
    assert {t.outcome for t in result.tests} == {"PASSED"} and len(result.tests) == 2


def test_a_machine_tmt_cannot_reach_over_ssh_is_an_error_of_the_plan(
    world: TmtWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SSH form of the runner, for stages with a booted machine: real tmt takes the command line,
    and a machine it cannot reach is tmt's error, not a failing test."""
    monkeypatch.setenv("TMT_CONNECT_TIMEOUT", "2")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = tmp_path / "id_ed25519"
    key.write_text("not a key\n")
    key.chmod(0o600)
    ctx = functional_context(world, tmp_path, "passing")
    checkout = tmp_path / "checkout"
    run(["git", "clone", "--quiet", str(world.root / "git" / "rpms" / "tmt-app.git"), str(checkout)])
    run(["git", "checkout", "--quiet", world.revs["passing"]], checkout)
    target = SshTarget("127.0.0.1", port, "root", key)
    results = run_plans(ctx, checkout, read_metadata(checkout), connect_provision(target), Deadline(300.0))
    errors = [test for test in results if test.name == "/plans/all (tmt error)"]
    assert len(errors) == 1 and errors[0].outcome == "ERROR" and "tmt could not run the plan" in errors[0].log
    assert not any(test.outcome in ("PASSED", "FAILED") for test in results)
