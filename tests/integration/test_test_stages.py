"""The functional and integration test stages for real: dnf, ostree, git and ansible-playbook.

A tiny OS of two RPMs (a busybox shell and an application) is built with rpmbuild; its dist-git
history holds passing, failing, missing and broken STI playbooks. The integration stage's choice of
suite is checked on a real OSTree commit of a busybox tree (its tests on a booted machine are in
test_machines.py and test_compose_image_smoke.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from compose_fixtures import build_rpm
from tmt_fixtures import BASE_URL, BRANCH, run, spec, tmp_stage_context, world_config

from ci_pipeline.config import Config, LookasideConfig
from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import functional, integration
from ci_pipeline.stages.base import StageContext, StageResult
from ci_pipeline.stages.sti.packages import missing_packages, rpmdb_path

pytestmark = pytest.mark.integration

APPLETS = ("sh", "cat", "test", "grep", "echo", "ls", "mkdir", "rm", "chmod", "touch", "sleep", "true")

PASSING = """\
- hosts: localhost
  roles:
  - role: standard-test-basic
    tags: [classic]
    required_packages: [sti-shell]
    tests:
    - app-says-ok:
        dir: .
        run: test "$(sti-app)" = "app ok"
    - data-file-is-there:
        dir: data
        run: test "$(cat ./expected)" = "$(cat /usr/share/sti-app/data)"
    - echo simple-command-form
  - role: standard-test-beakerlib
    tags: [classic]
    required_packages: [beakerlib]
    tests: [beaker]
"""
FAILING = PASSING.replace('"app ok"', '"app not ok"')
CONTAINER = (
    PASSING
    + """\
  - role: standard-test-basic
    tags: [container]
    tests:
    - runs-in-the-container:
        dir: .
        run: test -f /etc/container-marker
"""
)
BROKEN_YAML = "- hosts: localhost\n  roles: [ {{ unclosed\n"
DATA = Path(__file__).parents[1] / "data" / "sti"
#: Dist-git revisions whose tests/ hold playbooks of tests/data/sti (tests.yml first, then helpers).
DATA_REVISIONS = {
    "repositories": ["repositories.yml"],
    "scripts": ["scripts.yml"],
    "beakerlib": ["beakerlib.yml"],
    "beakerlib-missing": ["beakerlib-missing.yml"],
    "rhts": ["rhts.yml"],
    "avocado": ["avocado.yml"],
    "old-ansible": ["old-ansible-check.yml", "old-ansible.yml", "old-tasks.yml"],
    "results-yml": ["results-yml.yml"],
    "source": ["source.yml"],
}
MISSING_ROLE = "- hosts: localhost\n  roles:\n  - role: standard-test-nonexistent\n    tags: [classic]\n"


@dataclass(frozen=True)
class Fixture:
    """The tiny OS: its config and the dist-git revisions of the application."""

    root: Path
    config: Config
    revs: dict[str, str]
    ostree_repo: Path
    compose_rev: str
    suite_url: str


def _shell_install() -> str:
    links = " ".join(APPLETS)
    return (
        "install -D -m 0755 /bin/busybox %{buildroot}/usr/bin/busybox\n"
        f"for a in {links}; do ln -s busybox %{{buildroot}}/usr/bin/$a; done\n"
        "ln -s usr/bin %{buildroot}/bin\n"
        "install -d %{buildroot}/tmp %{buildroot}/var/tmp\n"
    )


def _tests_repo(root: Path) -> str:
    """An upstream tests repository: its tag v1 passes, its master since then fails."""
    work = root / "upstream-tests"
    (work / "smoke").mkdir(parents=True)
    (work / "data").mkdir()
    (work / "data" / "expected").write_text("payload\n")
    runtest = work / "smoke" / "runtest.sh"
    runtest.write_text('#!/bin/sh\necho upstream smoke\ntest "$(sti-app)" = "app ok"\n')
    runtest.chmod(0o755)
    run(["git", "init", "--quiet", "--initial-branch=master", str(work)])
    run(["git", "add", "-A"], work)
    run(["git", "commit", "--quiet", "-m", "smoke"], work)
    run(["git", "tag", "v1"], work)
    runtest.write_text("#!/bin/sh\nexit 1\n")
    run(["git", "commit", "--quiet", "-am", "broken since v1"], work)
    return work.as_uri()


def _source_package(root: Path, work: Path) -> None:
    """A real spec, a patch and a ``sources`` file whose tarball is in the lookaside cache."""
    upstream = root / "upstream-source" / "sti-app-1.0"
    upstream.mkdir(parents=True)
    (upstream / "README").write_text("sti-app\n")
    (upstream / "selftest.sh").write_text('#!/bin/sh\ntest "$(sti-app)" = "app ok"\n')
    (upstream / "selftest.sh").chmod(0o755)
    tarball = root / "upstream-source" / "sti-app-1.0.tar.gz"
    run(["tar", "-czf", str(tarball), "-C", str(upstream.parent), upstream.name])
    digest = hashlib.sha512(tarball.read_bytes()).hexdigest()
    cache = root / "lookaside" / "rpms" / "sti-app" / tarball.name / "sha512" / digest
    cache.mkdir(parents=True)
    shutil.copy(tarball, cache / tarball.name)
    (work / "sources").write_text(f"SHA512 ({tarball.name}) = {digest}\n")
    shutil.copy(DATA / "sti-app.spec", work / "sti-app.spec")
    (work / "sti-app-readme.patch").write_text(
        "--- a/README\n+++ b/README\n@@ -1 +1,2 @@\n sti-app\n+patched\n"
    )


def _distgit(root: Path) -> dict[str, str]:
    bare, work = root / "git" / "rpms" / "sti-app.git", root / "work"
    run(["git", "init", "--quiet", "--bare", "--initial-branch=master", str(bare)])
    run(["git", "init", "--quiet", "--initial-branch=master", str(work)])
    revs = {}
    (work / "sti-app.spec").write_text("Name: sti-app\n")
    run(["git", "add", "-A"], work)
    run(["git", "commit", "--quiet", "-m", "no tests"], work)
    revs["none"] = run(["git", "rev-parse", "HEAD"], work)
    (work / "tests" / "data").mkdir(parents=True)
    (work / "tests" / "data" / "expected").write_text("payload\n")
    (work / "tests" / "beaker").mkdir()
    (work / "tests" / "beaker" / "runtest.sh").write_text(
        "#!/bin/sh\necho ':: [   PASS   ] :: app runs'\nsti-app\n"
    )
    for name, playbook in (
        ("passing", PASSING),
        ("failing", FAILING),
        ("container", CONTAINER),
        ("broken", BROKEN_YAML),
        ("missing-role", MISSING_ROLE),
    ):
        (work / "tests" / "tests.yml").write_text(playbook)
        run(["git", "add", "-A"], work)
        run(["git", "commit", "--quiet", "-m", name], work)
        revs[name] = run(["git", "rev-parse", "HEAD"], work)
    (work / "tests" / "scripts").mkdir()
    for script, body in (
        ("app-says-ok.sh", 'test "$(sti-app)" = "app ok"'),
        ("data-is-installed.sh", "test -s /usr/share/sti-app/data"),
    ):
        (work / "tests" / "scripts" / script).write_text(f"#!/bin/sh\n{body}\n")
        (work / "tests" / "scripts" / script).chmod(0o755)
    tests_repo = _tests_repo(root)
    for name, files in DATA_REVISIONS.items():
        if name == "source":
            _source_package(root, work)
        for index, file in enumerate(files):
            text = (DATA / file).read_text().replace("@TESTS_REPO@", tests_repo)
            (work / "tests" / ("tests.yml" if index == 0 else file)).write_text(text)
        run(["git", "add", "-A"], work)
        run(["git", "commit", "--quiet", "-m", name], work)
        revs[name] = run(["git", "rev-parse", "HEAD"], work)
    run(["git", "push", "--quiet", str(bare), "HEAD:master", f"HEAD:{BRANCH}"], work)
    return revs


SUITE = """\
- hosts: localhost
  roles:
  - role: standard-test-basic
    tags: [atomic]
    tests:
    - os-release-is-right:
        dir: .
        run: grep -qx 'VERSION_ID=26' /etc/os-release
    - commit-is-recorded:
        dir: .
        run: test "$(cat /usr/lib/ci-pipeline/commit)" = COMPOSE_REV
    - app-works:
        dir: .
        run: test "$(sti-app)" = "app ok"
- hosts: localhost
  roles:
  - role: standard-test-basic
    tags: [classic]
    tests:
    - not-for-composes: "false"
"""


def _compose(root: Path) -> tuple[Path, str, str]:
    tree = root / "tree"
    for directory in ("usr/bin", "usr/etc", "usr/lib/ci-pipeline", "tmp", "var", "run", "dev"):
        (tree / directory).mkdir(parents=True)
    shutil.copy("/bin/busybox", tree / "usr/bin/busybox")
    for applet in APPLETS:
        (tree / "usr/bin" / applet).symlink_to("busybox")
    (tree / "usr/bin/sti-app").write_text("#!/bin/sh\necho app ok\n")
    (tree / "usr/bin/sti-app").chmod(0o755)
    (tree / "bin").symlink_to("usr/bin")
    (tree / "usr/etc/os-release").write_text("ID=sti\nVERSION_ID=26\n")
    (tree / "usr/lib/ci-pipeline/commit").write_text("placeholder\n")
    repo = root / "artifacts" / BRANCH / "ostree"
    run(["ostree", f"--repo={repo}", "init", "--mode=archive"])
    run(
        ["ostree", f"--repo={repo}", "commit", "--branch=fedora/f26/x86_64/atomic-host", f"--tree=dir={tree}"]
    )
    rev = run(["ostree", f"--repo={repo}", "rev-parse", "fedora/f26/x86_64/atomic-host"])
    suite_work, suite_bare = root / "suite-work", root / "git" / "tests" / "atomic-host-tests.git"
    (suite_work / "tests").mkdir(parents=True)
    (suite_work / "tests" / "tests.yml").write_text(SUITE.replace("COMPOSE_REV", rev))
    run(["git", "init", "--quiet", "--initial-branch=master", str(suite_work)])
    run(["git", "add", "-A"], suite_work)
    run(["git", "commit", "--quiet", "-m", "suite"], suite_work)
    run(["git", "init", "--quiet", "--bare", "--initial-branch=master", str(suite_bare)])
    run(["git", "push", "--quiet", str(suite_bare), "HEAD:master"], suite_work)
    return repo, rev, suite_bare.as_uri()


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    root = tmp_path_factory.mktemp("sti")
    base_repo, build = root / "base", root / "rpmbuild"
    shell = spec("sti-shell", "1.fc26", _shell_install(), "/usr/bin/*\n/bin\n%dir /tmp\n%dir /var/tmp",
                 "Provides: /bin/sh")
    build_rpm(build / "shell", shell, base_repo)
    beakerlib_install = "install -D -m 0644 /dev/null %{buildroot}/usr/share/beakerlib/beakerlib.sh\n"
    build_rpm(build / "beakerlib", spec("beakerlib", "1.fc26", beakerlib_install, "/usr/share/beakerlib"),
              base_repo)
    app_repo = root / "artifacts" / BRANCH / "repo" / "sti-app_repo"
    app_install = (
        "install -d %{buildroot}/usr/bin %{buildroot}/usr/share/sti-app\n"
        "printf '#!/bin/sh\\necho app ok\\n' > %{buildroot}/usr/bin/sti-app\n"
        "chmod 0755 %{buildroot}/usr/bin/sti-app\n"
        "echo payload > %{buildroot}/usr/share/sti-app/data\n"
    )
    app = spec("sti-app", "1.2.abcdef0.fc26", app_install, "/usr/bin/sti-app\n/usr/share/sti-app",
               "Requires: sti-shell")
    build_rpm(build / "app", app, app_repo)
    lookaside = f"{root}/lookaside/{{namespace}}/{{repo}}/{{filename}}/{{hashtype}}/{{hash}}/{{filename}}"
    config = world_config(root, base_repo, "sti-base", lookaside=LookasideConfig(url=lookaside))
    repo, compose_rev, suite_url = _compose(root)
    return Fixture(root, config, _distgit(root), repo, compose_rev, suite_url)


def _context(fixture: Fixture, tmp_path: Path, stage: str, **fields: str) -> StageContext:
    fields = {"repo": "sti-app", "branch": BRANCH, "namespace": "rpms", **fields}
    return tmp_stage_context(fixture.config, tmp_path, stage, fields)


def _functional(
    fixture: Fixture, tmp_path: Path, rev: str, **options: str
) -> tuple[StageContext, StageResult]:
    ctx = _context(
        fixture,
        tmp_path,
        "functional",
        rev=fixture.revs[rev],
        nvr="sti-app-1.0-1.2.abcdef0.fc26",
        package_url=f"{BASE_URL}/{BRANCH}/repo/sti-app_repo/",
    )
    ctx = replace(ctx, options=options)
    return ctx, functional.run_functional(ctx)


def test_passing_tests_run_inside_a_fresh_root_with_the_build(fixture: Fixture, tmp_path: Path) -> None:
    ctx, result = _functional(fixture, tmp_path, "passing")
    outcomes = {t.name: t.outcome for t in result.tests}
    assert outcomes == {
        "app-says-ok": "PASSED",
        "data-file-is-there": "PASSED",
        "echo simple-command-form": "PASSED",
        "beaker": "PASSED",
    }
    assert result.summary == "4 tests passed (classic)."
    assert (ctx.artifacts_dir / "test.log").read_text().splitlines()[0] == "PASS app-says-ok"
    assert "simple-command-form" in (ctx.artifacts_dir / "echo_simple-command-form.log").read_text()
    junit = ET.parse(ctx.artifacts_dir / "results.xml").getroot().find("testsuite")
    assert junit is not None and junit.get("tests") == "4" and junit.get("failures") == "0"
    # The subject was a temporary root, now gone; the host never had the application.
    assert not (ctx.workdir / "root").exists() and shutil.which("sti-app") is None


def _container_tarball(root: Path) -> Path:
    """A container's root filesystem as ``podman export`` makes it: a busybox shell and a marker."""
    tree = root / "container-tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "etc").mkdir()
    shutil.copy("/bin/busybox", tree / "bin" / "busybox")
    for applet in APPLETS:
        (tree / "bin" / applet).symlink_to("busybox")
    (tree / "usr").mkdir()
    (tree / "usr" / "bin").symlink_to("../bin")
    (tree / "etc" / "container-marker").write_text("yes\n")
    tarball = root / "container.tar"
    run(["tar", "-cf", str(tarball), "-C", str(tree), "."])
    return tarball


def test_a_container_subject_runs_the_container_tagged_tests_in_it(fixture: Fixture, tmp_path: Path) -> None:
    tarball = _container_tarball(tmp_path)
    ctx, result = _functional(fixture, tmp_path, "container", container_subject=tarball.as_uri())
    outcomes = {t.name: t.outcome for t in result.tests}
    assert outcomes["runs-in-the-container"] == "PASSED" and outcomes["app-says-ok"] == "PASSED"
    assert "(container)" in result.summary
    assert "PASS runs-in-the-container" in (ctx.artifacts_dir / "container" / "test.log").read_text()
    assert not (ctx.workdir / "container").exists()


def test_a_failing_test_fails_the_stage_naming_it(fixture: Fixture, tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match=r"^1 of 3 tests failed: app-says-ok\.$"):
        _functional(fixture, tmp_path, "failing")
    log = (tmp_path / "artifacts" / "app-says-ok.log").read_text()
    assert "exit status 1" in log
    assert "FAIL app-says-ok" in (tmp_path / "artifacts" / "test.log").read_text()
    junit = ET.parse(tmp_path / "artifacts" / "results.xml").getroot()
    assert [c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None] == ["app-says-ok"]


def test_no_tests_is_success_with_a_visible_skip(fixture: Fixture, tmp_path: Path) -> None:
    _, result = _functional(fixture, tmp_path, "none")
    assert result.summary == "no tests"
    assert [(t.name, t.outcome) for t in result.tests] == [("no tests", "SKIPPED")]


@pytest.mark.parametrize("rev", ["broken", "missing-role"])
def test_a_broken_playbook_is_an_error_not_a_failing_test(fixture: Fixture, tmp_path: Path, rev: str) -> None:
    with pytest.raises(StageFailure) as failure:
        _functional(fixture, tmp_path, rev)
    message = str(failure.value)
    assert message.startswith("The test playbook could not run: an error in the playbook or the test subject")
    assert "tests.yml" in message and "tests failed" not in message
    assert (tmp_path / "artifacts" / "ansible-tests.log").read_text()


def test_tests_cannot_change_the_host(fixture: Fixture, tmp_path: Path) -> None:
    marker = Path("/tmp") / f"sti-host-marker-{tmp_path.name}-{os.getpid()}"
    playbook = (
        "- hosts: localhost\n  roles:\n  - role: standard-test-basic\n    tags: [classic]\n    tests:\n"
        f"    - writes-the-host: {{dir: ., run: 'touch {marker}'}}\n"
        f"    - sees-no-host-file: {{dir: ., run: 'test ! -e {fixture.root}/base'}}\n"
    )
    work = tmp_path / "clone"
    run(["git", "clone", "--quiet", f"{fixture.root}/git/rpms/sti-app.git", str(work)])
    (work / "tests" / "tests.yml").write_text(playbook)
    run(["git", "commit", "--quiet", "-am", "host"], work)
    run(["git", "push", "--quiet", "origin", "HEAD:refs/heads/host"], work)
    rev = run(["git", "rev-parse", "HEAD"], work)
    ctx = _context(
        fixture, tmp_path, "functional", rev=rev, package_url=f"{BASE_URL}/{BRANCH}/repo/sti-app_repo/"
    )
    result = functional.run_functional(ctx)
    assert {t.outcome for t in result.tests} == {"PASSED"}
    assert not marker.exists()


def test_integration_suite_url_and_ref_come_from_the_options(fixture: Fixture, tmp_path: Path) -> None:
    ctx = _context(fixture, tmp_path, "integration", compose_rev=fixture.compose_rev)
    ctx = StageContext(
        **{
            **ctx.__dict__,
            "options": {
                "integration_tests_url": fixture.suite_url,
                "integration_tests_ref": "no-such-branch",
            },
        }
    )
    with pytest.raises(StageFailure, match="has none of the refs no-such-branch"):
        integration.run_integration(ctx)


def _outcomes(result: StageResult) -> dict[str, str]:
    return {t.name: t.outcome for t in result.tests}


def test_tests_from_another_repository_run_at_its_version(fixture: Fixture, tmp_path: Path) -> None:
    ctx, result = _functional(fixture, tmp_path, "repositories")
    assert _outcomes(result) == {"upstream-smoke": "PASSED", "upstream-data": "PASSED"}
    assert "upstream smoke" in (ctx.artifacts_dir / "upstream-smoke.log").read_text()


def test_the_scripts_role_runs_each_script_in_its_directory(fixture: Fixture, tmp_path: Path) -> None:
    _, result = _functional(fixture, tmp_path, "scripts")
    assert _outcomes(result) == {"scripts/app-says-ok.sh": "PASSED", "scripts/data-is-installed.sh": "PASSED"}


def test_beakerlib_tests_run_where_beakerlib_is_required(fixture: Fixture, tmp_path: Path) -> None:
    _, result = _functional(fixture, tmp_path, "beakerlib")
    assert _outcomes(result) == {"beaker": "PASSED"}


@pytest.mark.parametrize(
    ("rev", "test", "harness"),
    [
        ("beakerlib-missing", "beaker", "beakerlib"),
        ("rhts", "rhts-sanity", "restraint-rhts"),
        ("avocado", "avocado/app.py", "avocado"),
    ],
)
def test_a_framework_missing_on_the_subject_is_an_error_naming_it(
    fixture: Fixture, tmp_path: Path, rev: str, test: str, harness: str
) -> None:
    with pytest.raises(StageFailure) as failure:
        _functional(fixture, tmp_path, rev)
    message = str(failure.value)
    assert message.startswith("1 of 1 tests could not run (an error, not a failing test): ")
    assert f"{test} ({harness}" in message and "is not installed on the test subject" in message
    assert _outcome_in_artifacts(tmp_path, test) == "error"
    junit = ET.parse(tmp_path / "artifacts" / "results.xml").getroot()
    assert [c.get("name") for c in junit.iter("testcase") if c.find("error") is not None] == [test]


def _outcome_in_artifacts(tmp_path: Path, test: str) -> str:
    results = yaml.safe_load((tmp_path / "artifacts" / "results.yml").read_text())["results"]
    return str(next(r["result"] for r in results if r["test"] == test))


def test_a_playbook_for_old_ansible_is_adapted_and_runs(fixture: Fixture, tmp_path: Path) -> None:
    ctx, result = _functional(fixture, tmp_path, "old-ansible")
    assert _outcomes(result) == {"app-says-ok": "PASSED", "markers-were-left": "PASSED"}
    log = ctx.log_path.read_text()
    assert "tests.yml was written for an older Ansible: include (of a playbook) -> import_playbook." in log
    assert (
        "old-ansible.yml was written for an older Ansible: sudo -> become; vars: list -> mapping; "
        "include (of tasks) -> include_tasks." in log
    )
    assert (
        "old-tasks.yml was written for an older Ansible: always_run -> check_mode; "
        "bare variable -> {{ variable }}." in log
    )


def test_results_yml_written_by_the_playbook_is_read(fixture: Fixture, tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match=r"^1 of 2 tests failed: known-broken\.$") as failure:
        _functional(fixture, tmp_path, "results-yml")
    outcomes = {t.name: (t.outcome, t.log) for t in failure.value.tests}
    assert outcomes == {
        "app-runs": ("PASSED", "log of app-runs\n"),
        "known-broken": ("FAILED", "log of known-broken\n"),
    }


def test_the_shipped_roles_write_results_yml(fixture: Fixture, tmp_path: Path) -> None:
    ctx, _ = _functional(fixture, tmp_path, "passing")
    results = yaml.safe_load((ctx.artifacts_dir / "results.yml").read_text())["results"]
    assert results[0] == {"test": "app-says-ok", "result": "pass", "logs": ["app-says-ok.log"]}
    assert [r["result"] for r in results] == ["pass"] * 4


def test_required_packages_are_asked_of_the_trees_own_rpm_database(fixture: Fixture, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    # The tree's rpm is busybox's applet, which knows no packages: the host's rpm reads the database.
    shutil.copy("/bin/busybox", tree / "bin" / "rpm")
    rpm = ["rpm", f"--root={tree}", "--dbpath=/usr/share/rpm"]
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run([*rpm, "--initdb"], check=True, env=env)
    shell_rpm = next((fixture.root / "base").rglob("sti-shell-*.rpm"))
    subprocess.run(
        [*rpm, "-i", "--justdb", "--nodeps", str(shell_rpm)], check=True, env=env, capture_output=True
    )
    assert rpmdb_path(tree) == "/usr/share/rpm"
    wanted = ["sti-shell", "sti-shell-1.0-1.fc26", "/bin/sh", "sti-app", "/usr/bin/nothing"]
    assert missing_packages(tree, wanted) == ["sti-app", "/usr/bin/nothing"]
    assert missing_packages(tmp_path / "empty", wanted) is None


def test_the_source_role_unpacks_and_patches_the_packages_sources(fixture: Fixture, tmp_path: Path) -> None:
    ctx, result = _functional(fixture, tmp_path, "source")
    assert _outcomes(result) == {"upstream-selftest": "PASSED", "patch-is-applied": "PASSED"}
    assert (ctx.workdir / "distgit" / "sti-app-1.0.tar.gz").is_file()
