"""Reading linch-pin's INI inventories into hosts."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.provision.base import Host
from ci_pipeline.provision.inventory import HostDefaults, inventory_hosts, parse_inventory

DEFAULTS = HostDefaults(user="root", key=Path("/keys/ci"))

#: As linch-pin's dummy provider writes it (hostname from the layout's __IP__).
DUMMY = """[ci]
run1-e2e-1-0 hostname=run1-e2e-1-0
run1-e2e-1-1 hostname=run1-e2e-1-1

[all]
run1-e2e-1-1 hostname=run1-e2e-1-1
run1-e2e-1-0 hostname=run1-e2e-1-0
"""

WITH_VARS = """# made by linch-pin
[ci]
node-0 hostname=192.168.122.10 ansible_port=2222
node-1 hostname=192.168.122.11 ansible_host=10.1.1.11 private_address=192.168.122.11

[ci:vars]
ansible_user=cloud-user
ansible_private_key_file=/keys/cloud

[all:vars]
ansible_user=ignored
"""


def test_dummy_inventory_hosts_keep_their_order_and_names() -> None:
    hosts = inventory_hosts(DUMMY, DEFAULTS)
    assert hosts == [
        Host("run1-e2e-1-0", "run1-e2e-1-0", 22, "root", Path("/keys/ci"), "run1-e2e-1-0"),
        Host("run1-e2e-1-1", "run1-e2e-1-1", 22, "root", Path("/keys/ci"), "run1-e2e-1-1"),
    ]


def test_host_and_group_variables_say_how_to_reach_each_host() -> None:
    node0, node1 = inventory_hosts(WITH_VARS, DEFAULTS)
    assert node0 == Host(
        "node-0", "192.168.122.10", 2222, "cloud-user", Path("/keys/cloud"), "192.168.122.10"
    )
    assert node1 == Host("node-1", "10.1.1.11", 22, "cloud-user", Path("/keys/cloud"), "192.168.122.11")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[ci]\n-oProxyCommand=x hostname=a\n", "not a host name"),
        ("[ci]\nnode hostname=$(reboot)\n", "unusable address"),
        ("[ci]\nnode ansible_port=99999\n", "the port '99999'"),
        ("[ci]\nnode ansible_user=-oX\n", "the user '-oX'"),
        ('[ci]\nnode hostname="unclosed\n', "cannot be read"),
    ],
)
def test_an_unusable_inventory_is_one_infrastructure_error(text: str, words: str) -> None:
    with pytest.raises(InfrastructureError, match=words):
        inventory_hosts(text, DEFAULTS)


_names = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
_values = st.from_regex(r"[A-Za-z0-9./-]{1,20}", fullmatch=True)


@given(st.dictionaries(_names, st.dictionaries(st.sampled_from(["hostname", "ansible_port", "x"]), _values)))
def test_every_host_line_is_read_back_with_its_variables(hosts: dict[str, dict[str, str]]) -> None:
    text = "[ci]\n" + "".join(
        f"{name} {' '.join(f'{key}={value}' for key, value in variables.items())}\n"
        for name, variables in hosts.items()
    )
    assert parse_inventory(text) == hosts


@given(st.text(max_size=300))
def test_any_text_is_read_or_refused_with_one_error(text: str) -> None:
    with contextlib.suppress(InfrastructureError):
        inventory_hosts(text, DEFAULTS)
