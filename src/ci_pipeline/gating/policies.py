"""Gating policies in Greenwave's YAML form: the loader and the question of which policies apply.

A policy file holds ``--- !Policy`` (or ``--- !RemotePolicy``) documents as Greenwave reads them::

    --- !Policy
    id: taskotron_release_critical_tasks_with_remoterule
    product_versions: [fedora-*]
    decision_contexts: [bodhi_update_push_testing, bodhi_update_push_stable]
    subject_type: koji_build
    excluded_packages: [python2-*]       # package name globs the policy never applies to
    packages: [ci-*]                     # optional: package name globs it is limited to
    blacklist: [kernel]                  # packages whose every requirement is answered ``blacklisted``
    rules:
      - !PassingTestCaseRule {test_case_name: dist.rpmdeplint, scenario: null}
      - !RemoteRule {required: true}     # the package's own gating.yaml at the subject's commit

A package's ``gating.yaml`` holds ``!Policy`` documents of the same form with ``subject_type``
defaulting to ``koji_build``; a ``!RemoteRule`` there is refused, as Greenwave refuses it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ci_pipeline.errors import ConfigError

#: The subject types Fedora's gating uses (Greenwave's names); ``brew-build`` is koji_build's alias.
SUBJECT_TYPES = ("koji_build", "bodhi_update", "compose", "redhat-module", "redhat-container-image")
#: Subject types named by a build's NVR (or a module's NSVC), so a package name can be read from them.
PACKAGE_SUBJECTS = ("koji_build", "brew-build", "redhat-module", "redhat-container-image")


@dataclass(frozen=True)
class PassingTestCaseRule:
    """The subject's latest result of ``test_case_name`` (in ``scenario``, if named) must pass."""

    test_case_name: str
    scenario: str | None = None


@dataclass(frozen=True)
class RemoteRule:
    """The rules of the package's own ``gating.yaml`` at the subject's commit; ``required``: it must exist."""

    required: bool = False


Rule = PassingTestCaseRule | RemoteRule


@dataclass(frozen=True)
class Policy:
    """Which subjects a policy gates, at which decision contexts, and the rules they must meet."""

    id: str
    decision_contexts: tuple[str, ...]
    product_versions: tuple[str, ...]
    subject_type: str
    rules: tuple[Rule, ...]
    packages: tuple[str, ...] = ()
    excluded_packages: tuple[str, ...] = ()
    blacklist: tuple[str, ...] = ()

    def matches_product_version(self, product_version: str | None) -> bool:
        """Whether a product version matches one of the policy's globs (any, when none is asked for)."""
        return product_version is None or any(
            fnmatch.fnmatch(product_version, pattern) for pattern in self.product_versions
        )

    def matches_package(self, package: str | None) -> bool:
        """Whether ``packages`` and ``excluded_packages`` let the policy apply to ``package``."""
        if package is None:
            return not self.packages
        if any(fnmatch.fnmatch(package, glob) for glob in self.excluded_packages):
            return False
        return not self.packages or any(fnmatch.fnmatch(package, glob) for glob in self.packages)

    def applies_to(
        self,
        contexts: tuple[str, ...] | str,
        product_version: str | None,
        subject_type: str,
        package: str | None,
    ) -> bool:
        """Whether this policy gates ``package``'s ``subject_type`` at one of ``contexts``."""
        wanted = (contexts,) if isinstance(contexts, str) else contexts
        return (
            any(context in self.decision_contexts for context in wanted)
            and same_subject_type(self.subject_type, subject_type)
            and self.matches_product_version(product_version)
            and self.matches_package(package)
        )


def same_subject_type(policy_type: str, subject_type: str) -> bool:
    """Whether a policy's subject type names the subject's (``brew-build`` is ``koji_build``)."""
    aliases = {"brew-build": "koji_build"}
    return aliases.get(policy_type, policy_type) == aliases.get(subject_type, subject_type)


def package_of(subject_type: str, identifier: str) -> str | None:
    """The package a subject is about (an NVR's name, the repo of ``repo@rev``); None for other subjects."""
    if "@" in identifier:
        return identifier.split("@", 1)[0]
    if subject_type in PACKAGE_SUBJECTS:
        return identifier.rsplit("-", 2)[0] if identifier.count("-") >= 2 else identifier
    return None


class PolicyError(Exception):
    """A policy document that Greenwave would refuse; the message says which and why."""


class _Loader(yaml.SafeLoader):
    """A safe loader that knows Greenwave's policy and rule tags."""

    remote = False


def _mapping(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode) and node.value == "":
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise PolicyError(f"{node.tag} must be a mapping")
    return {str(key): value for key, value in loader.construct_mapping(node, deep=True).items()}


def _passing_rule(loader: yaml.SafeLoader, node: yaml.Node) -> PassingTestCaseRule:
    data = _mapping(loader, node)
    name, scenario = data.get("test_case_name"), data.get("scenario")
    if not isinstance(name, str) or not name:
        raise PolicyError("!PassingTestCaseRule needs a test_case_name")
    if scenario is not None and not isinstance(scenario, str):
        raise PolicyError(f"!PassingTestCaseRule {name}: scenario must be a string")
    return PassingTestCaseRule(name, scenario or None)


def _remote_rule(loader: yaml.SafeLoader, node: yaml.Node) -> RemoteRule:
    if isinstance(loader, _Loader) and loader.remote:
        raise PolicyError("RemoteRule is not allowed in remote policies")
    data = _mapping(loader, node)
    required = data.get("required", False)
    if not isinstance(required, bool):
        raise PolicyError("!RemoteRule: required must be true or false")
    return RemoteRule(required)


def _words(value: Any, key: str, label: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise PolicyError(f"{label}: {key} must be a string or a list of strings")


def _policy(loader: yaml.SafeLoader, node: yaml.Node) -> Policy:
    remote = isinstance(loader, _Loader) and loader.remote
    data = _mapping(loader, node)
    policy_id = data.get("id")
    if not remote and (not isinstance(policy_id, str) or not policy_id):
        raise PolicyError("a !Policy has no id")
    label = f"Policy '{policy_id or 'untitled'}'"
    rules = data.get("rules") or []
    if not isinstance(rules, list) or not all(isinstance(rule, Rule) for rule in rules):
        raise PolicyError(f"{label}: rules must be a list of !PassingTestCaseRule or !RemoteRule")
    contexts = _words(data.get("decision_context"), "decision_context", label)
    contexts += _words(data.get("decision_contexts"), "decision_contexts", label)
    if not contexts:
        raise PolicyError(f"{label} names no decision_context")
    versions = _words(data.get("product_versions"), "product_versions", label)
    if not versions:
        raise PolicyError(f"{label} names no product_versions")
    subject_type = data.get("subject_type", "koji_build")
    if subject_type not in (*SUBJECT_TYPES, "brew-build"):
        raise PolicyError(f"{label}: subject_type must be one of {', '.join(SUBJECT_TYPES)}")
    return Policy(
        id=str(policy_id or "untitled"),
        decision_contexts=contexts,
        product_versions=versions,
        subject_type=subject_type,
        rules=tuple(rules),
        packages=_words(data.get("packages"), "packages", label),
        excluded_packages=_words(data.get("excluded_packages"), "excluded_packages", label),
        blacklist=_words(data.get("blacklist"), "blacklist", label),
    )


def _unknown_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    raise PolicyError(f"the tag !{suffix} is not a rule or policy Greenwave knows")


for _tag in ("!Policy", "!RemotePolicy"):
    _Loader.add_constructor(_tag, _policy)
_Loader.add_constructor("!PassingTestCaseRule", _passing_rule)
_Loader.add_constructor("!RemoteRule", _remote_rule)
_Loader.add_multi_constructor("!", _unknown_tag)


def _documents(text: str, *, remote: bool) -> list[Policy]:
    """The policies of a YAML stream; PolicyError or yaml.YAMLError when Greenwave would refuse it."""
    loader = _Loader(text)
    loader.remote = remote
    try:
        documents = []
        while loader.check_data():  # type: ignore[no-untyped-call]
            try:
                documents.append(loader.get_data())
            except PolicyError as exc:
                raise PolicyError(f"document {len(documents) + 1}: {exc}") from exc
    finally:
        loader.dispose()
    policies = [doc for doc in documents if doc is not None]
    for number, doc in enumerate(policies, 1):
        if not isinstance(doc, Policy):
            raise PolicyError(f"document {number} is not a !Policy")
    return policies


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split()).rstrip(".")


def parse_policies(text: str, source: str = "the policy text") -> list[Policy]:
    """The policies of a policy file's text; ConfigError naming ``source`` when Greenwave would refuse it."""
    try:
        return _documents(text, remote=False)
    except (PolicyError, yaml.YAMLError, ValueError, TypeError) as exc:
        raise ConfigError(f"The gating policies in {source} are not valid: {_reason(exc)}.") from exc


def parse_remote_policies(text: str) -> list[Policy]:
    """The policies of a package's ``gating.yaml``; PolicyError saying why when they are not valid."""
    try:
        return _documents(text, remote=True)
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        raise PolicyError(_reason(exc)) from exc


def load_policies(path: str | Path | None) -> list[Policy]:
    """The policies in the YAML file at ``path``; none when no path is given."""
    if not path:
        return []
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(f"The gating policy file {path} cannot be read: {reason}.") from exc
    return parse_policies(text, str(path))


def opt_in_policy(package: str, decision_context: str, test_cases: tuple[str, ...] | list[str]) -> Policy:
    """The policy a maintainer's opt-in stands for: these test cases must pass for the package."""
    return Policy(
        id=f"opt-in:{package}",
        decision_contexts=(decision_context,),
        product_versions=("*",),
        subject_type="koji_build",
        rules=tuple(PassingTestCaseRule(name) for name in test_cases),
        packages=(package,),
    )
