"""The linch-pin member's PinFile, command lines and reading of what linch-pin wrote.

A stand-in ``linchpin`` script records its command lines and writes what linch-pin writes (the
inventory and ``resources/linchpin.latest``); the real linch-pin with its dummy provider runs in
tests/integration/test_provision_linchpin.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ci_pipeline.config import Config
from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.provision.base import Deployment, Topology
from ci_pipeline.provision.linchpin import LinchpinProvisioner, inventory_path

from .helpers import config_with, request

FAKE_LINCHPIN = """#!/bin/sh
# Records its arguments, then does what linch-pin's "up" leaves behind.
echo "$@ TMPDIR=$TMPDIR" >> "{calls}"
workspace=$2
if [ "$3" = up ]; then
    mkdir -p "$workspace/inventories" "$workspace/resources"
    printf '[ci]\\nnode-0 hostname=127.0.0.1 ansible_port=1\\n' > "$workspace/inventories/ci.inventory"
    printf '{{"targets": [{{"ci": {{"outputs": {{"inventory_path": ["%s"]}}}}}}]}}' \\
        "$workspace/inventories/ci.inventory" > "$workspace/resources/linchpin.latest"
fi
"""


def _member(tmp_path: Path, text: str = "") -> tuple[LinchpinProvisioner, Path, Config]:
    calls = tmp_path / "calls"
    script = tmp_path / "linchpin"
    script.write_text(FAKE_LINCHPIN.format(calls=calls))
    script.chmod(0o755)
    config = config_with(
        tmp_path, f"sqlite:///{tmp_path}/store.sqlite", f'[provision.linchpin]\ncommand = "{script}"\n{text}'
    )
    return LinchpinProvisioner.from_config(config), calls, config


def test_the_pinfile_asks_for_the_topology_in_one_target(tmp_path: Path) -> None:
    member, _, _ = _member(
        tmp_path,
        'resource = { image_src = "http://images/f26.qcow2", network = "ci" }\n'
        'host_vars = { ansible_user = "fedora" }\n',
    )
    wanted = request(tmp_path, 7, count=3)
    pinfile = member.pinfile(wanted)
    group = pinfile["ci"]["topology"]["resource_groups"][0]
    assert group["resource_group_type"] == "libvirt"
    assert group["resource_definitions"] == [
        {
            "role": "libvirt_node",
            "name": "run7-e2e-1",
            "count": 3,
            "memory": 1024,
            "vcpus": 1,
            "image_src": "http://images/f26.qcow2",
            "network": "ci",
        }
    ]
    layout = pinfile["ci"]["layout"]["inventory_layout"]
    assert layout["hosts"] == {"node": {"count": 3, "host_groups": ["ci"]}}
    assert layout["host_groups"] == {"ci": {"vars": {"ansible_user": "fedora"}}}


def test_a_libvirt_pinfile_boots_the_runs_image(tmp_path: Path) -> None:
    member, _, _ = _member(tmp_path)
    wanted = request(tmp_path, 7)
    image = tmp_path / "image.qcow2"
    pinfile = member.pinfile(
        replace(wanted, deployment=Deployment(image=image), topology=Topology(count=1, memory=2048, cpus=2))
    )
    definition = pinfile["ci"]["topology"]["resource_groups"][0]["resource_definitions"][0]
    assert (definition["image_src"], definition["memory"], definition["vcpus"]) == (
        f"file://{image}",
        2048,
        2,
    )


def test_up_and_destroy_run_in_the_attempts_workspace(tmp_path: Path) -> None:
    member, calls, config = _member(tmp_path, "boot_timeout = 1\n")
    wanted = request(tmp_path, 7)
    workspace = Path(config.provision.linchpin.workspace) / "run7-e2e-1"
    assert member.machines(wanted).details == {"run7-e2e-1-0": {"workspace": str(workspace)}}
    # The host the fake linch-pin reports (port 1) never answers: the stage fails naming it,
    # and what linch-pin made is destroyed first.
    silent = r"node-0 \(127\.0\.0\.1 port 1\) did not answer over SSH within 1 s"
    with pytest.raises(StageFailure, match=silent):
        member.provision(wanted, ["run7-e2e-1-0"])
    assert calls.read_text().splitlines() == [
        f"--workspace {workspace} up ci TMPDIR={workspace}/tmp",
        f"--workspace {workspace} destroy ci TMPDIR={workspace}/tmp",
    ]
    assert json.loads((workspace / "PinFile").read_text())["ci"]["topology"]["topology_name"] == "ci"
    member.reclaim("run7-e2e-1-0", {"workspace": str(workspace)})  # destroyed already: not again
    assert len(calls.read_text().splitlines()) == 2


def test_a_reclaim_only_destroys_workspaces_of_its_own(tmp_path: Path) -> None:
    member, _, _ = _member(tmp_path)
    with pytest.raises(InfrastructureError, match="names no workspace under"):
        member.reclaim("m", {"workspace": "/etc"})


def test_the_inventory_is_found_where_linchpin_says_and_nowhere_else(tmp_path: Path) -> None:
    (tmp_path / "resources").mkdir()
    latest = tmp_path / "resources" / "linchpin.latest"
    latest.write_text(json.dumps({"targets": [{"ci": {"outputs": {"inventory_path": ["/etc/passwd"]}}}]}))
    with pytest.raises(InfrastructureError, match="outside its workspace"):
        inventory_path(tmp_path)
    latest.write_text("not json")
    with pytest.raises(InfrastructureError, match="no readable record"):
        inventory_path(tmp_path)
