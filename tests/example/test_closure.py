"""Tests of how a Debian program and its shared libraries are laid out for the example OS."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import InfrastructureError
from ci_pipeline.example.closure import ROOT, closure_members, library_closure, os_path, parse_ldd

LDD = """\tlinux-vdso.so.1 (0x00007ffd4b5f2000)
\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f3326f70000)
\tlibcrypt.so.1 => /usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0 (0x00007f3326f34000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f33270ce000)
"""


def test_ldd_output_maps_to_paths_in_the_usr_merged_os() -> None:
    found = parse_ldd(LDD, Path("/usr/sbin/dropbear"))
    assert found == {
        "/usr/lib/x86_64-linux-gnu/libz.so.1": Path("/lib/x86_64-linux-gnu/libz.so.1"),
        # Named by the soname the program asks for, holding the file the host resolves.
        "/usr/lib/x86_64-linux-gnu/libcrypt.so.1": Path("/usr/lib/x86_64-linux-gnu/libcrypt.so.1.1.0"),
        "/usr/lib64/ld-linux-x86-64.so.2": Path("/lib64/ld-linux-x86-64.so.2"),
    }


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("\tlibfoo.so.2 => not found\n", "needs libfoo.so.2"),
        ("\tstatically linked\n", "cannot read"),
        ("\tlibz.so.1 => ../libz.so.1 (0x1)\n", "not an absolute path"),
    ],
)
def test_ldd_output_the_build_cannot_use_is_one_clear_error(output: str, message: str) -> None:
    with pytest.raises(InfrastructureError, match=message):
        parse_ldd(output, Path("/usr/bin/x"))


@given(
    st.lists(
        st.text("abcxyz_-.0123456789", min_size=1, max_size=8).filter(lambda p: p not in {".", ".."}),
        min_size=1,
        max_size=4,
    )
)
def test_every_host_path_lands_under_usr(parts: list[str]) -> None:
    mapped = os_path("/" + "/".join(parts))
    assert mapped.startswith("/usr/")
    assert mapped.endswith("/".join(parts).removeprefix("usr/") if parts[0] == "usr" else "/".join(parts))


def test_a_real_program_brings_its_loader_and_libc() -> None:
    found = library_closure(Path("/usr/bin/rpm"))
    assert "/usr/lib64/ld-linux-x86-64.so.2" in found
    assert "/usr/lib/x86_64-linux-gnu/libc.so.6" in found
    members = closure_members(["/usr/bin/rpm"], ["/usr/lib/rpm/rpmrc"])
    assert f"{ROOT}/usr/bin/rpm" in members and f"{ROOT}/usr/lib/rpm/rpmrc" in members
    assert all(path.is_file() and not path.is_symlink() for path in members.values())


def test_a_static_or_missing_program_is_refused() -> None:
    with pytest.raises(InfrastructureError, match="not a dynamically linked program"):
        library_closure(Path("/bin/busybox"))
    with pytest.raises(InfrastructureError, match="missing"):
        library_closure(Path("/usr/bin/no-such-program"))
