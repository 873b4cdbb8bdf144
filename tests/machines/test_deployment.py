"""Reading the booted deployment from rpm-ostree's and ostree's status output."""

from __future__ import annotations

import json
import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from ci_pipeline.machines.deployment import (
    DeploymentStatusError,
    booted_checksum_from_ostree,
    booted_checksum_from_rpm_ostree,
    program_command,
)

REV = "c15b07cc0f560dd4325b64b8ed8f5750ab102f2ff2e0ace39cda4158f900e4da"
OTHER = "f" * 64


def test_rpm_ostree_json_gives_the_booted_deployment() -> None:
    status = {"deployments": [{"checksum": OTHER, "booted": False}, {"checksum": REV, "booted": True}]}
    assert booted_checksum_from_rpm_ostree(json.dumps(status)) == REV


def test_ostree_admin_status_gives_the_starred_deployment() -> None:
    text = f"  fedora-atomic {OTHER}.1\n    origin refspec: x\n* fedora-atomic {REV}.0\n    Version: 26.1\n"
    assert booted_checksum_from_ostree(text) == REV


@given(st.text(max_size=300))
def test_any_other_output_is_one_clear_error(text: str) -> None:
    for parse in (booted_checksum_from_rpm_ostree, booted_checksum_from_ostree):
        try:
            checksum = parse(text)
        except DeploymentStatusError:
            continue
        assert len(checksum) == 64


def test_program_command_finds_the_program_on_path_not_a_builtin() -> None:
    done = subprocess.run(
        ["sh", "-c", program_command("printf", "%s-", "a b")], capture_output=True, text=True
    )
    assert done.stdout == "a b-"
    missing = subprocess.run(["sh", "-c", program_command("no-such-program")], capture_output=True, text=True)
    assert missing.returncode == 127 and "not installed" in missing.stderr


@settings(deadline=None)  # each example runs a shell
@given(
    st.lists(
        st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=20),
        max_size=5,
    )
)
def test_program_command_hands_every_argument_over_unchanged(args: list[str]) -> None:
    command = program_command("printf", "%s\\0", *args)
    done = subprocess.run(["sh", "-c", command], capture_output=True, check=True)
    assert done.stdout.decode().split("\0")[:-1] == (args or [""])
