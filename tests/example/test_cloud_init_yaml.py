"""The example OS's YAML reader for cloud-init seeds, run with busybox awk as the booted OS runs it."""

from __future__ import annotations

import shutil
import string
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_pipeline.example.catalog import PACKAGES_DIR

FLATTEN = PACKAGES_DIR / "ci-cloud-init" / "files" / "yaml-flatten.awk"
BUSYBOX = shutil.which("busybox")

pytestmark = pytest.mark.skipif(BUSYBOX is None, reason="busybox is not installed; run scripts/setup.sh")


def flatten_with_awk(text: str) -> tuple[list[tuple[str, str]], str]:
    """The (path, value) pairs the guest's reader prints for ``text``, and what it says on stderr."""
    done = subprocess.run(
        [str(BUSYBOX), "awk", "-f", str(FLATTEN)], input=text, capture_output=True, text=True, check=True
    )
    pairs = [tuple(line.split("\t", 1)) for line in done.stdout.splitlines()]
    return [(path, value) for path, value in pairs], done.stderr


def flatten(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """What the reader must print for loaded YAML ``data``."""

    def join(key: object) -> str:
        return f"{path}/{key}" if path else str(key)

    if isinstance(data, dict):
        for key, value in data.items():
            yield from flatten(value, join(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from flatten(value, join(index))
    elif isinstance(data, bool):
        yield path, "true" if data else "false"
    else:
        yield path, str(data)


keys = st.text(string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=12)
# Printable ASCII without line breaks and tabs: the dumper quotes whatever needs quoting.
words = st.text(string.ascii_letters + string.digits + string.punctuation, min_size=1, max_size=20)
texts = st.lists(words, max_size=8).map(" ".join) | st.sampled_from(["true", "yes", "52:54:00:12:34:56", ""])
scalars = texts | st.booleans() | st.integers(min_value=0, max_value=10**6)


def collections(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A sequence holds scalars or mappings: a sequence directly in a sequence is outside the subset.
    mappings = st.dictionaries(keys, inner, max_size=4)
    return mappings | st.lists(scalars | mappings, max_size=4)


documents = st.dictionaries(keys, st.recursive(scalars, collections, max_leaves=12), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(
    document=documents,
    width=st.sampled_from([20, 40, 80, 1000]),
    indent=st.sampled_from([2, 4]),
    flow=st.sampled_from([False, None]),
)
def test_the_reader_agrees_with_pyyaml_on_dumped_documents(
    document: dict[str, Any], width: int, indent: int, flow: bool | None
) -> None:
    text = yaml.safe_dump(document, width=width, indent=indent, default_flow_style=flow, sort_keys=False)
    pairs, complaints = flatten_with_awk(text)
    assert complaints == ""
    assert pairs == list(flatten(yaml.safe_load(text)))


def test_a_cloud_config_as_people_write_it() -> None:
    text = """#cloud-config
# root may log in with these
ssh_authorized_keys:
  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO6rnrKP0rt6j9f6d1O1l4X8p1l8pF9yVv5S6u2vE3a1 me@laptop  # mine
  - "ssh-rsa AAAAB3NzaC1yc2E x"
disable_root: false
network: {config: disabled}
"""
    pairs, complaints = flatten_with_awk(text)
    assert complaints == ""
    assert pairs == [
        (
            "ssh_authorized_keys/0",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO6rnrKP0rt6j9f6d1O1l4X8p1l8pF9yVv5S6u2vE3a1 me@laptop",
        ),
        ("ssh_authorized_keys/1", "ssh-rsa AAAAB3NzaC1yc2E x"),
        ("disable_root", "false"),
        ("network/config", "disabled"),
    ]


def test_json_meta_data_is_read_too() -> None:
    pairs, _ = flatten_with_awk('{"instance-id": "iid-1", "local-hostname": "node1"}\n')
    assert pairs == [("instance-id", "iid-1"), ("local-hostname", "node1")]


@pytest.mark.parametrize(
    ("text", "complaint", "kept"),
    [
        ("a: |\n  block\n  text\nb: 1\n", "block scalars are not supported", [("b", "1")]),
        ("a: [x, [y]]\nb: 1\n", "nested flow collections", [("b", "1")]),
        ("a: &anchor x\nb: 1\n", "anchors and aliases", [("b", "1")]),
        ("a:\n- - x\nb: 1\n", "a sequence directly inside a sequence item", [("b", "1")]),
        ("a: [x,\nb: 1\n", "does not close", []),
        ("a: 1\n  b: 2\nc: 3\n", "unexpected indentation", [("a", "1"), ("c", "3")]),
        ("just words\nc: 3\n", 'expected a "key: value" entry', [("c", "3")]),
        ("a:\n\t- x\n", "tabs do not indent", []),
    ],
)
def test_what_is_outside_the_subset_is_reported_and_skipped(
    text: str, complaint: str, kept: list[tuple[str, str]]
) -> None:
    pairs, complaints = flatten_with_awk(text)
    assert complaint in complaints
    assert pairs == kept
