"""/metrics reads runs, stage durations, the outbox, dead letters and decisions from the store."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ci_pipeline.store.states import DecisionKind, IgnoreCause
from ci_pipeline.web.metrics import decision_label


def test_metrics_from_the_store(client: httpx.Client) -> None:
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    runs = {tuple(s.labels.values()): s.value for s in families["ci_pipeline_runs"].samples}
    assert runs == {("complete", "SUCCESS"): 1.0}
    assert families["ci_pipeline_outbox_depth"].samples[0].value == 1.0
    counts = [s for s in families["ci_pipeline_stage_duration_seconds"].samples if s.name.endswith("_count")]
    assert {s.labels["stage"] for s in counts} == {"build", "functional"}
    kinds = {s.labels["kind"] for s in families["ci_pipeline_decisions"].samples}
    assert kinds == {"queued", "package"}


def test_decision_labels_come_from_the_stored_kind_and_cause() -> None:
    assert decision_label(DecisionKind.IGNORE, IgnoreCause.BRANCH) == "branch"
    assert decision_label(DecisionKind.IGNORE, IgnoreCause.DUPLICATE) == "duplicate"
    assert decision_label(DecisionKind.IGNORE, None) == "other"
    assert decision_label(DecisionKind.QUEUED, None) == "queued"
