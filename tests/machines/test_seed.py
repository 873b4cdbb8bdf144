"""The NoCloud seed's files: what cloud-init reads, and refusal of anything malformed."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.machines.seed import Nic, Seed, seed_files

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDx7bLvOAXiXGHAqPjN4D8zpO1D5Wbk8JH8d0n4f0Ez1 ci-pipeline"


def test_the_files_are_what_cloud_init_reads() -> None:
    seed = Seed(
        "node1", "node1", (KEY,), (Nic("52:54:00:00:00:01"), Nic("52:54:00:e2:00:01", "10.77.0.11/24"))
    )
    files = seed_files(seed)
    assert yaml.safe_load(files["meta-data"]) == {"instance-id": "node1", "local-hostname": "node1"}
    assert files["user-data"].startswith("#cloud-config\n")
    assert yaml.safe_load(files["user-data"]) == {"disable_root": False, "ssh_authorized_keys": [KEY]}
    network = yaml.safe_load(files["network-config"])
    assert network == {
        "version": 2,
        "ethernets": {
            "eth0": {"match": {"macaddress": "52:54:00:00:00:01"}, "dhcp4": True},
            "eth1": {
                "match": {"macaddress": "52:54:00:e2:00:01"},
                "dhcp4": False,
                "addresses": ["10.77.0.11/24"],
            },
        },
    }


def test_without_nics_there_is_no_network_config() -> None:
    assert set(seed_files(Seed("smoke", "smoke", (KEY,)))) == {"meta-data", "user-data"}


@given(st.text(max_size=80))
def test_a_malformed_name_key_or_address_is_refused(text: str) -> None:
    for build in (
        lambda: Seed(text, "node1", (KEY,)),
        lambda: Seed("node1", "node1", (text,)),
        lambda: Seed("node1", "node1", (KEY,), (Nic("52:54:00:00:00:01", text),)),
    ):
        try:
            seed = build()
        except InfrastructureError:
            continue
        # Whatever is accepted is one line, and the seed's YAML still reads back as written.
        assert "\n" not in text
        assert yaml.safe_load(seed_files(seed)["meta-data"])["local-hostname"] == seed.hostname


def test_a_key_with_a_newline_is_refused() -> None:
    with pytest.raises(InfrastructureError):
        Seed("node1", "node1", (KEY + "\nruncmd: [reboot]",))
