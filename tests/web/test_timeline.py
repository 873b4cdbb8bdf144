"""A run's timeline: every stage's bars on one axis, waiting, retries and running apart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.web.timeline import Part, stage_bars

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


@dataclass
class Times:
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    attempt: int = 1


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_waiting_and_running_are_apart_on_one_axis() -> None:
    bars, span = stage_bars([Times(at(0), at(10), at(50)), Times(at(50), at(60), at(100))], at(500))
    assert span == 100
    assert [(s.part, s.left, s.width) for s in bars[0]] == [(Part.WAITING, 0, 10), (Part.RUNNING, 10, 40)]
    assert [(s.part, s.left, s.width) for s in bars[1]] == [(Part.WAITING, 50, 10), (Part.RUNNING, 60, 40)]


def test_a_retried_stage_shows_its_earlier_attempts_and_a_running_one_runs_until_now() -> None:
    bars, span = stage_bars([Times(at(0), at(30), None, attempt=3), Times(None, None, None, 0)], at(40))
    assert span == 40
    assert [(s.part, s.seconds) for s in bars[0]] == [(Part.RETRIES, 30), (Part.RUNNING, 10)]
    assert bars[1] == []


def test_nothing_started_gives_empty_bars() -> None:
    assert stage_bars([Times(None, None, None, 0)], T0) == ([[]], 0.0)


moments = st.one_of(st.none(), st.integers(0, 10**7).map(lambda s: at(s)))


@given(st.lists(st.tuples(moments, moments, moments, st.integers(0, 5)), max_size=8), st.integers(0, 10**7))
def test_every_segment_lies_on_the_axis(stages: list[tuple], now: int) -> None:
    bars, span = stage_bars([Times(*stage) for stage in stages], at(now))
    assert span >= 0 and len(bars) == len(stages)
    for bar in bars:
        for segment in bar:
            assert 0 <= segment.left <= 100 and 0 <= segment.width <= 100 and segment.seconds >= 0
            assert segment.left + segment.width <= 100.01
