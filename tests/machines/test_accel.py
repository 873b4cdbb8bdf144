"""Choosing the accelerator, and remembering that KVM cannot run images on this host."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.errors import StageFailure
from ci_pipeline.machines import accel


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "kvm-failed"
    monkeypatch.setattr(accel, "_KVM_BROKEN", set())
    monkeypatch.setattr(accel, "kvm_failure_record", lambda: path)
    return path


def test_a_requested_accelerator_is_taken_or_refused(record: Path) -> None:
    assert accel.choose_accel("tcg", record) == "tcg"
    assert accel.choose_accel("kvm", record) == "kvm"
    with pytest.raises(StageFailure, match="neither kvm nor tcg"):
        accel.choose_accel("hvf", record)


def test_a_kvm_failure_is_remembered_until_the_host_reboots(
    record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not accel.kvm_seen_failing()
    accel.mark_kvm_broken("KVM internal error. Suberror: 1")
    assert record.read_text().splitlines() == [accel.host_boot_id(), "KVM internal error. Suberror: 1"]
    assert record.stat().st_mode & 0o777 == 0o600
    monkeypatch.setattr(accel, "_KVM_BROKEN", set())  # a later stage attempt: another process
    assert accel.kvm_seen_failing()
    assert accel.choose_accel("", record) == "tcg"
    monkeypatch.setattr(accel, "host_boot_id", lambda: "another-boot")
    assert not accel.kvm_seen_failing()


def test_the_record_is_never_written_through_a_symbolic_link(record: Path, tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_text("keep\n")
    record.symlink_to(target)
    accel.mark_kvm_broken("KVM internal error")
    assert target.read_text() == "keep\n"
