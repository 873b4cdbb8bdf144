"""What a role's tests: and repositories: entries mean in each framework of the shipped roles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.stages.sti.frameworks import (
    FRAMEWORKS,
    Repository,
    RoleTest,
    RoleTestsError,
    relative_dir,
    repositories,
    role_tests,
)


def test_basic_entries_are_commands_or_dir_and_run() -> None:
    tests = ["echo hi", {"named": {"dir": "sub", "run": "./go"}}, {"short": "true"}]
    assert role_tests(tests, FRAMEWORKS["basic"]) == [
        RoleTest("echo hi", ".", "echo hi"),
        RoleTest("named", "sub", "./go"),
        RoleTest("short", ".", "true"),
    ]


def test_each_framework_reads_a_string_entry_its_own_way() -> None:
    assert role_tests(["bin/check.sh"], FRAMEWORKS["scripts"]) == [
        RoleTest("bin/check.sh", "bin", "./check.sh")
    ]
    beaker = role_tests(["smoke"], FRAMEWORKS["beakerlib"])[0]
    assert (beaker.directory, "runtest.sh" in beaker.command) == ("smoke", True)
    rhts = role_tests(["sanity"], FRAMEWORKS["rhts"])[0]
    assert (rhts.directory, "make run" in rhts.command) == ("sanity", True)
    avocado = role_tests(["tests/app.py"], FRAMEWORKS["avocado"])[0]
    assert avocado.directory == "." and avocado.command.startswith("avocado run ")
    assert avocado.command.endswith("-- tests/app.py")


def test_harnesses_are_named_for_the_frameworks_that_need_one() -> None:
    assert {name: f.harness for name, f in FRAMEWORKS.items() if f.harness} == {
        "beakerlib": "beakerlib",
        "rhts": "restraint-rhts (rhts-environment.sh)",
        "avocado": "avocado",
    }


def test_beakerlib_output_can_fail_a_test_that_exited_zero() -> None:
    beakerlib = FRAMEWORKS["beakerlib"]
    assert beakerlib.passed(0, ":: [   PASS   ] :: ok\n")
    assert not beakerlib.passed(0, ":: [   FAIL   ] :: broken\n")
    assert not beakerlib.passed(1, "")


@pytest.mark.parametrize(
    "tests",
    [
        "not a list",
        [42],
        [{"a": 1, "b": 2}],
        [{"no-run": {"dir": "."}}],
        [{"out": {"dir": "../up", "run": "x"}}],
    ],
)
def test_unreadable_tests_are_refused_with_a_reason(tests: object) -> None:
    with pytest.raises(RoleTestsError):
        role_tests(tests, FRAMEWORKS["basic"])


def test_repositories_are_checked_and_given_defaults() -> None:
    found = repositories(
        [
            {"repo": "https://src.fedoraproject.org/tests/coreutils.git", "dest": "coreutils"},
            {"repo": "/srv/t.git"},
        ]
    )
    assert found == [
        Repository("https://src.fedoraproject.org/tests/coreutils.git", "coreutils", "HEAD"),
        Repository("/srv/t.git", "t", "HEAD"),
    ]
    assert repositories(None) == []


@pytest.mark.parametrize(
    "value",
    [
        {"repo": "x"},
        [{"dest": "d"}],
        [{"repo": "relative/path", "dest": "d"}],
        [{"repo": "/srv/t.git", "dest": "/etc"}],
        [{"repo": "/srv/t.git", "dest": "."}],
        [{"repo": "/srv/t.git", "dest": "d", "version": "-x"}],
        [{"repo": "/srv/t.git", "dest": "d", "version": "a..b"}],
    ],
)
def test_unsafe_repositories_are_refused(value: object) -> None:
    with pytest.raises(RoleTestsError):
        repositories(value)


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "/"]), max_size=6).map("/".join))
def test_relative_dir_never_leaves_the_tests_directory(text: str) -> None:
    try:
        path = relative_dir(text)
    except RoleTestsError:
        return
    assert not path.startswith("/") and path.split("/")[0] != ".."
