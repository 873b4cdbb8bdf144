"""Gating decision changes on the bus: ``<prefix>.<env>.greenwave.decision.update``, as Greenwave
sends it.

Called where a result or a waiver is stored, inside that transaction, so the message commits with
the change through the outbox. A decision is announced only when it differs from the last one
announced for the same subject, decision context and product version (``previous`` is that one).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from ci_pipeline.config import Config
from ci_pipeline.errors import ConfigError, SchemaViolation
from ci_pipeline.gating.adapter import contexts_for, decision_answer, policies_in_force, reader_for
from ci_pipeline.gating.decision import Gate
from ci_pipeline.gating.policies import Policy, load_policies
from ci_pipeline.logcontext import get_logger
from ci_pipeline.messages.builders import encode_body_message
from ci_pipeline.messages.topics import greenwave_topic
from ci_pipeline.store.db import Transaction
from ci_pipeline.store.decision_answers import replace_answer
from ci_pipeline.store.outbox import add_message
from ci_pipeline.store.results import ITEM_TYPE, record_stage_result, run_item
from ci_pipeline.store.rows import Run, StageRun

log = get_logger(__name__)

#: The fields of a non-verbose Greenwave answer: what a change is judged on and what ``previous`` holds.
ANSWER_FIELDS = (
    "policies_satisfied",
    "summary",
    "applicable_policies",
    "satisfied_requirements",
    "unsatisfied_requirements",
)


def announce_decision_changes(
    session: Transaction,
    config: Config,
    policies: Sequence[Policy],
    subjects: Sequence[tuple[str, str]],
    *,
    product_version: str | None = None,
    run_id: int | None = None,
) -> int:
    """Put a decision change in the outbox for each (subject, decision context, product version)
    whose answer changed; only ``product_version``'s when given. Returns how many."""
    topic = greenwave_topic(config.bus.topic_prefix, config.bus.environment)
    api = f"{config.web_base_url}/api/v2.0"
    gate = Gate(policies, reader_for(config.distgit.url))
    sent = 0
    for subject_type, identifier in subjects:
        for context, version in contexts_for(subject_type, identifier, gate, product_version):
            full = decision_answer(session, gate, (subject_type, identifier), context, version, api)
            if full is None:
                continue
            answer = {name: full[name] for name in ANSWER_FIELDS}
            changed, previous = replace_answer(session, (subject_type, identifier), context, version, answer)
            if not changed:
                continue
            body: dict[str, Any] = {
                "decision_context": context,
                "product_version": version,
                "subject": [{"item": identifier, "type": subject_type}],
                "subject_type": subject_type,
                "subject_identifier": identifier,
                **answer,
                "previous": previous,
            }
            try:
                payload = encode_body_message(topic, body)
            except SchemaViolation as exc:
                # A policy's own words (a decision context too long for the contract) must not
                # stop the result or the stage that changed the decision from being recorded.
                log.warning("the decision change of %s at %s is not announced: %s", identifier, context, exc)
                continue
            add_message(session, run_id, topic, payload)
            sent += 1
    return sent


@cache
def _policy_file(path: str, mtime_ns: int, size: int) -> tuple[Policy, ...]:
    del mtime_ns, size  # parts of the cache key only: an edited file is read again
    return tuple(load_policies(path))


def configured_policies(config: Config) -> list[Policy]:
    """The policies of ``[web] policy_file``, read again when the file changes; a broken file counts
    as none here (the web server refuses it at its start)."""
    path = config.web.policy_file
    if not path:
        return []
    try:
        stat = Path(path).stat()
        return list(_policy_file(path, stat.st_mtime_ns, stat.st_size))
    except (OSError, ConfigError) as exc:
        log.warning("gating decisions are not announced from %s: %s", path, exc)
        return []


def announce_stage_decisions(session: Transaction, config: Config, run: Run, row: StageRun) -> int:
    """At a stage's end: store the stage's result now, and announce the decisions it changes."""
    policies = policies_in_force(session, configured_policies(config), config.web.gated_packages)
    if not policies:
        return 0
    record_stage_result(session, run, row)
    return announce_decision_changes(session, config, policies, [(ITEM_TYPE, run_item(run))], run_id=run.id)
