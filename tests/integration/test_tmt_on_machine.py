"""tmt plans on a booted example machine over SSH, for real: tmt's provision how=connect reaches the
machine as root with the run's key; rsync, flock and bash come from the example OS itself.

One machine is booted for the module; every test runs its plans on it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_example_machines import Example, example

from ci_pipeline.errors import StageFailure
from ci_pipeline.example.catalog import INTEGRATION_TESTS_DIR
from ci_pipeline.machines.cluster import Machine, booted_machines, deadline_in
from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.tmt.metadata import checkout_plans
from ci_pipeline.stages.tmt.on_machine import run_plans_on_machine
from ci_pipeline.stages.tools import Deadline
from fmf_trees import fmf_tree

pytestmark = pytest.mark.integration
__all__ = ["example"]  # the module's example OS, composed and imaged once

PLAN = "discover:\n    how: fmf\nexecute:\n    how: tmt\n"
MIXED_TESTS = """\
/passes:
    test: ostree admin status | grep -q '^\\* '
/fails:
    test: echo the machine is not right; exit 1
/errors:
    test: sleep 60
    duration: 2s
"""
UNSATISFIABLE_TESTS = """\
/needs-a-package:
    test: "true"
    require: [no-such-package]
"""


@pytest.fixture(scope="module")
def machine(example: Example, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    images = Path(example.config.artifacts.root) / example.world.branch / "images"
    image = images / example.fields["image_name"]
    work = tmp_path_factory.mktemp("tmt-machine")
    machines, consoles = work / "machines", work / "consoles"
    with booted_machines(
        image, ["subject"], machines, consoles, work / "log", accel="", deadline=deadline_in(300)
    ) as (booted,):
        yield booted


def context(example: Example) -> StageContext:
    """A context of the integration stage of its own."""
    return example.context("integration", example.fields, timeout=600.0)


def run_on_machine(example: Example, checkout: Path, machine: Machine) -> StageResult:
    """The checkout's plans run on ``machine``, judged."""
    deadline = Deadline(600.0)
    return run_plans_on_machine(context(example), checkout, checkout_plans(checkout), machine.ssh, deadline)


def test_the_example_suites_tmt_plan_passes_on_a_booted_compose(
    example: Example, machine: Machine, tmp_path: Path
) -> None:
    checkout = tmp_path / "suite"
    shutil.copytree(INTEGRATION_TESTS_DIR, checkout)
    ctx = context(example)
    result = run_plans_on_machine(ctx, checkout, checkout_plans(checkout), machine.ssh, Deadline(600.0))
    assert {t.name: t.outcome for t in result.tests} == {
        "/plans/atomic /tests/booted/the-deployment-is-booted": "PASSED",
        "/plans/atomic /tests/booted/sshd-is-listening": "PASSED",
        "/plans/atomic /tests/booted/tests-run-as-root-on-the-machine": "PASSED",
    }
    assert result.summary == "3 tests passed (tmt)."
    assert (ctx.artifacts_dir / "tmt" / "plans" / "atomic" / "execute" / "results.yaml").is_file()
    # Each step's SSH master is up at tmt's first check: no 30 s sleep before a second one.
    tmt_log = (ctx.artifacts_dir / "tmt" / "log.txt").read_text(encoding="utf-8")
    assert tmt_log.count("'_wait_for_ssh_master' finished successfully") >= 3
    assert "'_wait_for_ssh_master' still pending" not in tmt_log


def test_passing_failing_and_erroring_tests_on_the_machine(
    example: Example, machine: Machine, tmp_path: Path
) -> None:
    checkout = fmf_tree(tmp_path / "checkout", {"plans/all.fmf": PLAN, "tests/main.fmf": MIXED_TESTS})
    with pytest.raises(StageFailure) as caught:
        run_on_machine(example, checkout, machine)
    tests = {test.name: test for test in caught.value.tests}
    assert {name: test.outcome for name, test in tests.items()} == {
        "/plans/all /tests/passes": "PASSED",
        "/plans/all /tests/fails": "FAILED",
        "/plans/all /tests/errors": "ERROR",
    }
    assert str(caught.value).startswith("1 of 3 tests failed: /plans/all /tests/fails.")
    assert "the machine is not right" in tests["/plans/all /tests/fails"].log
    assert "Maximum test time '2s' exceeded" in tests["/plans/all /tests/errors"].log


def test_a_plan_tmt_cannot_run_on_the_machine_is_an_error_not_a_failure(
    example: Example, machine: Machine, tmp_path: Path
) -> None:
    checkout = fmf_tree(tmp_path / "checkout", {"plans/all.fmf": PLAN, "tests/main.fmf": UNSATISFIABLE_TESTS})
    with pytest.raises(StageFailure, match="could not run") as caught:
        run_on_machine(example, checkout, machine)
    tests = {test.name: test.outcome for test in caught.value.tests}
    assert tests["/plans/all (tmt error)"] == "ERROR" and set(tests.values()) == {"ERROR"}
    assert not any(test.outcome == "FAILED" for test in caught.value.tests)
    assert "no-such-package" in str(caught.value)
