"""The machine layer and the smoke stage with real qemu, on a small cloud guest built for the tests."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from compose_fixtures import machine_store, stage_context
from guest_fixtures import build_test_guest

from ci_pipeline.config import ArtifactsConfig, Config, E2EConfig
from ci_pipeline.errors import StageFailure
from ci_pipeline.machines import cluster
from ci_pipeline.machines.cluster import booted_machines, deadline_in
from ci_pipeline.machines.qemu import free_port
from ci_pipeline.stages import e2e, smoke
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.qemu.bootdisk import LATEST, image_name
from ci_pipeline.stages.sti.playbooks import chroot_subject, ssh_subject
from ci_pipeline.stages.sti.runner import run_suite
from ci_pipeline.stages.tools import Deadline

pytestmark = pytest.mark.integration

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"
NVR = "ci-hello-1.0-1.200.591b0d2.fc26"


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_test_guest(tmp_path_factory.mktemp("guest"), commit=REV, rpms=[NVR])


def qemu_using(path: Path) -> list[int]:
    """Running qemu processes whose command line mentions ``path``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmdline and str(path).encode() in cmdline:
            found.append(int(entry.name))
    return found


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_one_machine_answers_runs_commands_takes_files_and_leaves_the_image_alone(
    guest: Path, tmp_path: Path
) -> None:
    before = digest(guest)
    work = tmp_path / "machines"
    with booted_machines(
        guest, ["node1"], work, tmp_path / "consoles", tmp_path / "log", accel="", deadline=deadline_in(120)
    ) as (machine,):
        assert machine.check_output("hostname").strip() == "node1"
        (tmp_path / "payload").write_bytes(b"line one\n\x00binary\n")
        machine.copy_to(tmp_path / "payload", "/tmp/payload")
        assert (
            machine.check_output("md5sum /tmp/payload").split()[0]
            == hashlib.md5(b"line one\n\x00binary\n").hexdigest()
        )
        assert machine.copy_from("/tmp/payload") == b"line one\n\x00binary\n"
        assert machine.run("exit 3").returncode == 3
        # restrict=on: the guest reaches nothing beyond its own user-mode network.
        assert machine.run("wget -q -T 3 -O /dev/null http://10.0.2.2:1/", timeout=30).returncode != 0
    assert qemu_using(work) == []
    assert digest(guest) == before


def test_three_machines_share_a_private_lan(guest: Path, tmp_path: Path) -> None:
    work = tmp_path / "machines"
    names = ["node1", "node2", "node3"]
    with booted_machines(
        guest, names, work, tmp_path / "consoles", tmp_path / "log", accel="", deadline=deadline_in(180)
    ) as machines:
        addresses = [m.plan.lan_address for m in machines]
        for machine in machines:
            for address in addresses:
                assert machine.run(f"ping -c 1 -W 5 {address}", timeout=30).returncode == 0, (
                    machine.name,
                    address,
                )
    assert qemu_using(work) == []


def test_a_machine_whose_ssh_never_answers_fails_with_its_console_and_stops(tmp_path: Path) -> None:
    silent = build_test_guest(tmp_path / "guest", commit=REV, rpms=[NVR], keys=False)
    work = tmp_path / "machines"
    with (
        pytest.raises(StageFailure, match="did not answer within") as failure,
        booted_machines(
            silent,
            ["node1"],
            work,
            tmp_path / "consoles",
            tmp_path / "log",
            accel="",
            deadline=deadline_in(25),
        ),
    ):
        pytest.fail("the machine answered without a key")
    assert "Permission denied" in str(failure.value)
    assert qemu_using(work) == []


def test_kill_9_of_the_process_running_machines_stops_them(guest: Path, tmp_path: Path) -> None:
    work = tmp_path / "machines"
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from ci_pipeline.machines.cluster import booted_machines, deadline_in
        paths = [Path(p) for p in {[str(guest), str(work), str(tmp_path / "c"), str(tmp_path / "log")]!r}]
        with booted_machines(paths[0], ["node1"], *paths[1:], accel="", deadline=deadline_in(120)):
            print("up", flush=True)
            time.sleep(600)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "up"
        assert qemu_using(work)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
    deadline = time.monotonic() + 10
    while qemu_using(work) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert qemu_using(work) == []


def smoke_context(tmp_path: Path, guest: Path, rev: str = REV, **options: str) -> StageContext:
    config = Config(
        artifacts=ArtifactsConfig(root=str(tmp_path / "artifacts"), base_url="http://a.test"),
        store=machine_store(tmp_path / "store.sqlite", runs=2),
    )
    name = image_name("26.1", REV)
    images = tmp_path / "artifacts" / "f26" / "images"
    images.mkdir(parents=True)
    (images / name).symlink_to(guest)
    fields = {"branch": "f26", "compose_rev": rev, "nvr": NVR, "image_name": name}
    return stage_context(tmp_path, 1, "smoke", fields, config, options=options)


def test_smoke_passes_on_a_guest_that_runs_the_commit_and_the_package(guest: Path, tmp_path: Path) -> None:
    ctx = smoke_context(tmp_path, guest)
    result = smoke.run(ctx)
    assert [(t.name, t.outcome) for t in result.tests] == [
        ("boot", "PASSED"),
        ("commit", "PASSED"),
        ("nvr", "PASSED"),
    ]
    assert (tmp_path / "artifacts/f26/images" / LATEST).is_symlink()
    assert (ctx.artifacts_dir / "smoke.console.log").is_file()
    assert qemu_using(ctx.workdir) == []


def test_smoke_fails_on_another_commit_naming_the_step(guest: Path, tmp_path: Path) -> None:
    ctx = smoke_context(tmp_path, guest, rev="f" * 64)
    with pytest.raises(StageFailure, match="Smoke step commit failed") as failure:
        smoke.run(ctx)
    assert {t.name: t.outcome for t in failure.value.tests}["commit"] == "FAILED"
    assert REV in str(failure.value)
    assert not (tmp_path / "artifacts/f26/images" / LATEST).exists()


def test_smoke_fails_when_the_guest_never_starts_sshd(tmp_path: Path) -> None:
    silent = build_test_guest(tmp_path / "guest", commit=REV, rpms=[NVR], sshd=False)
    ctx = smoke_context(tmp_path, silent)
    ctx = stage_context(tmp_path, 2, "smoke", ctx.fields, ctx.config, timeout=20.0)
    with pytest.raises(StageFailure, match="Smoke step boot failed") as failure:
        smoke.run(ctx)
    assert [(t.name, t.outcome) for t in failure.value.tests] == [("boot", "FAILED")]
    assert qemu_using(ctx.workdir) == []


def e2e_context(
    tmp_path: Path, guest: Path, e2e_config: E2EConfig | None = None, **options: str
) -> StageContext:
    """An e2e attempt on the test guest with the example's integration-test repository as its suite.

    The suite also holds ``e2e/broken.yml``, an installer whose task fails.
    """
    suite = tmp_path / "suite.git"
    shutil.copytree(Path(e2e.__file__).parents[1] / "example" / "integration-tests", suite)
    (suite / "e2e" / "broken.yml").write_text(BROKEN_INSTALLER)
    git = ["git", "-C", str(suite), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "suite"], check=True)
    ctx = smoke_context(tmp_path, guest)
    config = ctx.config.model_copy(update={"e2e": e2e_config or E2EConfig()})
    options = {"integration_tests_url": suite.as_uri(), "integration_tests_ref": "main", **options}
    return stage_context(tmp_path, 2, "e2e", ctx.fields, config, options=options)


BROKEN_INSTALLER = """\
- hosts: nodes
  gather_facts: false
  tasks:
  - name: the service cannot be set up
    raw: echo no such service >&2; exit 3
"""
FAILING_REPORT = (
    'printf \'<testsuite name="c"><testcase name="ok"/>'
    '<testcase name="dns"><failure message="no answer">node2 is unknown</failure></testcase>'
    '</testsuite>\' > "$E2E_JUNIT"'
)


def test_e2e_installs_three_machines_and_reads_the_conformance_report(guest: Path, tmp_path: Path) -> None:
    ctx = e2e_context(tmp_path, guest)
    result = e2e.run(ctx)
    assert len(result.tests) == 9 and {t.outcome for t in result.tests} == {"PASSED"}
    assert "reach.node1-serves-node3" in {t.name for t in result.tests}
    assert (ctx.artifacts_dir / "results.xml").is_file()
    assert qemu_using(ctx.workdir) == []


SERVICE_PLAYBOOK = """\
- hosts: localhost
  roles:
  - role: standard-test-basic
    tags:
    - atomic
    tests:
    - sshd-is-listening:
        dir: .
        run: netstat -ltn | grep -qE '[:.]22[[:space:]]'
"""


def service_suite(tmp_path: Path) -> list[Path]:
    tests = tmp_path / "suite" / "tests"
    tests.mkdir(parents=True)
    (tests / "tests.yml").write_text(SERVICE_PLAYBOOK)
    return [tests / "tests.yml"]


def test_a_test_of_a_running_service_passes_on_the_booted_host(guest: Path, tmp_path: Path) -> None:
    playbooks = service_suite(tmp_path)
    ctx = stage_context(tmp_path, 1, "integration", {}, Config())
    with booted_machines(
        guest,
        ["subject"],
        tmp_path / "m",
        tmp_path / "c",
        tmp_path / "log",
        accel="",
        deadline=deadline_in(120),
    ) as (machine,):
        target = machine.ssh
        subject = ssh_subject(guest, target)
        result = run_suite(ctx, playbooks, subject, "atomic", "services", Deadline(300))
    assert [(t.name, t.outcome) for t in result.tests] == [("sshd-is-listening", "PASSED")]


def test_the_same_test_fails_in_a_chroot_of_the_same_system(guest: Path, tmp_path: Path) -> None:
    playbooks = service_suite(tmp_path)
    ctx = stage_context(tmp_path, 1, "integration", {}, Config())
    # The guest's whole system as a directory tree, its busybox applets installed as at boot.
    tree = tmp_path / "tree"
    shutil.copytree(guest.parent / "initramfs", tree, symlinks=True)
    subprocess.run(["chroot", str(tree), "/bin/busybox", "--install", "-s", "/bin"], check=True)
    with pytest.raises(StageFailure, match="1 of 1 tests failed: sshd-is-listening"):
        run_suite(ctx, playbooks, chroot_subject(tree), "atomic", "services", Deadline(300))


def test_a_port_taken_before_qemu_binds_it_boots_the_machine_on_another(
    guest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = [taken.getsockname()[1]]
        monkeypatch.setattr(cluster, "free_port", lambda: ports.pop() if ports else free_port())
        with booted_machines(
            guest,
            ["node1"],
            tmp_path / "m",
            tmp_path / "c",
            tmp_path / "log",
            accel="",
            deadline=deadline_in(120),
        ) as (machine,):
            assert machine.ssh.port != taken.getsockname()[1]
            assert machine.check_output("hostname").strip() == "node1"


def test_e2e_fails_naming_the_failed_conformance_case(guest: Path, tmp_path: Path) -> None:
    ctx = e2e_context(tmp_path, guest, E2EConfig(conformance=FAILING_REPORT), e2e_machines="1")
    with pytest.raises(StageFailure, match="1 of 2 e2e tests failed: dns") as failure:
        e2e.run(ctx)
    assert "node2 is unknown" in str(failure.value)
    assert [(t.name, t.outcome) for t in failure.value.tests] == [("ok", "PASSED"), ("dns", "FAILED")]
    assert qemu_using(ctx.workdir) == []


def test_e2e_fails_when_the_installer_fails_and_runs_no_conformance(guest: Path, tmp_path: Path) -> None:
    ctx = e2e_context(tmp_path, guest, E2EConfig(installer="e2e/broken.yml"), e2e_machines="1")
    with pytest.raises(StageFailure, match="The e2e installer failed, so no conformance test ran"):
        e2e.run(ctx)
    assert "no such service" in (ctx.artifacts_dir / "installer.log").read_text()
    assert not (ctx.workdir / "conformance.xml").exists()
    assert qemu_using(ctx.workdir) == []


def test_e2e_without_the_installer_in_the_suite_is_no_e2e_tests(guest: Path, tmp_path: Path) -> None:
    ctx = e2e_context(tmp_path, guest, E2EConfig(installer="e2e/absent.yml"))
    result = e2e.run(ctx)
    assert result.summary == "no e2e tests"
    assert not (ctx.workdir / "machines").exists()
