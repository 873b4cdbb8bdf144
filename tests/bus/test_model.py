"""Random interleavings of publish, fetch, ack and time against a plain model, for both members."""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ci_pipeline.bus import Bus, Delivery, open_bus

from .conftest import FakeClock

LEASE = 10.0
TOPICS = ["a.x", "a.y.z", "b.x"]
SUBSCRIPTIONS = {"all": ["*"], "a-only": ["a.*"], "x-ends": ["*.x"]}


@dataclass
class SubscriptionModel:
    """What one subscription should have: acked positions and lease ends."""

    acked: set[int] = field(default_factory=set)
    lease_until: dict[int, float] = field(default_factory=dict)
    held: list[Delivery] = field(default_factory=list)


class BusAgainstModel(RuleBasedStateMachine):
    """Drives a bus and a model side by side; every fetch must return what the model predicts."""

    url = ""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.bus: Bus = open_bus(self.url, lease_seconds=LEASE, clock=self.clock)
        self.topics: list[str] = []
        self.model = {name: SubscriptionModel() for name in SUBSCRIPTIONS}

    def teardown(self) -> None:
        self.bus.close()

    def available(self, name: str) -> list[int]:
        state = self.model[name]
        return [
            position
            for position, topic in enumerate(self.topics, start=1)
            if any(fnmatchcase(topic, pattern) for pattern in SUBSCRIPTIONS[name])
            and position not in state.acked
            and state.lease_until.get(position, 0.0) <= self.clock.now
        ]

    @rule(topics=st.lists(st.sampled_from(TOPICS), min_size=1, max_size=6))
    def publish(self, topics: list[str]) -> None:
        self.bus.publish_many([(topic, topic.encode()) for topic in topics])
        self.topics.extend(topics)

    @rule(name=st.sampled_from(sorted(SUBSCRIPTIONS)), limit=st.integers(1, 5))
    def fetch(self, name: str, limit: int) -> None:
        expected = self.available(name)[:limit]
        got = self.bus.fetch(name, SUBSCRIPTIONS[name], limit=limit)
        assert [d.position for d in got] == expected
        assert all(d.topic == self.topics[d.position - 1] for d in got)
        state = self.model[name]
        for delivery in got:
            state.lease_until[delivery.position] = self.clock.now + LEASE
        state.held.extend(got)

    @precondition(lambda self: any(state.held for state in self.model.values()))
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from([n for n, state in sorted(self.model.items()) if state.held]))
        state = self.model[name]
        chosen = data.draw(st.lists(st.sampled_from(state.held), min_size=1, unique_by=lambda d: d.position))
        self.bus.ack(name, chosen)
        state.acked.update(d.position for d in chosen)
        state.held = [d for d in state.held if d.position not in state.acked]

    @rule(seconds=st.sampled_from([1.0, LEASE / 2, LEASE]))
    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def pending_matches_model(self) -> None:
        for name, patterns in SUBSCRIPTIONS.items():
            expected = sum(
                1
                for position, topic in enumerate(self.topics, start=1)
                if any(fnmatchcase(topic, p) for p in patterns) and position not in self.model[name].acked
            )
            assert self.bus.pending(name, patterns) == expected
        assert self.bus.latest_position() == len(self.topics)


@pytest.mark.parametrize("url", ["memory://", "sqlite:///:memory:"])
def test_bus_behaves_like_the_model(url: str) -> None:
    machine = type("Machine", (BusAgainstModel,), {"url": url})
    settings(max_examples=40, stateful_step_count=30, deadline=None)(machine)
    machine.TestCase().runTest()
