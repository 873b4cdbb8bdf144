"""``/metrics``: Prometheus text read from the store at each scrape by a custom collector."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ci_pipeline.engine.relay import outbox_backlog
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import DeadLetter, Decision, OutboxMessage, Run, StageRun, utcnow

DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
#: How a decision's reason is grouped: the first words that name its kind.
REASON_KINDS = (
    ("namespace", "namespace"),
    ("branch", "branch"),
    ("fork", "fork"),
    ("not part of", "package"),
    ("not in", "package"),
    ("already", "duplicate"),
    ("forced", "forced"),
)


def reason_kind(decision: str, reason: str) -> str:
    """A short label for why the trigger decided as it did."""
    if decision != "ignore":
        return "forced" if "forced" in reason.lower() else "queued"
    lowered = reason.lower()
    return next((kind for needle, kind in REASON_KINDS if needle in lowered), "other")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class StoreCollector(Collector):
    """Reads runs, stages, the outbox, dead letters and decisions at every scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        """Yield every metric, read from the store now."""
        with self.store.session() as session:
            yield from self._runs(session)
            yield self._stage_durations(session)
            yield from self._outbox(session)
            dead = session.execute(select(func.count(DeadLetter.id))).scalar_one()
            yield CounterMetricFamily("ci_pipeline_dead_letters", "Inbound messages rejected.", value=dead)
            yield self._decisions(session)

    def _runs(self, session: Session) -> Iterator[Metric]:
        runs = GaugeMetricFamily("ci_pipeline_runs", "Runs by state and status.", labels=["state", "status"])
        query = select(Run.state, Run.status, func.count(Run.id)).group_by(Run.state, Run.status)
        for state, status, count in session.execute(query):
            runs.add_metric([state, status], count)
        yield runs

    def _stage_durations(self, session: Session) -> Metric:
        family = HistogramMetricFamily(
            "ci_pipeline_stage_duration_seconds", "Durations of complete stages.", labels=["stage", "status"]
        )
        query = select(StageRun.stage, StageRun.status, StageRun.started_at, StageRun.finished_at).where(
            StageRun.state == "complete", StageRun.started_at.is_not(None), StageRun.finished_at.is_not(None)
        )
        samples: dict[tuple[str, str], list[float]] = {}
        for stage, status, started, finished in session.execute(query):
            if started is None or finished is None:
                continue
            samples.setdefault((stage, status or ""), []).append((finished - started).total_seconds())
        for (stage, status), values in sorted(samples.items()):
            buckets = [(str(bound), sum(1 for v in values if v <= bound)) for bound in DURATION_BUCKETS]
            buckets.append(("+Inf", len(values)))
            family.add_metric([stage, status], buckets, sum(values))
        return family

    def _outbox(self, session: Session) -> Iterator[Metric]:
        depth, oldest = outbox_backlog(session)
        total = session.execute(select(func.count(OutboxMessage.id))).scalar_one()
        age = (utcnow() - _aware(oldest)).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily("ci_pipeline_outbox_depth", "Messages waiting to be sent.", value=depth)
        yield GaugeMetricFamily("ci_pipeline_bus_lag_seconds", "Age of the oldest unsent message.", value=age)
        yield CounterMetricFamily("ci_pipeline_messages", "Messages the service committed.", value=total)

    def _decisions(self, session: Session) -> Metric:
        family = CounterMetricFamily(
            "ci_pipeline_decisions", "Trigger decisions by kind of reason.", labels=["decision", "kind"]
        )
        counts: dict[tuple[str, str], int] = {}
        query = select(Decision.decision, Decision.reason, func.count(Decision.id)).group_by(
            Decision.decision, Decision.reason
        )
        for decision, reason, count in session.execute(query):
            key = (decision, reason_kind(decision, reason))
            counts[key] = counts.get(key, 0) + count
        for (decision, kind), count in sorted(counts.items()):
            family.add_metric([decision, kind], count)
        return family


def metrics_text(store: Store) -> bytes:
    """The Prometheus exposition of the store's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return generate_latest(registry)
