"""The example OS boots as a cloud image: a NoCloud seed, DHCP, an SSH server, ostree and rpm.

One image (the example world, composed and written by the image stage) boots under qemu with a
seed disk and user networking that forwards a free port of 127.0.0.1 to the guest's port 22; the
tests log in with a fresh key and ask the machine what it runs.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from compose_fixtures import example_config, stage_context

from ci_pipeline.example.world import OSNAME, World, create_world
from ci_pipeline.machines.accel import choose_accel
from ci_pipeline.machines.qemu import MachinePlan, create_overlay, machine_command
from ci_pipeline.stages import compose, image

pytestmark = pytest.mark.integration

#: The MAC the machine layer gives the first network card of its first machine.
MAC = "52:54:00:00:00:01"
SSH_DEADLINE = 120.0
KVM_SILENCE = 20.0


@dataclass(frozen=True)
class BuiltImage:
    """The example OS's image and what it was made from."""

    path: Path
    compose_rev: str
    world: World


def build_image(root: Path) -> BuiltImage:
    """The example world under ``root``, composed and written as a qcow2 by the stages."""
    world = create_world(root / "world")
    config = example_config(root, world)
    fields = {"branch": world.branch}
    for number, (name, stage) in enumerate((("compose", compose.run), ("image", image.run)), start=1):
        fields.update(stage(stage_context(root, number, name, fields, config)).outputs)
    path = root / "artifacts" / world.branch / "images" / fields["image_name"]
    return BuiltImage(path, fields["compose_rev"], world)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    return build_image(tmp_path_factory.mktemp("guest"))


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def make_seed(directory: Path, files: Mapping[str, str], fs: str) -> Path:
    """A NoCloud seed disk (``vfat`` or ``iso9660``) labelled cidata holding ``files``."""
    content = directory / "seed"
    content.mkdir(parents=True)
    for name, text in files.items():
        (content / name).write_text(text)
    disk = directory / f"seed.{fs}"
    if fs == "vfat":
        subprocess.run(["mkfs.fat", "-C", "-n", "CIDATA", str(disk), "1440"], check=True, capture_output=True)
        subprocess.run(["mcopy", "-i", str(disk), *map(str, content.iterdir()), "::/"], check=True)
    else:
        command = ["xorriso", "-as", "mkisofs", "-quiet", "-V", "cidata", "-J", "-r", "-o", str(disk)]
        subprocess.run([*command, str(content)], check=True, capture_output=True)
    return disk


def cloud_config(key: Path, **extra: object) -> str:
    """``#cloud-config`` user-data giving root the public half of ``key``."""
    data = {"ssh_authorized_keys": [key.with_suffix(".pub").read_text().strip()], "disable_root": False}
    return "#cloud-config\n" + yaml.safe_dump({**data, **extra}, sort_keys=False)


@dataclass(frozen=True)
class Machine:
    """A booted guest reachable over SSH on 127.0.0.1:port."""

    port: int
    key: Path
    console: Path

    def ssh(self, command: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        options = [
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
        ]
        options += [
            "-o",
            "ConnectTimeout=15",
            "-o",
            "LogLevel=ERROR",
            "-p",
            str(self.port),
            "-i",
            str(self.key),
        ]
        return subprocess.run(
            ["ssh", *options, "root@127.0.0.1", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_qemu(
    built: BuiltImage, seed: Path, port: int, accel: str, workdir: Path
) -> subprocess.Popen[bytes]:
    """qemu booting an overlay of the image from its disk, with the seed disk and port 22 forwarded
    from 127.0.0.1:port (the machine layer's command line, with this test's own seed)."""
    plan = MachinePlan(
        index=1,
        name="guest",
        overlay=workdir / "guest.qcow2",
        seed=seed,
        console=workdir / "console.log",
        qemu_log=workdir / "qemu.log",
        ssh_port=port,
        lan_address="",
    )
    assert plan.nic_mac == MAC
    create_overlay(built.path, plan.overlay, workdir / "tools.log")
    with plan.qemu_log.open("w") as qemu_log:
        return subprocess.Popen(
            machine_command(plan, accel, ""),
            stdin=subprocess.DEVNULL,
            stdout=qemu_log,
            stderr=subprocess.STDOUT,
        )


def _silent(console: Path) -> bool:
    return not console.is_file() or not console.read_bytes().strip()


@contextmanager
def booted(built: BuiltImage, seed: Path, key: Path, workdir: Path) -> Iterator[Machine]:
    """Boot the image with ``seed``, wait until SSH answers, and always stop qemu.

    A /dev/kvm that passes the probe but cannot run the kernel (some nested hosts) leaves the console
    silent: after :data:`KVM_SILENCE` the machine boots again under TCG.
    """
    accel = choose_accel("", workdir / "kvm-probe.log")
    machine = Machine(free_port(), key, workdir / "console.log")
    qemu = start_qemu(built, seed, machine.port, accel, workdir)
    try:
        started = time.monotonic()
        while (attempt := machine.ssh("true", timeout=30)).returncode != 0:
            waited = time.monotonic() - started
            if accel == "kvm" and waited > KVM_SILENCE and _silent(machine.console):
                qemu.kill()
                qemu.wait()
                accel, started = "tcg", time.monotonic()
                qemu = start_qemu(built, seed, machine.port, accel, workdir)
            elif qemu.poll() is not None or waited > SSH_DEADLINE:
                tail = machine.console.read_text(errors="replace")[-3000:]
                pytest.fail(f"SSH never answered ({accel}, qemu {qemu.poll()}): {attempt.stderr}\n{tail}")
            time.sleep(0.5)
        yield machine
    finally:
        qemu.kill()
        qemu.wait()


def test_a_vfat_seed_gives_the_hostname_the_key_and_dhcp(
    built: BuiltImage, key: Path, tmp_path: Path
) -> None:
    files = {
        "meta-data": "instance-id: iid-vfat\nlocal-hostname: guest-vfat\n",
        "user-data": cloud_config(key),
    }
    rpm = next((built.world.base_repo / "Packages").glob("ci-hello-[0-9]*.x86_64.rpm"))
    nvr = rpm.name.removesuffix(".x86_64.rpm")
    with booted(built, make_seed(tmp_path, files, "vfat"), key, tmp_path) as machine:
        done = machine.ssh(f"hostname; ostree admin status; rpm -q {nvr}; ip addr; ip route")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "guest-vfat"
    assert f"* {OSNAME} {built.compose_rev}.0" in lines
    assert f"{nvr}.x86_64" in lines
    assert "inet 10.0.2.15/24" in done.stdout
    # user networking with restrict=on offers no gateway: the lease's subnet is all the route there is.
    assert "10.0.2.0/24 dev eth0 scope link  src 10.0.2.15" in done.stdout
    console = machine.console.read_text(errors="replace")
    assert "-----BEGIN SSH HOST KEY KEYS-----" in console and "CI-PIPELINE-" not in console


def test_an_iso_seed_with_network_config_names_and_addresses_the_card(
    built: BuiltImage, key: Path, tmp_path: Path
) -> None:
    network = {
        "version": 2,
        "ethernets": {
            "nic0": {
                "match": {"macaddress": MAC},
                "set-name": "lan0",
                "dhcp4": True,
                "addresses": ["192.168.77.5/24"],
            }
        },
    }
    files = {
        "meta-data": "instance-id: iid-iso\nlocal-hostname: guest-iso\n",
        "user-data": cloud_config(key),
        "network-config": yaml.safe_dump(network),
    }
    with booted(built, make_seed(tmp_path, files, "iso9660"), key, tmp_path) as machine:
        done = machine.ssh("hostname; ip -4 addr show dev lan0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("guest-iso\n")
    assert "inet 10.0.2.15/24" in done.stdout and "inet 192.168.77.5/24" in done.stdout


def test_a_bad_seed_is_reported_and_the_boot_goes_on(built: BuiltImage, key: Path, tmp_path: Path) -> None:
    files = {
        "meta-data": "instance-id: iid-bad\nlocal-hostname: not_a/host name\n",
        "user-data": cloud_config(
            key, ssh_authorized_keys=["garbage", key.with_suffix(".pub").read_text().strip()]
        ),
        "network-config": "version: 2\nethernets:\n  eth7:\n    dhcp4: true\n  eth8:\n    dhcp4: [unclosed\n",
    }
    with booted(built, make_seed(tmp_path, files, "vfat"), key, tmp_path) as machine:
        done = machine.ssh("hostname; ip -4 addr")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("localhost\n")
    console = machine.console.read_text(errors="replace")
    assert "local-hostname 'not_a/host name' is not a host name" in console
    assert "'garbage ...' is not a public key" in console
    assert "there is no network card eth7" in console
    assert "network-config: yaml: line 6: a flow collection that does not close" in console
    assert "network-config configures no network card; using DHCP on the first network card" in console
