"""Provisioners on the machine layer's real qemu machines (the test guest of guest_fixtures.py).

The qemu member boots them itself. The ssh member gets them as a lab: machines booted beforehand and
known to it only by their SSH addresses (127.0.0.1 and a forwarded port) and key, as a lab's hosts are.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from compose_fixtures import stage_context
from guest_fixtures import build_test_guest
from test_machines import qemu_using

from ci_pipeline.config import Config
from ci_pipeline.errors import InfrastructureError
from ci_pipeline.machines.cluster import Machine, booted_machines, deadline_in
from ci_pipeline.provision.base import Deployment
from ci_pipeline.provision.deploy import run_remote
from ci_pipeline.provision.leasing import provisioned
from ci_pipeline.stages import smoke
from ci_pipeline.stages.qemu.bootdisk import image_name
from ci_pipeline.store import leases
from ci_pipeline.store.db import Store
from engine.helpers import add_run
from provision.helpers import config_with, request

pytestmark = pytest.mark.integration

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"
NVR = "ci-hello-1.0-1.200.591b0d2.fc26"


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_test_guest(tmp_path_factory.mktemp("guest"), commit=REV, rpms=[NVR])


@pytest.fixture
def lab(guest: Path, tmp_path: Path) -> Iterator[list[Machine]]:
    """Three machines booted before any run asks for them: the lab."""
    work = tmp_path / "lab"
    names = ["lab1", "lab2", "lab3"]
    with booted_machines(
        guest, names, work, work, tmp_path / "lab.log", accel="", deadline=deadline_in(120)
    ) as up:
        yield up


def _lab_config(
    tmp_path: Path, store: Store, lab: list[Machine], boot_timeout: int = 30, extra: str = ""
) -> Config:
    hosts = ", ".join(
        f'{{ name = "{m.name}", address = "{m.ssh.host}", port = {m.ssh.port}, key = "{m.ssh.key}", '
        f'private_address = "{m.plan.lan_address}" }}'
        for m in lab
    )
    return config_with(
        tmp_path,
        store.url,
        f"[provision.ssh]\nboot_timeout = {boot_timeout}\nconnect_timeout = 3\nhosts = [{hosts}]\n{extra}",
    )


def test_the_qemu_member_boots_machines_that_answer_and_stops_them(
    guest: Path, tmp_path: Path, sqlite_store: Store
) -> None:
    config = config_with(tmp_path, sqlite_store.url)
    run = add_run(sqlite_store)
    wanted = replace(request(tmp_path, run, count=2), deployment=Deployment(image=guest), timeout=120)
    with provisioned(config, sqlite_store, "qemu", wanted) as made:
        assert [host.name for host in made.hosts] == [f"e2e1-r{run}-a1", f"e2e2-r{run}-a1"]
        assert [host.private_address for host in made.hosts] == ["10.77.0.11", "10.77.0.12"]
        for host in made.hosts:
            assert run_remote(host, "hostname", tmp_path / "ssh.log", timeout=30).strip() == host.name
        with sqlite_store.session() as session:
            assert [lease.machine for lease in leases.current(session)] == [h.name for h in made.hosts]
        assert len(qemu_using(wanted.workdir)) == 2
    assert not qemu_using(wanted.workdir)
    with sqlite_store.session() as session:
        assert leases.current(session) == []


def test_the_ssh_member_leases_lab_machines_reached_only_by_their_ssh_addresses(
    tmp_path: Path, store: Store, lab: list[Machine]
) -> None:
    config = _lab_config(tmp_path, store, lab)
    first, second = add_run(store), add_run(store)
    with provisioned(config, store, "ssh", request(tmp_path, first, count=2)) as held:
        assert [(h.name, h.private_address) for h in held.hosts] == [
            ("lab1", "10.77.0.11"),
            ("lab2", "10.77.0.12"),
        ]
        with provisioned(config, store, "ssh", request(tmp_path, second, count=1, stage="smoke")) as other:
            (host,) = other.hosts
            assert run_remote(host, "hostname", tmp_path / "ssh.log", timeout=30).strip() == "lab3"
            # Over the private LAN, lab3 reaches the hosts another run holds: the network is shared.
            run_remote(host, "ping -c 1 -W 5 10.77.0.11", tmp_path / "ssh.log", timeout=30)


def test_a_lab_machine_that_never_answers_fails_the_stage_with_its_name(
    tmp_path: Path, store: Store, lab: list[Machine]
) -> None:
    config = _lab_config(tmp_path, store, lab, boot_timeout=3)
    lab[1].process.send_signal(signal.SIGKILL)
    lab[1].process.wait()
    run = add_run(store)
    with (
        pytest.raises(
            InfrastructureError, match=r"The machine lab2 \(127\.0\.0\.1 port \d+\) did not answer over SSH"
        ),
        provisioned(config, store, "ssh", request(tmp_path, run, count=3)),
    ):
        pass
    with store.session() as session:
        assert leases.current(session) == []


def test_the_smoke_stage_runs_on_a_lab_host_of_a_configured_ssh_provisioner(
    guest: Path, tmp_path: Path, sqlite_store: Store, lab: list[Machine]
) -> None:
    """The lab host already runs the run's commit, so it is leased and checked as it is."""
    artifacts = tmp_path / "artifacts"
    config = _lab_config(
        tmp_path,
        sqlite_store,
        lab[2:],
        extra=f'[provision.smoke]\nprovisioner = "ssh"\n[artifacts]\nroot = "{artifacts}"\n'
        'base_url = "http://artifacts.test"\n',
    )
    name = image_name("26.1", REV)
    images = artifacts / "f26" / "images"
    images.mkdir(parents=True)
    (images / name).symlink_to(guest)
    fields = {
        "branch": "f26",
        "compose_rev": REV,
        "nvr": NVR,
        "image_name": name,
        "ref": "fedora/26/x86_64/atomic-host",
    }
    ctx = stage_context(tmp_path, add_run(sqlite_store), "smoke", fields, config)
    result = smoke.run(ctx)
    assert [(t.name, t.outcome) for t in result.tests] == [
        ("boot", "PASSED"),
        ("commit", "PASSED"),
        ("nvr", "PASSED"),
    ]
    assert result.summary.endswith("on lab3.")
    assert not (ctx.artifacts_dir / "smoke.console.log").exists()  # a lab host has no console here
    assert lab[2].process.poll() is None  # handed back, not stopped
    with sqlite_store.session() as session:
        assert leases.current(session) == []
