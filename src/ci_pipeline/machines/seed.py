"""The cloud-init NoCloud seed a machine boots with: a small vfat volume labelled ``cidata``.

It holds what cloud images read on first boot::

    meta-data        instance-id, local-hostname
    user-data        #cloud-config: disable_root: false, ssh_authorized_keys: [...]
    network-config   cloud-init network config v2: each NIC matched by MAC, DHCP or static addresses

It is written with ``mkfs.fat`` and ``mcopy`` (mtools): nothing is mounted on the host. Every value
is checked before it is written, so nothing a message carries can reach the guest unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.stages import base

SEED_LABEL = "cidata"
SEED_KIB = 1024
TOOL_TIMEOUT = 60.0
_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
_ADDRESS = re.compile(
    r"(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})(\.(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})){3}/([0-9]|[12][0-9]|3[0-2])"
)
_PUBLIC_KEY = re.compile(
    r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256) [A-Za-z0-9+/=]{16,1024}( [\w.@-]{0,100})?"
)


@dataclass(frozen=True)
class Nic:
    """One network card as the seed describes it: DHCP when it has no address."""

    mac: str
    address: str = ""  # A.B.C.D/NN for a static address


@dataclass(frozen=True)
class Seed:
    """What one machine's seed says."""

    instance_id: str
    hostname: str
    authorized_keys: tuple[str, ...]
    nics: tuple[Nic, ...] = ()

    def __post_init__(self) -> None:
        if not _HOSTNAME.fullmatch(self.hostname) or not _HOSTNAME.fullmatch(self.instance_id):
            raise InfrastructureError(
                f"{self.hostname!r} / {self.instance_id!r} is not a valid machine name."
            )
        for key in self.authorized_keys:
            if not _PUBLIC_KEY.fullmatch(key):
                raise InfrastructureError(f"{key[:40]!r}... is not an OpenSSH public key.")
        for nic in self.nics:
            if not _MAC.fullmatch(nic.mac) or (nic.address and not _ADDRESS.fullmatch(nic.address)):
                raise InfrastructureError(f"The network card {nic} has a malformed MAC or address.")


def meta_data(seed: Seed) -> str:
    """The ``meta-data`` file."""
    return f"instance-id: {seed.instance_id}\nlocal-hostname: {seed.hostname}\n"


def user_data(seed: Seed) -> str:
    """The ``user-data`` file: root may log in with the given keys."""
    keys = "".join(f"  - {key}\n" for key in seed.authorized_keys)
    return f"#cloud-config\ndisable_root: false\nssh_authorized_keys:\n{keys}"


def network_config(nics: Sequence[Nic]) -> str:
    """The ``network-config`` file (v2), one ``ethN`` entry per card in order; MACs quoted for YAML 1.1."""
    lines = ["version: 2", "ethernets:"]
    for index, nic in enumerate(nics):
        lines += [f"  eth{index}:", "    match:", f'      macaddress: "{nic.mac}"']
        if nic.address:
            lines += ["    dhcp4: false", f"    addresses: [{nic.address}]"]
        else:
            lines.append("    dhcp4: true")
    return "\n".join(lines) + "\n"


def seed_files(seed: Seed) -> dict[str, str]:
    """The seed's files by name; ``network-config`` only when NICs are given."""
    files = {"meta-data": meta_data(seed), "user-data": user_data(seed)}
    if seed.nics:
        files["network-config"] = network_config(seed.nics)
    return files


def write_seed(seed: Seed, image: Path, log_path: Path) -> Path:
    """Write the seed as a vfat volume labelled ``cidata`` at ``image`` (a raw disk image)."""
    staging = image.with_suffix(".d")
    staging.mkdir(parents=True, exist_ok=True)
    image.unlink(missing_ok=True)
    base.run_tool(
        ["mkfs.fat", "-C", "-n", SEED_LABEL, str(image), str(SEED_KIB)],
        log_path,
        timeout=TOOL_TIMEOUT,
        failure="mkfs.fat could not write the NoCloud seed",
    )
    names = []
    for name, text in seed_files(seed).items():
        (staging / name).write_text(text, encoding="utf-8")
        names.append(str(staging / name))
    base.run_tool(
        ["mcopy", "-i", str(image), *names, "::"],
        log_path,
        timeout=TOOL_TIMEOUT,
        failure="mcopy could not copy the NoCloud seed's files",
    )
    return image
