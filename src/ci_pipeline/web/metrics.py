"""``/metrics``: Prometheus text read from the store at each scrape by a custom collector."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ci_pipeline.store import metrics as counts
from ci_pipeline.store import outbox
from ci_pipeline.store.clock import aware, utcnow
from ci_pipeline.store.db import Store, Transaction
from ci_pipeline.store.dead_letters import dead_letter_count
from ci_pipeline.store.decisions import decision_counts
from ci_pipeline.store.states import DecisionKind, IgnoreCause

DURATION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)


def decision_label(kind: DecisionKind, cause: IgnoreCause | None) -> str:
    """The ``kind`` label of a decision: ``queued``, or why the push was ignored (``other`` if unknown)."""
    if kind == DecisionKind.QUEUED:
        return "queued"
    return "other" if cause is None else str(cause)


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
            dead = dead_letter_count(session)
            yield CounterMetricFamily("ci_pipeline_dead_letters", "Inbound messages rejected.", value=dead)
            yield self._decisions(session)

    def _runs(self, session: Transaction) -> Iterator[Metric]:
        runs = GaugeMetricFamily("ci_pipeline_runs", "Runs by state and status.", labels=["state", "status"])
        for (state, status), count in counts.runs_by_state(session).items():
            runs.add_metric([state, status], count)
        yield runs

    def _stage_durations(self, session: Transaction) -> Metric:
        family = HistogramMetricFamily(
            "ci_pipeline_stage_duration_seconds", "Durations of complete stages.", labels=["stage", "status"]
        )
        samples: dict[tuple[str, str], list[float]] = {}
        for stage, status, seconds in counts.complete_stage_durations(session):
            samples.setdefault((stage, str(status or "")), []).append(seconds)
        for (stage, label), values in sorted(samples.items()):
            buckets = [(str(bound), sum(1 for v in values if v <= bound)) for bound in DURATION_BUCKETS]
            buckets.append(("+Inf", len(values)))
            family.add_metric([stage, label], buckets, sum(values))
        return family

    def _outbox(self, session: Transaction) -> Iterator[Metric]:
        depth, oldest = outbox.backlog(session)
        total = outbox.message_count(session)
        age = (utcnow() - aware(oldest)).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily("ci_pipeline_outbox_depth", "Messages waiting to be sent.", value=depth)
        yield GaugeMetricFamily("ci_pipeline_bus_lag_seconds", "Age of the oldest unsent message.", value=age)
        yield CounterMetricFamily("ci_pipeline_messages", "Messages the service committed.", value=total)

    def _decisions(self, session: Transaction) -> Metric:
        family = CounterMetricFamily(
            "ci_pipeline_decisions", "Trigger decisions by kind of reason.", labels=["decision", "kind"]
        )
        labelled: dict[tuple[str, str], int] = {}
        for (kind, cause), count in decision_counts(session).items():
            key = (str(kind), decision_label(kind, cause))
            labelled[key] = labelled.get(key, 0) + count
        for (decision, label), count in sorted(labelled.items()):
            family.add_metric([decision, label], count)
        return family


def metrics_text(store: Store) -> bytes:
    """The Prometheus exposition of the store's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return generate_latest(registry)
