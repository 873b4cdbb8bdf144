"""The linchpin provisioner with the real linch-pin (from .venv-linchpin) and its dummy provider.

The dummy provider makes no machines; the inventory layout's host variables point its hosts at a lab
host's SSH server (tests/integration/lab_host.py), so the whole path runs: PinFile, ``linchpin up``,
the inventory linch-pin wrote, SSH answering on every host, ``linchpin destroy``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from lab_host import LabHost, client_key, start_lab_host

from ci_pipeline.config import Config
from ci_pipeline.provision.leasing import provisioned
from ci_pipeline.provision.linchpin import VENV_COMMAND, LinchpinProvisioner
from ci_pipeline.provision.recovery import reclaim_leases
from ci_pipeline.store import leases
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store
from engine.helpers import add_run
from provision.helpers import config_with, request

pytestmark = pytest.mark.integration


@pytest.fixture
def linchpin() -> str:
    command = shutil.which("linchpin") or str(VENV_COMMAND)
    if shutil.which(command) is None:
        pytest.fail(
            f"linch-pin is not installed ({command}): scripts/setup.sh installs it into .venv-linchpin."
        )
    return command


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[LabHost, Path]]:
    key = client_key(tmp_path)
    host = start_lab_host("lab1", tmp_path / "lab", key)
    try:
        yield host, key
    finally:
        host.stop()


def _config(tmp_path: Path, store: Store, linchpin: str, lab: tuple[LabHost, Path]) -> Config:
    host, key = lab
    return config_with(
        tmp_path,
        store.url,
        f'[provision.linchpin]\ncommand = "{linchpin}"\nresource_group_type = "dummy"\nrole = "dummy_node"\n'
        f'key = "{key}"\nboot_timeout = 20\n'
        f'host_vars = {{ ansible_host = "127.0.0.1", ansible_port = "{host.port}" }}\n',
    )


def test_linchpin_up_gives_hosts_that_answer_and_destroy_takes_them_back(
    tmp_path: Path, sqlite_store: Store, linchpin: str, lab: tuple[LabHost, Path]
) -> None:
    config = _config(tmp_path, sqlite_store, linchpin, lab)
    run = add_run(sqlite_store)
    wanted = request(tmp_path, run, count=2)
    workspace = Path(config.provision.linchpin.workspace) / wanted.label
    with provisioned(config, sqlite_store, "linchpin", wanted) as made:
        assert [(h.name, h.address, h.port) for h in made.hosts] == [
            (f"{wanted.label}-{n}", "127.0.0.1", lab[0].port) for n in (0, 1)
        ]
        dummy_hosts = (workspace / "tmp" / "dummy.hosts").read_text().split()
        assert sorted(dummy_hosts) == [f"{wanted.label}-0", f"{wanted.label}-1"]
    assert (workspace / "tmp" / "dummy.hosts").read_text().split() == []  # destroyed
    with sqlite_store.session() as session:
        assert leases.current(session) == []


def test_a_dead_holders_linchpin_machines_are_destroyed_by_the_reclaim(
    tmp_path: Path, sqlite_store: Store, linchpin: str, lab: tuple[LabHost, Path]
) -> None:
    config = _config(tmp_path, sqlite_store, linchpin, lab)
    run = add_run(sqlite_store)
    wanted = request(tmp_path, run, count=1)
    member = LinchpinProvisioner.from_config(config)
    member.provision(wanted, [f"{wanted.label}-0"])  # as a holder would, which then dies
    workspace = member.workspace(wanted)
    assert (workspace / "tmp" / "dummy.hosts").read_text().split() == [wanted.label]  # one: no index
    leases.acquire(
        sqlite_store,
        "linchpin",
        [f"{wanted.label}-0"],
        1,
        run_id=run,
        stage="e2e",
        attempt=1,
        holder="gone",
        until=utcnow() - timedelta(seconds=1),
        details=member.machines(wanted).details,
    )
    assert reclaim_leases(config, sqlite_store, "scheduler") == 1
    assert (workspace / "tmp" / "dummy.hosts").read_text().split() == []
