"""Unit tests of the e2e machines: plan, kernel arguments, qemu command line, process handling."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from ci_pipeline.stages.qemu.machines import (
    kernel_args,
    machine_command,
    plan_machines,
    private_lan,
    run_machines,
)


def test_machines_get_names_addresses_and_consoles(tmp_path: Path) -> None:
    machines = plan_machines(3, tmp_path)
    assert [(m.name, m.address) for m in machines] == [
        ("machine1", "10.77.0.11"),
        ("machine2", "10.77.0.12"),
        ("machine3", "10.77.0.13"),
    ]
    assert machines[1].console == tmp_path / "machine2.console.log"


def test_each_machine_is_told_its_peers_but_not_itself(tmp_path: Path) -> None:
    machines = plan_machines(3, tmp_path)
    assert kernel_args(machines[1], machines) == (
        "ci.e2e.name=machine2 ci.e2e.ip=10.77.0.12/24 ci.e2e.peers=10.77.0.11,10.77.0.13"
    )
    alone = plan_machines(1, tmp_path)
    assert kernel_args(alone[0], alone) == "ci.e2e.name=machine1 ci.e2e.ip=10.77.0.11/24"


def test_the_lan_is_a_multicast_group_on_loopback() -> None:
    lan = private_lan()
    match = re.fullmatch(r"mcast=239\.255\.(\d+)\.(\d+):(\d+),localaddr=127\.0\.0\.1", lan)
    assert match and 0 < int(match.group(2)) < 255 and 20000 <= int(match.group(3)) < 60000


def test_the_command_adds_the_suite_disk_and_network_to_the_smoke_boot(tmp_path: Path) -> None:
    image = tmp_path / "fedora-atomic-26.1-0123456789abcde.qcow2"
    boot = tmp_path / "fedora-atomic-26.1-0123456789abcde.boot"
    boot.mkdir()
    (boot / "cmdline").write_text("root=LABEL=ci-sysroot console=ttyS0 rw\n")
    machines = plan_machines(2, tmp_path)
    argv = machine_command(
        image, tmp_path / "suite.ext4", machines[1], machines, "mcast=239.255.1.2:30000", "tcg"
    )
    append = argv[argv.index("-append") + 1]
    assert append.startswith("root=LABEL=ci-sysroot console=ttyS0 rw ci.e2e.name=machine2 ")
    assert "-snapshot" in argv and f"file:{machines[1].console}" in argv
    assert f"file={tmp_path / 'suite.ext4'},if=none,id=suite,format=raw" in argv
    assert "socket,id=lan,mcast=239.255.1.2:30000" in argv
    assert "virtio-net-pci,netdev=lan,mac=52:54:00:e2:00:02" in argv


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_machines_still_running_at_the_timeout_are_killed(tmp_path: Path) -> None:
    slow = ["sh", "-c", f"echo $$ > {tmp_path / 'slow.pid'}; exec sleep 60"]
    quick = ["sh", "-c", "exit 3"]
    started = time.monotonic()
    statuses = run_machines({"slow": slow, "quick": quick}, tmp_path / "stage.log", timeout=1.0)
    assert time.monotonic() - started < 10
    assert statuses == {"slow": None, "quick": 3}
    assert not _alive(int((tmp_path / "slow.pid").read_text()))
    assert "$ sh -c exit 3" in (tmp_path / "stage.log").read_text()
