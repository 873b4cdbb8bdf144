"""Greenwave-style gating policies: read from YAML, and the decision they make from results.

A policy file holds ``--- !Policy`` documents as Greenwave writes them::

    --- !Policy
    id: ci-pipeline-gating
    product_versions: [fedora-*]
    decision_context: bodhi_update_push_stable
    subject_type: koji_build
    packages: [ci-calc]            # optional: package name globs the policy is limited to
    rules:
      - !PassingTestCaseRule {test_case_name: ci-pipeline.functional}
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ci_pipeline.errors import ConfigError

PASSING = ("PASSED", "INFO")
INCOMPLETE = ("QUEUED", "RUNNING")


@dataclass(frozen=True)
class PassingTestCaseRule:
    """The subject's latest result of ``test_case_name`` must be PASSED (or INFO)."""

    test_case_name: str


@dataclass(frozen=True)
class Policy:
    """Which subjects a policy gates, at which decision contexts, and the rules they must meet."""

    id: str
    decision_contexts: tuple[str, ...]
    product_versions: tuple[str, ...]
    subject_type: str
    rules: tuple[PassingTestCaseRule, ...]
    packages: tuple[str, ...] = ()

    def applies_to(self, context: str, product_version: str, subject_type: str, package: str) -> bool:
        """Whether this policy gates ``package``'s ``subject_type`` at ``context`` in ``product_version``."""
        return (
            context in self.decision_contexts
            and subject_type == self.subject_type
            and any(fnmatch.fnmatchcase(product_version, pattern) for pattern in self.product_versions)
            and (not self.packages or any(fnmatch.fnmatchcase(package, p) for p in self.packages))
        )


class _PolicyLoader(yaml.SafeLoader):
    """A safe loader that knows Greenwave's ``!Policy`` and ``!PassingTestCaseRule`` tags."""


def _mapping(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    if not isinstance(node, yaml.MappingNode):
        raise yaml.constructor.ConstructorError(None, None, f"{node.tag} must be a mapping", node.start_mark)
    return {str(key): value for key, value in loader.construct_mapping(node, deep=True).items()}


def _rule(loader: yaml.SafeLoader, node: yaml.Node) -> PassingTestCaseRule:
    data = _mapping(loader, node)
    name = data.get("test_case_name")
    if not isinstance(name, str) or not name:
        raise yaml.constructor.ConstructorError(
            None, None, "!PassingTestCaseRule needs a test_case_name", node.start_mark
        )
    return PassingTestCaseRule(name)


def _words(value: Any, key: str, policy_id: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ConfigError(f"Policy '{policy_id}': {key} must be a string or a list of strings.")


def _policy(loader: yaml.SafeLoader, node: yaml.Node) -> Policy:
    data = _mapping(loader, node)
    policy_id = str(data.get("id") or "")
    if not policy_id:
        raise ConfigError("A !Policy has no id.")
    rules = data.get("rules") or []
    if not isinstance(rules, list) or not all(isinstance(rule, PassingTestCaseRule) for rule in rules):
        raise ConfigError(f"Policy '{policy_id}': rules must be a list of !PassingTestCaseRule.")
    contexts = _words(data.get("decision_context"), "decision_context", policy_id)
    contexts += _words(data.get("decision_contexts"), "decision_contexts", policy_id)
    if not contexts:
        raise ConfigError(f"Policy '{policy_id}' names no decision_context.")
    return Policy(
        id=policy_id,
        decision_contexts=contexts,
        product_versions=_words(data.get("product_versions"), "product_versions", policy_id) or ("*",),
        subject_type=str(data.get("subject_type") or "koji_build"),
        rules=tuple(rules),
        packages=_words(data.get("packages"), "packages", policy_id),
    )


_PolicyLoader.add_constructor("!Policy", _policy)
_PolicyLoader.add_constructor("!PassingTestCaseRule", _rule)


def parse_policies(text: str, source: str = "the policy text") -> list[Policy]:
    """The policies of a Greenwave YAML document stream."""
    try:
        documents = list(yaml.load_all(text, Loader=_PolicyLoader))
    except yaml.YAMLError as exc:
        raise ConfigError(f"The gating policies in {source} are not valid: {exc}.") from exc
    policies = [doc for doc in documents if doc is not None]
    for doc in policies:
        if not isinstance(doc, Policy):
            raise ConfigError(f"Every document in {source} must be a !Policy.")
    return policies


def load_policies(path: str | Path | None) -> list[Policy]:
    """The policies in the YAML file at ``path``; none when no path is given."""
    if not path:
        return []
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise ConfigError(f"The gating policy file {path} cannot be read: {exc.strerror}.") from exc
    return parse_policies(text, str(path))


def opt_in_policy(package: str, decision_context: str, test_cases: Sequence[str]) -> Policy:
    """The policy a maintainer's opt-in stands for: these test cases must pass for the package."""
    return Policy(
        id=f"opt-in:{package}",
        decision_contexts=(decision_context,),
        product_versions=("*",),
        subject_type="koji_build",
        rules=tuple(PassingTestCaseRule(name) for name in test_cases),
        packages=(package,),
    )


def package_of(subject_type: str, identifier: str) -> str:
    """The package a subject is about: an nvr's name, or the repo of ``repo@rev``."""
    if "@" in identifier:
        return identifier.split("@", 1)[0]
    if subject_type == "koji_build" and identifier.count("-") >= 2:
        return identifier.rsplit("-", 2)[0]
    return identifier


#: Looks up the latest result of (subject_identifier, test case): the ResultsDB JSON, or None.
LatestResult = Callable[[str, str], Mapping[str, Any] | None]


@dataclass
class Decision:
    """A gating decision, in Greenwave's response shape."""

    policies: list[Policy]
    satisfied: list[dict[str, Any]] = field(default_factory=list)
    unsatisfied: list[dict[str, Any]] = field(default_factory=list)
    results: list[Mapping[str, Any]] = field(default_factory=list)
    waivers: list[Mapping[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        """One sentence saying why the decision is what it is."""
        total = len(self.satisfied) + len(self.unsatisfied)
        if total == 0:
            return "No tests are required."
        if not self.unsatisfied:
            if any(req["type"].endswith("-waived") for req in self.satisfied):
                return f"All required tests ({total} total) have passed or been waived."
            return f"All required tests ({total} total) have passed."
        kinds = [req["type"] for req in self.unsatisfied]
        parts = [
            f"{kinds.count(kind)} {label}"
            for kind, label in (
                ("test-result-failed", "failed"),
                ("test-result-missing", "missing"),
                ("test-result-incomplete", "still running"),
            )
            if kind in kinds
        ]
        return f"Of {total} required tests, {', '.join(parts)}."

    def as_json(self) -> dict[str, Any]:
        """The Greenwave decision response."""
        return {
            "policies_satisfied": not self.unsatisfied,
            "summary": self.summary(),
            "applicable_policies": [policy.id for policy in self.policies],
            "satisfied_requirements": self.satisfied,
            "unsatisfied_requirements": self.unsatisfied,
            "results": self.results,
            "waivers": self.waivers,
        }


def matching_waiver(
    waivers: Sequence[Mapping[str, Any]], requirement: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """The waiver (WaiverDB's JSON form, ``waived`` true) of an unsatisfied requirement, if any."""
    for waiver in waivers:
        if (
            waiver.get("waived") is True
            and waiver.get("subject_type") == requirement["subject_type"]
            and waiver.get("subject_identifier") == requirement["subject_identifier"]
            and waiver.get("testcase") == requirement["testcase"]
            and waiver.get("scenario") in (None, requirement.get("scenario"))
        ):
            return waiver
    return None


def decide(
    policies: Sequence[Policy],
    subject_type: str,
    identifier: str,
    latest: LatestResult,
    waivers: Sequence[Mapping[str, Any]] = (),
) -> Decision:
    """Judge a subject against the rules of ``policies`` using its latest results; a waiver turns an
    unsatisfied requirement into a satisfied ``<type>-waived`` one, as Greenwave reports it."""
    decision = _judge(policies, subject_type, identifier, latest)
    unsatisfied, decision.unsatisfied = decision.unsatisfied, []
    for requirement in unsatisfied:
        waiver = matching_waiver(waivers, requirement)
        if waiver is None:
            decision.unsatisfied.append(requirement)
            continue
        waived = {**requirement, "type": f"{requirement['type']}-waived", "waiver_id": waiver.get("id")}
        decision.satisfied.append(waived)
        decision.waivers.append(waiver)
    return decision


def _judge(policies: Sequence[Policy], subject_type: str, identifier: str, latest: LatestResult) -> Decision:
    decision = Decision(list(policies))
    seen: set[str] = set()
    for rule in (rule for policy in policies for rule in policy.rules):
        if rule.test_case_name in seen:
            continue
        seen.add(rule.test_case_name)
        result = latest(identifier, rule.test_case_name)
        requirement: dict[str, Any] = {
            "testcase": rule.test_case_name,
            "subject_type": subject_type,
            "subject_identifier": identifier,
            "item": {"item": identifier, "type": subject_type},
            "scenario": None,
        }
        if result is None:
            decision.unsatisfied.append({**requirement, "type": "test-result-missing"})
            continue
        decision.results.append(result)
        requirement["result_id"] = result["id"]
        if result["outcome"] in PASSING:
            decision.satisfied.append({**requirement, "type": "test-result-passed"})
        elif result["outcome"] in INCOMPLETE:
            decision.unsatisfied.append({**requirement, "type": "test-result-incomplete"})
        else:
            decision.unsatisfied.append({**requirement, "type": "test-result-failed"})
    return decision
