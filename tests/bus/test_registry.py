"""open_bus picks the member by URL scheme and imports members only when their scheme is used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ci_pipeline.bus import BUS_MEMBERS, open_bus
from ci_pipeline.bus.memory import MemoryBus
from ci_pipeline.bus.sqlite import SqliteBus
from ci_pipeline.errors import ConfigError


def test_memory_scheme_opens_the_memory_member() -> None:
    bus = open_bus("memory://", lease_seconds=5.0)
    assert isinstance(bus, MemoryBus)


def test_sqlite_scheme_opens_the_sqlite_member(tmp_path: Path) -> None:
    bus = open_bus(f"sqlite:///{tmp_path}/bus.sqlite", synchronous="normal")
    try:
        assert isinstance(bus, SqliteBus)
        assert bus.path == f"{tmp_path}/bus.sqlite"
    finally:
        bus.close()


@pytest.mark.parametrize("url", ["kafka://broker", "nonsense", "", "/var/lib/bus.sqlite"])
def test_unknown_scheme_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="no known scheme"):
        open_bus(url)


def test_amqp_is_registered_by_import_path() -> None:
    assert BUS_MEMBERS["amqp"] == BUS_MEMBERS["amqps"] == "ci_pipeline.bus.amqp:AmqpBus"


def test_importing_the_bus_package_imports_no_member() -> None:
    code = (
        "import sys, ci_pipeline.bus; "
        "print(sorted(m for m in sys.modules if m.startswith('ci_pipeline.bus.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "['ci_pipeline.bus.base', 'ci_pipeline.bus.registry']"


def test_member_that_cannot_be_imported_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUS_MEMBERS, "nowhere", "ci_pipeline.bus.nowhere:NowhereBus")
    with pytest.raises(ConfigError, match="nowhere:// bus cannot be loaded"):
        open_bus("nowhere://host")


def test_member_that_is_not_a_bus_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUS_MEMBERS, "odd", "ci_pipeline.bus.topics:topic_matches")
    with pytest.raises(ConfigError, match="is not a Bus class"):
        open_bus("odd://")
