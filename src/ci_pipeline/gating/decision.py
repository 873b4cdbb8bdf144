"""Greenwave's decision: which policies apply to the subjects, what their rules answer, and the verdict.

:class:`Gate` holds the policies and the dist-git reader; :func:`decide` answers one
:class:`DecisionRequest` from the store's results and the waivers it is handed (WaiverDB's JSON form),
and :func:`contexts_for` lists the (decision context, product version) pairs that gate a subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ci_pipeline.gating.answers import Answer, Kind, answer_for_result, apply_waivers, summarize
from ci_pipeline.gating.policies import (
    PassingTestCaseRule,
    Policy,
    PolicyError,
    RemoteRule,
    package_of,
    parse_remote_policies,
    same_subject_type,
)
from ci_pipeline.gating.remote import GatingYamlReader
from ci_pipeline.store import gating
from ci_pipeline.store.db import Transaction
from ci_pipeline.store.rows import Result
from ci_pipeline.web.resultsdb_query import result_json

#: The result types a subject type's results may carry in ResultsDB.
RESULT_TYPES = {"koji_build": ("koji_build", "brew-build"), "brew-build": ("koji_build", "brew-build")}
#: Subject types whose package has a dist-git, so a !RemoteRule can read its gating.yaml.
REMOTE_SUBJECTS = ("koji_build", "brew-build", "redhat-module", "redhat-container-image")
_DIST_TAGS = ((re.compile(r"\.fc(\d+)"), "fedora-{}"), (re.compile(r"\.el(\d+)"), "epel-{}"))


class NoApplicablePolicies(LookupError):
    """No policy gates the request's subjects at its decision contexts and product version."""


@dataclass(frozen=True)
class DecisionRequest:
    """A Greenwave decision request, already checked."""

    subjects: tuple[tuple[str, str], ...]
    decision_contexts: tuple[str, ...]
    product_version: str | None = None
    verbose: bool = False
    when: datetime | None = None
    #: The ResultsDB API's base URL, for the ``href`` of results in a verbose answer.
    results_api: str = ""


@dataclass
class Gate:
    """The policies a decision is made from, and the reader of packages' gating.yaml."""

    policies: Sequence[Policy]
    reader: GatingYamlReader | None = None

    def applicable(self, request: DecisionRequest, subject_type: str, identifier: str) -> list[Policy]:
        """The policies that gate one subject of the request."""
        package = package_of(subject_type, identifier)
        return [
            policy
            for policy in self.policies
            if policy.applies_to(request.decision_contexts, request.product_version, subject_type, package)
        ]


class _Evaluation:
    """One decision's evaluation: the answers of every rule, and the results they looked at."""

    def __init__(self, session: Transaction, gate: Gate, request: DecisionRequest) -> None:
        self.session, self.gate, self.request = session, gate, request
        self.results: dict[int, Result] = {}
        # Per subject, the rows of each test case asked for so far (newest first).
        self._rows: dict[tuple[str, str], dict[str, list[Result]]] = {}

    def prefetch(self, subject_type: str, identifier: str, policies: Sequence[Policy]) -> None:
        """Read the results of every test case the policies name in one query rather than one per policy."""
        names = {r.test_case_name for p in policies for r in p.rules if isinstance(r, PassingTestCaseRule)}
        self.rows(subject_type, identifier, names)

    def rows(self, subject_type: str, identifier: str, testcases: Iterable[str]) -> list[Result]:
        """The subject's results of ``testcases``, newest first, read from the store once."""
        known = self._rows.setdefault((subject_type, identifier), {})
        wanted = sorted(set(testcases))
        unread = [name for name in wanted if name not in known]
        if unread:
            for name in unread:
                known[name] = []
            types = RESULT_TYPES.get(subject_type, (subject_type,))
            for row in gating.subject_results(self.session, identifier, types, unread, self.request.when):
                known[row.testcase].append(row)
        return [row for name in wanted for row in known[name]]

    def policy_answers(
        self, policy: Policy, subject_type: str, identifier: str, source: str | None = None
    ) -> list[Answer]:
        package = package_of(subject_type, identifier)
        if package is not None and package in policy.blacklist:
            return [
                Answer(Kind.BLACKLISTED, rule.test_case_name, subject_type, identifier, rule.scenario)
                for rule in policy.rules
                if isinstance(rule, PassingTestCaseRule)
            ]
        passing = [rule for rule in policy.rules if isinstance(rule, PassingTestCaseRule)]
        answers = self.passing_answers(passing, subject_type, identifier, source)
        for rule in policy.rules:
            if isinstance(rule, RemoteRule):
                answers.extend(self.remote_answers(rule, subject_type, identifier))
        return answers

    def passing_answers(
        self, rules: Sequence[PassingTestCaseRule], subject_type: str, identifier: str, source: str | None
    ) -> list[Answer]:
        if not rules:
            return []
        rows = self.rows(subject_type, identifier, (rule.test_case_name for rule in rules))
        answers = []
        for rule in rules:
            matching = [row for row in rows if _matches(row, rule)]
            if subject_type == "compose" and matching:
                matching = _latest_per_arch_variant(matching)
            else:
                matching = matching[:1]
            candidates: list[Result | None] = list(matching) or [None]
            for row in candidates:
                if row is not None:
                    self.results[row.id] = row
                found = None if row is None else {"id": row.id, "outcome": row.outcome, "data": row.data}
                name = rule.test_case_name
                answer = answer_for_result(found, name, subject_type, identifier, rule.scenario)
                answers.append(replace(answer, source=source) if source else answer)
        return answers

    def remote_answers(self, rule: RemoteRule, subject_type: str, identifier: str) -> list[Answer]:
        if subject_type not in REMOTE_SUBJECTS or self.gate.reader is None:
            return []

        def problem(kind: Kind, source: str | None, **extra: Any) -> Answer:
            pairs = tuple(extra.items())
            return Answer(kind, kind.value, subject_type, identifier, None, source=source, extra=pairs)

        commit = gating.build_commit(self.session, identifier)
        if commit is None:
            error = f"No run in the store built {identifier}, so its dist-git commit is unknown."
            return [problem(Kind.FAILED_FETCH, None, error=error)]
        found = self.gate.reader.read(*commit)
        if found.error is not None:
            return [problem(Kind.FAILED_FETCH, found.url or None, error=found.error)]
        if found.text is None:
            return [problem(Kind.MISSING_YAML, found.url)] if rule.required else []
        try:
            remote = parse_remote_policies(found.text)
        except PolicyError as exc:
            return [problem(Kind.INVALID_YAML, found.url, details=str(exc))]
        answers = []
        package = package_of(subject_type, identifier)
        for policy in remote:
            contexts, version = self.request.decision_contexts, self.request.product_version
            if policy.applies_to(contexts, version, subject_type, package):
                answers.extend(self.policy_answers(policy, subject_type, identifier, source=found.url))
        return answers


def _matches(row: Result, rule: PassingTestCaseRule) -> bool:
    if row.testcase != rule.test_case_name:
        return False
    return rule.scenario is None or rule.scenario in (row.data or {}).get("scenario", [])


def _latest_per_arch_variant(rows: Sequence[Result]) -> list[Result]:
    """A compose is judged on the newest result of each architecture and variant."""
    seen: dict[tuple[str, str], Result] = {}
    for row in rows:
        data = row.data or {}
        key = (str(data.get("system_architecture")), str(data.get("system_variant")))
        seen.setdefault(key, row)
    return list(seen.values())


def _unique(answers: Iterable[Answer]) -> list[Answer]:
    # Two policies asking for the same test case make one requirement, as in Greenwave.
    return list(dict.fromkeys(answers))


def _matching_waivers(waivers: Sequence[Mapping[str, Any]], subjects: Sequence[tuple[str, str]]) -> list[Any]:
    # A waiver with waived false revokes the one before it: it waives nothing and is not listed.
    wanted = set(subjects)
    return [w for w in waivers
            if w.get("waived") and (w.get("subject_type"), w.get("subject_identifier")) in wanted]


def decide(
    session: Transaction, request: DecisionRequest, waivers: Sequence[Mapping[str, Any]], gate: Gate
) -> dict[str, Any]:
    """Greenwave's answer to ``request``; NoApplicablePolicies when no policy gates its subjects."""
    evaluation = _Evaluation(session, gate, request)
    applicable: list[Policy] = []
    answers: list[Answer] = []
    for subject_type, identifier in request.subjects:
        policies = gate.applicable(request, subject_type, identifier)
        applicable.extend(p for p in policies if p not in applicable)
        evaluation.prefetch(subject_type, identifier, policies)
        for policy in policies:
            answers.extend(evaluation.policy_answers(policy, subject_type, identifier))
    if not applicable:
        types = ", ".join(sorted({subject_type for subject_type, _ in request.subjects}))
        raise NoApplicablePolicies(
            f"Found no applicable policies for {types} subjects at gating point(s) "
            f"{', '.join(request.decision_contexts)} in {request.product_version or 'any product version'}."
        )
    answers = apply_waivers(_unique(answers), waivers)
    decision: dict[str, Any] = {
        "policies_satisfied": all(answer.satisfied for answer in answers),
        "summary": summarize(answers),
        "applicable_policies": [policy.id for policy in applicable],
        "satisfied_requirements": [a.as_json() for a in answers if a.satisfied],
        "unsatisfied_requirements": [a.as_json() for a in answers if not a.satisfied],
    }
    if request.verbose:
        rows = sorted(evaluation.results.values(), key=lambda row: row.id, reverse=True)
        decision["results"] = [result_json(row, request.results_api) for row in rows]
        decision["waivers"] = _matching_waivers(waivers, request.subjects)
    return decision


def product_versions_of(subject_type: str, identifier: str) -> list[str]:
    """The product versions a build's dist tag names (``.fc26``: fedora-26); none for other subjects."""
    if subject_type not in REMOTE_SUBJECTS:
        return []
    release = identifier.rsplit("-", 1)[-1]
    return [form.format(match.group(1)) for pattern, form in _DIST_TAGS if (match := pattern.search(release))]


def contexts_for(
    subject_type: str, identifier: str, gate: Gate, product_version: str | None = None
) -> list[tuple[str, str]]:
    """The (decision context, product version) pairs at which some policy gates the subject.

    The product version is ``product_version`` when given, else read from the build's dist tag where
    it has one, else every literal (glob-free) product version the policy names.
    """
    package = package_of(subject_type, identifier)
    derived = [product_version] if product_version else product_versions_of(subject_type, identifier)
    pairs: list[tuple[str, str]] = []
    for policy in gate.policies:
        if not (same_subject_type(policy.subject_type, subject_type) and policy.matches_package(package)):
            continue
        versions = (
            [v for v in derived if policy.matches_product_version(v)]
            if derived
            else [v for v in policy.product_versions if not any(c in v for c in "*?[")]
        )
        pairs.extend((context, version) for context in policy.decision_contexts for version in versions)
    return list(dict.fromkeys(pairs))
