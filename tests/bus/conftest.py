"""Fixtures shared by the bus tests: a controllable clock and a factory of each bus member."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ci_pipeline.bus import Bus, open_bus


class FakeClock:
    """A clock the test moves by hand, so that lease expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite"])
def member_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh bus of each member; two opens of it share one log."""
    if request.param == "memory":
        return f"memory://{uuid.uuid4().hex}"
    return f"sqlite:///{tmp_path}/bus.sqlite"


@pytest.fixture
def open_member(member_url: str, clock: FakeClock) -> Iterator[Callable[..., Bus]]:
    """Open the member under test (again and again), closing every bus at the end."""
    opened: list[Bus] = []

    def factory(**options: object) -> Bus:
        options.setdefault("clock", clock)
        bus = open_bus(member_url, **options)
        opened.append(bus)
        return bus

    yield factory
    for bus in opened:
        bus.close()


@pytest.fixture
def bus(open_member: Callable[..., Bus]) -> Bus:
    return open_member(lease_seconds=60.0)
