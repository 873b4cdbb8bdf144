"""The rpmbuild command line and RPM file names."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.stages.rpm.rpmbuild import binary_rpm_name, rpmbuild_argv

names = st.from_regex(r"[a-z][a-z0-9+_]*(-[a-z0-9+_]+){0,3}", fullmatch=True)
versions = st.from_regex(r"[0-9][0-9a-z.~^+]{0,8}", fullmatch=True)


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("vim-enhanced-7.4.160-1.200.591b0d2.fc26.x86_64.rpm", "vim-enhanced"),
        ("hello-1.0-1.3.abcdef0.fc26.noarch.rpm", "hello"),
    ],
)
def test_binary_rpm_name(filename: str, name: str) -> None:
    assert binary_rpm_name(filename) == name


@given(names, versions, versions, st.sampled_from(["x86_64", "noarch", "aarch64"]))
def test_binary_rpm_name_recovers_any_name(name: str, version: str, release: str, arch: str) -> None:
    assert binary_rpm_name(f"{name}-{version}-{release}.{arch}.rpm") == name


def test_binary_rpm_name_rejects_a_non_rpm_name() -> None:
    with pytest.raises(ValueError, match="not an RPM file name"):
        binary_rpm_name("hello.noarch.rpm")


def test_rpmbuild_argv_keeps_everything_under_topdir() -> None:
    argv = rpmbuild_argv("-ba", Path("/w/x.spec"), Path("/w/src"), Path("/w/top"), {"dist": ".3.abc.fc26"})
    assert argv == [
        "rpmbuild",
        "-ba",
        "--nodeps",
        "--define",
        "_topdir /w/top",
        "--define",
        "_sourcedir /w/src",
        "--define",
        "dist .3.abc.fc26",
        "/w/x.spec",
    ]
