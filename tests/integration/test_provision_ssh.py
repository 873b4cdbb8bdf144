"""The ssh provisioner against lab hosts reached only over SSH (tests/integration/lab_host.py).

Each lab host is a real SSH server with an OSTree sysroot; the compose is an archive repo served over
HTTP. Leasing deploys the compose's commit onto the hosts (``ostree pull`` and ``ostree admin
deploy`` on the host), reboots them and waits for their new boot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from compose_repo import Compose, served_compose
from lab_host import STATEROOT, LabHost, client_key, start_lab_host

from ci_pipeline.config import Config
from ci_pipeline.errors import InfrastructureError
from ci_pipeline.provision.base import Deployment
from ci_pipeline.provision.leasing import provisioned
from ci_pipeline.store import leases
from ci_pipeline.store.db import Store
from engine.helpers import add_run
from provision.helpers import config_with, request

pytestmark = pytest.mark.integration


@pytest.fixture
def key(tmp_path: Path) -> Path:
    return client_key(tmp_path)


@pytest.fixture
def lab(tmp_path: Path, key: Path) -> Iterator[list[LabHost]]:
    hosts: list[LabHost] = []
    try:
        for name in ("lab1", "lab2", "lab3"):
            hosts.append(start_lab_host(name, tmp_path / "lab", key))
        yield hosts
    finally:
        for host in hosts:
            host.stop()


@pytest.fixture
def compose(tmp_path: Path) -> Iterator[Compose]:
    with served_compose(tmp_path / "compose") as served:
        yield served


def _config(
    tmp_path: Path, store: Store, key: Path, lab: list[LabHost], extra: str = "", boot_timeout: int = 20
) -> Config:
    inventory = ", ".join(
        f'{{ name = "{host.name}", address = "127.0.0.1", port = {host.port}, stateroot = "{STATEROOT}", '
        f'private_address = "10.0.9.{index}" }}'
        for index, host in enumerate(lab, start=1)
    )
    return config_with(
        tmp_path,
        store.url,
        f'[provision.ssh]\nkey = "{key}"\nboot_timeout = {boot_timeout}\nconnect_timeout = 3\n'
        f"hosts = [{inventory}]\n{extra}",
    )


def test_the_commit_is_deployed_onto_leased_lab_hosts_which_reboot_into_it(
    tmp_path: Path, store: Store, key: Path, lab: list[LabHost], compose: Compose
) -> None:
    config = _config(tmp_path, store, key, lab)
    run = add_run(store)
    wanted = replace(
        request(tmp_path, run, count=2),
        deployment=Deployment(commit=compose.commit, ref=compose.ref, compose_url=compose.url),
    )
    boot_ids = [(host.root / "run/lab/boot_id").read_text() for host in lab]
    with provisioned(config, store, "ssh", wanted) as made:
        assert [(h.name, h.address, h.private_address) for h in made.hosts] == [
            ("lab1", "127.0.0.1", "10.0.9.1"),
            ("lab2", "127.0.0.1", "10.0.9.2"),
        ]
        with store.session() as session:
            assert [(lease.machine, lease.run_id) for lease in leases.current(session)] == [
                ("lab1", run),
                ("lab2", run),
            ]
    for host in lab[:2]:
        assert f"{STATEROOT} {compose.commit}.0" in host.deployments()
    assert [
        (host.root / "run/lab/boot_id").read_text() != old for host, old in zip(lab, boot_ids, strict=True)
    ] == [True, True, False]
    with store.session() as session:
        assert leases.current(session) == []


def test_a_host_that_never_answers_fails_the_stage_with_its_name(
    tmp_path: Path, store: Store, key: Path, lab: list[LabHost], compose: Compose
) -> None:
    config = _config(tmp_path, store, key, lab, boot_timeout=3)
    lab[1].take_down()
    run = add_run(store)
    silent = r"The machine lab2 \(127\.0\.0\.1 port \d+\) did not answer over SSH within 3 s"
    with (
        pytest.raises(InfrastructureError, match=silent),
        provisioned(config, store, "ssh", request(tmp_path, run, count=3)),
    ):
        pass
    with store.session() as session:
        assert leases.current(session) == []


def test_two_runs_never_share_a_lab_host(tmp_path: Path, store: Store, key: Path, lab: list[LabHost]) -> None:
    config = _config(tmp_path, store, key, lab, "[provision]\nwait_seconds = 2\n")
    first, second = add_run(store), add_run(store)
    with provisioned(config, store, "ssh", request(tmp_path, first, count=2)) as held:
        assert [host.name for host in held.hosts] == ["lab1", "lab2"]
        with provisioned(config, store, "ssh", request(tmp_path, second, count=1)) as other:
            assert [host.name for host in other.hosts] == ["lab3"]
            with (
                pytest.raises(InfrastructureError, match=f"lab1 by run {first} \\(e2e\\)"),
                provisioned(config, store, "ssh", request(tmp_path, second, count=2, stage="smoke")),
            ):
                pass
