"""The trigger: a dist-git push becomes a queued run or an "ignored, because ..." decision.

For every inbound ``git.receive`` message the trigger validates it (an invalid one is dead-lettered
with the reason), filters it (namespace, branch, package set, fork pushes), dedupes it on
(repo, rev, namespace) unless forced, and then, in ONE store transaction, records the decision with
its reason, creates the run when queued, and puts ``package.queued`` or ``package.ignore`` in the
outbox. Batches of messages share one transaction, which is what makes the trigger fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_pipeline.build_sources import BuildSources
from ci_pipeline.bus.base import Delivery
from ci_pipeline.bus.topics import topic_matches
from ci_pipeline.config import Config
from ci_pipeline.errors import MessageError, SchemaViolation, StoreUnavailable
from ci_pipeline.logcontext import get_logger, log_context
from ci_pipeline.messages.builders import encode_message
from ci_pipeline.messages.envelope import decode
from ci_pipeline.messages.identity import identity_problem, ostree_ref, run_ci_name
from ci_pipeline.messages.inbound import GitPush, parse_git_receive, parse_git_receive_document
from ci_pipeline.messages.koji_build import BuildPush, NotForUs, parse_build_message
from ci_pipeline.messages.quoting import quote_value
from ci_pipeline.messages.signing import verifier_from_config
from ci_pipeline.messages.topics import IGNORE_SUFFIX, Stage, State, Status, pipeline_topic, stage_suffix
from ci_pipeline.run_options import EXISTING_BUILD, checked_options
from ci_pipeline.store.builds import allocate_build_ids
from ci_pipeline.store.changes import Change, create_runs, latest_runs, next_generation
from ci_pipeline.store.db import Store, Transaction, is_database_error, store_error_reason
from ci_pipeline.store.dead_letters import Rejected, add_dead_letters
from ci_pipeline.store.decisions import record_decisions
from ci_pipeline.store.outbox import add_messages
from ci_pipeline.store.states import DecisionKind, IgnoreCause
from ci_pipeline.tracked_sources import TrackedSources, tracked_sources, treefile_repos
from ci_pipeline.treefile import load_treefile

log = get_logger(__name__)

TRIGGER_CI_NAME = "ci-pipeline-trigger"
QUEUED = DecisionKind.QUEUED
IGNORE = DecisionKind.IGNORE


@dataclass(frozen=True)
class Verdict:
    """What the trigger decided about one push, and why."""

    decision: DecisionKind
    reason: str
    run_id: int | None = None
    build_id: int | None = None
    cause: IgnoreCause | None = None


def treefile_packages(path: str, basearch: str = "x86_64", releasever: str | None = None) -> frozenset[str]:
    """The package names an rpm-ostree treefile installs (its includes and ``packages-<basearch>`` too)."""
    return frozenset(load_treefile(Path(path), basearch=basearch, releasever=releasever).packages)


class TrackingRules:
    """Which pushes belong to the tracked OS: namespace, branch, package set, no forks."""

    def __init__(self, config: Config) -> None:
        trigger = config.trigger
        self.namespaces = frozenset(trigger.namespaces)
        self.branches = re.compile(trigger.branches)
        packages = set(trigger.packages)
        #: The source packages the treefile's binaries come from, and which binaries made each one.
        self.treefile_sources = TrackedSources(frozenset())
        if trigger.treefile:
            pipeline = config.pipeline
            release = str(pipeline.rawhide)
            treefile = load_treefile(Path(trigger.treefile), basearch=pipeline.arch, releasever=release)
            cache = config.state_path / "cache" / "repodata"
            self.treefile_sources = tracked_sources(treefile.packages, treefile_repos(treefile), cache)
            packages |= self.treefile_sources.sources
        self.packages = frozenset(packages)

    def tracked_because(self, repo: str) -> str:
        """Why a tracked package is tracked, when the treefile's binaries say more than its name."""
        return self.treefile_sources.reason(repo)

    def ignore_cause(self, push: GitPush) -> tuple[IgnoreCause, str] | None:
        """Why this push is not tracked, as a key and in words, or None when it is."""
        if push.is_fork:
            fork = quote_value(push.path)
            reason = f"The push went to a fork ({fork}), not to the package's dist-git repository."
            return IgnoreCause.FORK, reason
        if push.namespace not in self.namespaces:
            tracked = ", ".join(sorted(self.namespaces))
            reason = f"The namespace '{push.namespace}' is not tracked (tracked: {tracked})."
            return IgnoreCause.NAMESPACE, reason
        if not self.branches.fullmatch(push.branch):
            return IgnoreCause.BRANCH, f"The branch '{push.branch}' does not match {self.branches.pattern}."
        if self.packages and push.repo not in self.packages:
            return IgnoreCause.PACKAGE, f"The package '{push.repo}' is not part of the tracked OS."
        return None


class Trigger:
    """Turns dist-git pushes into runs or recorded ignore decisions."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.rules = TrackingRules(config)
        self.verifier = verifier_from_config(config.bus)
        self.build_topics = tuple(config.fedora_ci.build_topics)
        self.build_sources = BuildSources(config)

    def build_url(self, ci_name: str, build_id: int) -> str:
        """The dashboard URL of one job run, mirroring the seed's ``.../job/<CI_NAME>/<id>/``."""
        return f"{self.config.web_base_url}/job/{ci_name}/{build_id}/"

    def _topic(self, suffix: str) -> str:
        bus = self.config.bus
        return pipeline_topic(bus.topic_prefix, bus.environment, suffix)

    def _fields(self, push: GitPush, ci_name: str, build_id: int) -> dict[str, str]:
        pipeline = self.config.pipeline
        return {
            "CI_NAME": ci_name,
            "CI_TYPE": pipeline.ci_type,
            "build_id": str(build_id),
            "build_url": self.build_url(ci_name, build_id),
            "username": pipeline.username,
            "repo": push.repo,
            "rev": push.rev,
            "namespace": push.namespace,
            "branch": push.branch,
            "ref": ostree_ref(push.branch, self.config.pipeline.arch),
            "status": Status.SUCCESS,
            "message-content": "",
        }

    def _outbox(self, suffix: str, fields: dict[str, str], run_id: int | None) -> dict[str, Any]:
        topic = self._topic(suffix)
        payload = encode_message(topic, fields)
        return {"run_id": run_id, "topic": topic, "payload": payload}

    def _ignore_reasons(
        self, session: Transaction, pushes: Sequence[GitPush], force: bool
    ) -> list[tuple[IgnoreCause, str] | None]:
        """For each push, why it is ignored (a key and words), or None when it is queued."""
        reasons = [self.rules.ignore_cause(push) for push in pushes]
        if force:
            return reasons
        earlier = latest_runs(session, [p.rev for p, r in zip(pushes, reasons, strict=True) if r is None])
        seen: set[Change] = set()
        for index, push in enumerate(pushes):
            change = (push.repo, push.rev, push.namespace)
            if reasons[index] is not None:
                continue
            if change in earlier or change in seen:
                which = f"run {earlier[change]}" if change in earlier else "a run queued just before"
                reasons[index] = (
                    IgnoreCause.DUPLICATE,
                    f"The change {push.repo} {push.rev[:7]} ({push.namespace}) already ran as {which};"
                    " use --force to run it again.",
                )
            seen.add(change)
        return reasons

    def _queue_runs(
        self, session: Transaction, pushes: Sequence[GitPush], force: bool, options: Mapping[str, str]
    ) -> list[tuple[int, dict[str, str]]]:
        """Create the runs of these pushes in one statement; return (run id, fields) for each."""
        by_ci_name: dict[str, list[int]] = {}
        for index, push in enumerate(pushes):
            by_ci_name.setdefault(run_ci_name(push.branch), []).append(index)
        rows: list[dict[str, Any]] = [{} for _ in pushes]
        for ci_name, indexes in by_ci_name.items():
            build_ids = allocate_build_ids(session, ci_name, len(indexes))
            for index, build_id in zip(indexes, build_ids, strict=True):
                push = pushes[index]
                change = (push.repo, push.rev, push.namespace)
                fields = {**self._fields(push, ci_name, build_id), "test_guidance": "''"}
                run_options = dict(options)
                if isinstance(push, BuildPush) and push.build is not None:
                    fields.update(push.build.fields(self.config))
                    run_options[EXISTING_BUILD] = "true"
                rows[index] = {
                    "repo": push.repo,
                    "rev": push.rev,
                    "namespace": push.namespace,
                    "branch": push.branch,
                    "generation": next_generation(session, change) if force else 0,
                    "ci_name": ci_name,
                    "build_id": build_id,
                    "fields": fields,
                    "options": run_options,
                }
        ids = create_runs(session, rows)
        return [(run_id, row["fields"]) for run_id, row in zip(ids, rows, strict=True)]

    def decide_pushes(
        self,
        session: Transaction,
        pushes: Sequence[GitPush],
        force: bool = False,
        options: Mapping[str, str] | None = None,
    ) -> list[Verdict]:
        """Decide a batch of valid pushes inside ``session``'s transaction."""
        if not pushes:
            return []
        trigger_ids = allocate_build_ids(session, TRIGGER_CI_NAME, len(pushes))
        reasons = self._ignore_reasons(session, pushes, force)
        queued = [push for push, reason in zip(pushes, reasons, strict=True) if reason is None]
        runs = iter(self._queue_runs(session, queued, force, options or {}) if queued else [])
        verdicts: list[Verdict] = []
        decisions: list[dict[str, Any]] = []
        outbox: list[dict[str, Any]] = []
        for push, ignored, trigger_build_id in zip(pushes, reasons, trigger_ids, strict=True):
            if ignored is None:
                run_id, fields = next(runs)
                because = self.rules.tracked_because(push.repo)
                tracked = f"tracked: {because}" if because else "tracked"
                reason = (
                    f"The package '{push.repo}' on {push.branch} is {tracked};"
                    f" queued as run {run_id} ({fields['CI_NAME']} #{fields['build_id']})."
                )
                if isinstance(push, BuildPush):
                    # No build stage runs: its queued message would announce a stage that never does.
                    reason += f" It tests the existing build {fields['nvr']}."
                else:
                    outbox.append(self._outbox(stage_suffix(Stage.BUILD, State.QUEUED), fields, run_id))
                verdict = Verdict(QUEUED, reason, run_id, int(fields["build_id"]))
            else:
                cause, reason = ignored
                verdict = Verdict(IGNORE, reason, None, trigger_build_id, cause)
                fields = {**self._fields(push, TRIGGER_CI_NAME, trigger_build_id), "test_guidance": "''"}
                outbox.append(self._outbox(IGNORE_SUFFIX, fields, None))
            verdicts.append(verdict)
            decisions.append(
                {
                    "msg_id": push.msg_id[:100],
                    "repo": push.repo,
                    "rev": push.rev,
                    "namespace": push.namespace,
                    "branch": push.branch,
                    "decision": verdict.decision,
                    "reason": reason,
                    "ignore_cause": verdict.cause,
                    "build_id": trigger_build_id,
                    "run_id": verdict.run_id,
                    "forced": force,
                }
            )
        record_decisions(session, decisions)
        add_messages(session, outbox)
        return verdicts

    def parse(self, payload: bytes, topic: str = "") -> GitPush:
        """The push a message delivered on ``topic`` carries (any push form); with a CA configured,
        only from a trusted signer."""
        if self.verifier is None:
            return self.checked(parse_git_receive(payload, topic))
        document = decode(payload)
        self.verifier.verify(document)
        return self.checked(parse_git_receive_document(document, topic))

    def parse_build(self, payload: bytes, topic: str) -> BuildPush:
        """The change of the existing build a Koji or CI message announces (with a CA configured, only
        from a trusted signer), its dist-git commit found by :mod:`~ci_pipeline.build_sources`."""
        if self.verifier is not None:
            self.verifier.verify(decode(payload))
        build = parse_build_message(payload, topic, self.config)
        push = self.build_sources.push_of(build)
        self.checked(push)
        return push

    def checked(self, push: GitPush) -> GitPush:
        """``push``, if its fields and the CI_NAME and ref made of them fit every rule.

        Raises SchemaViolation with the rule it breaks otherwise."""
        problem = identity_problem(push, self.config.pipeline.arch)
        if problem is not None:
            raise SchemaViolation(problem)
        return push

    def handle_deliveries(self, deliveries: Iterable[Delivery]) -> tuple[int, int]:
        """Decide a batch of bus deliveries; dead-letter the invalid ones. Returns (decided, dead).

        The batch is decided in one transaction. When the store refuses it (a value it cannot hold
        got past the checks), the batch is halved until the message it refuses stands alone; that
        one is dead-lettered with the store's reason and every other message is decided. Only an
        unreachable store (StoreUnavailable) leaves the batch unacked, to be tried again.
        """
        pushes: list[tuple[Delivery, GitPush]] = []
        dead: list[Rejected] = []
        for delivery in deliveries:
            try:
                if self.build_topics and topic_matches(delivery.topic, self.build_topics):
                    pushes.append((delivery, self.parse_build(delivery.payload, delivery.topic)))
                else:
                    pushes.append((delivery, self.parse(delivery.payload, delivery.topic)))
            except NotForUs as exc:
                log.info("message at %d starts no run: %s", delivery.position, exc)
            except MessageError as exc:
                dead.append(self._dead_letter(delivery, str(exc)))
            except Exception as exc:  # a parser's own bug must not stop the consumer either
                log.exception("reading the message at %d failed", delivery.position)
                reason = f"The message could not be read: {type(exc).__name__}."
                dead.append(self._dead_letter(delivery, reason))
        try:
            with self.store.session() as session:
                self.decide_pushes(session, [push for _, push in pushes])
                add_dead_letters(session, dead)
            return len(pushes), len(dead)
        except StoreUnavailable:
            raise
        except Exception as exc:  # one bad message must never stop the consumer
            log.warning("the store refused a batch of %d pushes; deciding it in parts: %s",
                        len(pushes), store_error_reason(exc))
            decided = self._decide_halves(pushes, dead, exc)
        with self.store.session() as session:
            add_dead_letters(session, dead)
        return decided, len(dead)

    def _decide_in_parts(self, pushes: Sequence[tuple[Delivery, GitPush]], dead: list[Rejected]) -> int:
        """Decide ``pushes`` in one transaction; if the store refuses them, each half in turn."""
        if not pushes:
            return 0
        try:
            with self.store.session() as session:
                self.decide_pushes(session, [push for _, push in pushes])
            return len(pushes)
        except StoreUnavailable:
            raise
        except Exception as exc:  # see handle_deliveries
            return self._decide_halves(pushes, dead, exc)

    def _decide_halves(
        self, pushes: Sequence[tuple[Delivery, GitPush]], dead: list[Rejected], exc: Exception
    ) -> int:
        """Decide the halves of a refused batch; a push refused alone is dead-lettered with ``exc``."""
        if len(pushes) > 1:
            middle = len(pushes) // 2
            return self._decide_in_parts(pushes[:middle], dead) + self._decide_in_parts(pushes[middle:], dead)
        delivery, push = pushes[0]
        with log_context(msg_id=push.msg_id):
            if isinstance(exc, MessageError):
                dead.append(self._dead_letter(delivery, str(exc)))
            else:
                if not is_database_error(exc):
                    log.error("deciding the push at %d failed", delivery.position, exc_info=exc)
                reason = f"The store refused the message: {store_error_reason(exc)}."
                dead.append(self._dead_letter(delivery, reason))
        return 0

    def _dead_letter(self, delivery: Delivery, reason: str) -> Rejected:
        log.info("dead-lettering message at %d: %s", delivery.position, reason)
        return Rejected(self.config.bus.subscription, delivery.topic, delivery.payload, reason)

    def trigger_change(
        self, push: GitPush, force: bool = False, options: Mapping[str, str] | None = None
    ) -> Verdict:
        """Decide one push given by hand (``ci-pipeline trigger``); a queued run gets ``options``."""
        checked = checked_options(options or {})
        self.checked(push)
        with self.store.session() as session:
            return self.decide_pushes(session, [push], force, checked)[0]
