"""Leasing around provisioning: machines are given back whatever happens, and reclaimed from the dead."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.provision import registry
from ci_pipeline.provision.base import Host, Machines, Provisioned, Provisioner, ProvisionRequest
from ci_pipeline.provision.leasing import provisioned
from ci_pipeline.provision.memory import MemoryProvisioner
from ci_pipeline.provision.recovery import LeaseReclaimer, reclaim_leases
from ci_pipeline.store import leases
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store
from engine.helpers import add_run

from .helpers import config_with, request


class LabProvisioner(Provisioner):
    """Two fixed machines, like a lab inventory; it records what it gave out and took back."""

    name = "lab"
    given: list[str] = []
    reclaimed: list[str] = []
    fail_on: str = ""

    def machines(self, request: ProvisionRequest) -> Machines:
        return Machines(candidates=["lab1", "lab2"], details={"lab1": {"rack": 1}, "lab2": {"rack": 2}})

    def provision(self, request: ProvisionRequest, leased: Sequence[str]) -> Provisioned:
        if self.fail_on in leased:
            raise StageFailure(f"The machine {self.fail_on} did not answer over SSH within 1 s.")
        self.given.extend(leased)
        return Provisioned(hosts=[Host(name, "192.0.2.1", 22, "root", Path("k")) for name in leased])

    def teardown(self, request: ProvisionRequest, provisioned: Provisioned) -> None:
        return None

    def reclaim(self, machine: str, detail: Mapping[str, Any]) -> None:
        self.reclaimed.append(f"{machine}@{detail.get('rack')}")


@pytest.fixture(autouse=True)
def lab_member(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.PROVISIONER_MEMBERS, "lab", f"{__name__}:LabProvisioner")
    monkeypatch.setattr(LabProvisioner, "given", [])
    monkeypatch.setattr(LabProvisioner, "reclaimed", [])
    monkeypatch.setattr(LabProvisioner, "fail_on", "")


def _current(store: Store) -> list[tuple[str, str, int]]:
    with store.session() as session:
        return [(lease.provisioner, lease.machine, lease.run_id) for lease in leases.current(session)]


def test_machines_are_leased_while_the_block_runs_and_given_back_after(store: Store, tmp_path: Path) -> None:
    config = config_with(tmp_path, store.url)
    run = add_run(store)
    with provisioned(config, store, "memory", request(tmp_path, run, count=3)) as made:
        assert [host.name for host in made.hosts] == [f"run{run}-e2e-1-{n}" for n in (1, 2, 3)]
        assert [machine for _, machine, _ in _current(store)] == [host.name for host in made.hosts]
    assert _current(store) == []
    assert set(MemoryProvisioner.torn_down) >= {host.name for host in made.hosts}


def test_a_failing_stage_or_provisioning_still_gives_the_machines_back(store: Store, tmp_path: Path) -> None:
    config = config_with(tmp_path, store.url)
    run = add_run(store)
    with pytest.raises(RuntimeError), provisioned(config, store, "lab", request(tmp_path, run, count=2)):
        raise RuntimeError("the stage's tests broke")
    assert _current(store) == []
    LabProvisioner.fail_on = "lab2"
    with (
        pytest.raises(StageFailure, match="lab2 did not answer"),
        provisioned(config, store, "lab", request(tmp_path, run, count=2)),
    ):
        pass
    assert _current(store) == []


def test_a_second_run_waits_for_the_first_and_names_the_holders(store: Store, tmp_path: Path) -> None:
    config = config_with(tmp_path, store.url, "[provision]\nwait_seconds = 1\n")
    first, second = add_run(store), add_run(store)
    busy = f"lab1 by run {first} \\(e2e\\); lab2 by run {first}"
    with (
        provisioned(config, store, "lab", request(tmp_path, first, count=2)),
        pytest.raises(InfrastructureError, match=busy),
        provisioned(config, store, "lab", request(tmp_path, second, count=1)),
    ):
        pass
    with provisioned(config, store, "lab", request(tmp_path, second, count=2)) as made:
        assert [host.name for host in made.hosts] == ["lab1", "lab2"]


def test_a_waiting_run_gets_the_machines_when_the_holder_lets_go(store: Store, tmp_path: Path) -> None:
    config = config_with(tmp_path, store.url, "[provision]\nwait_seconds = 30\n")
    first, second = add_run(store), add_run(store)
    holding = threading.Event()
    let_go = threading.Event()

    def hold() -> None:
        with provisioned(config, store, "lab", request(tmp_path, first, count=2)):
            holding.set()
            let_go.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(10)
    threading.Timer(1.0, let_go.set).start()
    with provisioned(config, store, "lab", request(tmp_path, second, count=2)) as made:
        assert [host.name for host in made.hosts] == ["lab1", "lab2"]
    holder.join()


def _lease_as_a_process_that_dies(store: Store, run: int) -> None:
    code = (
        "import sys\n"
        "from datetime import timedelta\n"
        "from ci_pipeline.store import leases\n"
        "from ci_pipeline.store.clock import utcnow\n"
        "from ci_pipeline.store.db import open_store\n"
        "from ci_pipeline.store.runs import owner_name\n"
        "store = open_store(sys.argv[1], migrate=False)\n"
        "leases.acquire(store, 'lab', ['lab1', 'lab2'], 2, run_id=int(sys.argv[2]), stage='e2e', attempt=1,\n"
        "               holder=owner_name(), until=utcnow() + timedelta(hours=1),\n"
        "               details={'lab1': {'rack': 1}, 'lab2': {'rack': 2}})\n"
    )
    subprocess.run([sys.executable, "-c", code, store.url, str(run)], check=True)


def test_the_machines_of_a_dead_holder_are_reclaimed_and_leased_again(store: Store, tmp_path: Path) -> None:
    config = config_with(tmp_path, store.url, "[provision]\nwait_seconds = 5\n")
    dead_run, run = add_run(store), add_run(store)
    _lease_as_a_process_that_dies(store, dead_run)
    assert [machine for _, machine, _ in _current(store)] == ["lab1", "lab2"]
    # The next request reclaims them while it waits, and gets them.
    with provisioned(config, store, "lab", request(tmp_path, run, count=2)) as made:
        assert [host.name for host in made.hosts] == ["lab1", "lab2"]
    assert sorted(LabProvisioner.reclaimed) == ["lab1@1", "lab2@2"]


def test_a_scheduler_reclaims_the_stage_it_takes_over_and_sweeps_dead_holders(
    store: Store, tmp_path: Path
) -> None:
    config = config_with(tmp_path, store.url)
    run = add_run(store)
    leases.acquire(
        store,
        "lab",
        ["lab1"],
        1,
        run_id=run,
        stage="smoke",
        attempt=1,
        holder="other-host:1:alive",
        until=utcnow() + timedelta(hours=1),
    )
    reclaimer = LeaseReclaimer(config, store, "scheduler")
    reclaimer.attempt_left(run, "smoke")
    reclaimer.tick()
    reclaimer.wait(10)
    assert _current(store) == []
    assert LabProvisioner.reclaimed == ["lab1@None"]
    _lease_as_a_process_that_dies(store, run)
    assert reclaim_leases(config, store, "scheduler") == 2
    assert _current(store) == []
