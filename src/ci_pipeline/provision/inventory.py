"""Reading the Ansible INI inventory linch-pin writes into hosts.

linch-pin's inventory lists each host once per group, as ``name key=value ...``; group variables
come in ``[group:vars]`` sections. A host's SSH address is ``ansible_host``, else ``hostname`` (the
layout's ``__IP__``), else its name; ``ansible_port``, ``ansible_user`` and
``ansible_private_key_file`` override the provisioner's defaults; ``private_address`` (else the
address) is its address among its peers.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.config import HOST_ADDRESS, MACHINE_NAME
from ci_pipeline.errors import InfrastructureError
from ci_pipeline.provision.base import Host

_SECTION = re.compile(r"^\[(?P<group>[^\]:]+)(?::(?P<kind>vars|children))?\]$")
_NAME = re.compile(MACHINE_NAME)
_ADDRESS = re.compile(HOST_ADDRESS)
_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")


@dataclass(frozen=True)
class HostDefaults:
    """What a host of the inventory gets unless its variables say otherwise."""

    user: str
    key: Path
    port: int = 22


def parse_inventory(text: str) -> dict[str, dict[str, str]]:
    """Every host of an INI inventory with its variables (group ones under host ones), in first-seen order."""
    hosts: dict[str, dict[str, str]] = {}
    groups: dict[str, list[str]] = {}
    group_vars: dict[str, dict[str, str]] = {}
    section, kind = "ungrouped", None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if match := _SECTION.match(line):
            section, kind = match["group"].strip(), match["kind"]
            continue
        if kind == "children":
            continue
        try:
            words = shlex.split(line, comments=False)
        except ValueError as exc:
            raise InfrastructureError(f"The inventory line {line[:80]!r} cannot be read: {exc}.") from exc
        if kind == "vars":
            key, _, value = line.partition("=")
            group_vars.setdefault(section, {})[key.strip()] = value.strip()
            continue
        name, pairs = words[0], words[1:]
        own = hosts.setdefault(name, {})
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if sep:
                own[key] = value
        groups.setdefault(section, []).append(name)
    merged: dict[str, dict[str, str]] = {}
    for name, own in hosts.items():
        combined = dict(group_vars.get("all", {}))
        for group, members in groups.items():
            if name in members:
                combined.update(group_vars.get(group, {}))
        merged[name] = {**combined, **own}
    return merged


def inventory_hosts(text: str, defaults: HostDefaults) -> list[Host]:
    """The hosts of an inventory as :class:`Host` records; a name or address that is unusable is an error."""
    return [_host(name, variables, defaults) for name, variables in parse_inventory(text).items()]


def _host(name: str, variables: Mapping[str, str], defaults: HostDefaults) -> Host:
    address = variables.get("ansible_host") or variables.get("hostname") or name
    private = variables.get("private_address") or address
    if not _NAME.fullmatch(name):
        raise InfrastructureError(
            f"linch-pin's inventory names a host {name[:80]!r} that is not a host name."
        )
    for value in (address, private):
        if not _ADDRESS.fullmatch(value):
            raise InfrastructureError(
                f"linch-pin's inventory gives the host {name} an unusable address {value[:80]!r}."
            )
    user = variables.get("ansible_user") or defaults.user
    if not _USER.fullmatch(user):
        raise InfrastructureError(f"linch-pin's inventory gives the host {name} the user {user[:40]!r}.")
    port_text = variables.get("ansible_port", "")
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise InfrastructureError(f"linch-pin's inventory gives the host {name} the port {port_text[:20]!r}.")
    return Host(
        name=name,
        address=address,
        port=int(port_text) if port_text else defaults.port,
        user=user,
        key=Path(variables.get("ansible_private_key_file") or defaults.key),
        private_address=private,
    )
