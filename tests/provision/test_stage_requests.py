"""What a machine stage asks of its provisioner: its deployment, names, consoles and accelerator."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ci_pipeline.config import Config
from ci_pipeline.errors import InfrastructureError
from ci_pipeline.provision.base import Deployment
from ci_pipeline.provision.leasing import request_for, stage_deployment
from ci_pipeline.provision.qemu import host_names
from ci_pipeline.stages.base import StageContext
from provision.helpers import request
from stages.contexts import tmp_context

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"


def _context(tmp_path: Path, fields: dict[str, str], **options: str) -> StageContext:
    return tmp_context(
        tmp_path, "e2e", fields, Config(), run_id=7, attempt=2, artifacts_url="http://a.test/runs/7",
        options=options,
    )


def test_the_deployment_takes_the_compose_s_ref_and_url_from_the_run(tmp_path: Path) -> None:
    fields = {"ref": "fedora/26/x86_64/atomic-host", "compose_url": "http://c.test/f26/ostree"}
    deployment = stage_deployment(
        _context(tmp_path, fields), tmp_path / "i.qcow2", REV, "http://a.test/f26/ostree", ["node1"]
    )
    assert deployment == Deployment(
        image=tmp_path / "i.qcow2",
        commit=REV,
        ref="fedora/26/x86_64/atomic-host",
        compose_url="http://c.test/f26/ostree",
        names=("node1",),
    )
    fallback = stage_deployment(_context(tmp_path, {}), tmp_path / "i.qcow2", REV, "http://a.test/o", [])
    assert (fallback.ref, fallback.compose_url) == ("", "http://a.test/o")


def test_the_request_keeps_consoles_with_the_artifacts_and_the_stage_s_accelerator(tmp_path: Path) -> None:
    ctx = _context(tmp_path, {}, e2e_accel="tcg", e2e_machines="2")
    made = request_for(ctx, Deployment())
    assert (made.consoles, made.accel, made.topology.count) == (tmp_path / "out", "tcg", 2)
    assert request_for(_context(tmp_path, {}), Deployment()).accel == ""


def test_qemu_machines_take_the_stage_s_names_else_the_leased_ones(tmp_path: Path) -> None:
    wanted = request(tmp_path, 3, count=2)
    assert host_names(wanted, ["e2e1-r3-a1", "e2e2-r3-a1"]) == ["e2e1-r3-a1", "e2e2-r3-a1"]
    named = replace(wanted, deployment=Deployment(names=("node1", "node2")))
    assert host_names(named, ["e2e1-r3-a1", "e2e2-r3-a1"]) == ["node1", "node2"]
    with pytest.raises(InfrastructureError, match="names 2 machines but leased 1"):
        host_names(named, ["e2e1-r3-a1"])
