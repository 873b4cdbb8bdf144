"""The policy loader: Greenwave's YAML forms, what it refuses, and which policies apply."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import ConfigError
from ci_pipeline.gating.policies import (
    SUBJECT_TYPES,
    PassingTestCaseRule,
    PolicyError,
    RemoteRule,
    load_policies,
    package_of,
    parse_policies,
    parse_remote_policies,
)

from .helpers import DATA, policy_text


def test_fedora_production_policies_load() -> None:
    policies = {policy.id: policy for policy in load_policies(DATA / "fedora.yaml")}
    remote = policies["taskotron_release_critical_tasks_with_remoterule"]
    assert remote.rules == (RemoteRule(required=False),)
    assert remote.decision_contexts == ("bodhi_update_push_testing", "bodhi_update_push_stable")
    assert policies["rawhide_gating_required"].rules == (RemoteRule(required=True),)
    openqa = policies["openqa_release_critical_tasks_for_testing"]
    assert openqa.subject_type == "bodhi_update"
    assert openqa.rules[0] == PassingTestCaseRule(
        "update.install_default_update_netinst", "fedora.updates-everything-boot-iso.x86_64.64bit"
    )
    assert policies["rawhide_compose_sync_to_mirrors"].subject_type == "compose"


def test_greenwave_example_policies_load() -> None:
    policies = {policy.id: policy for policy in parse_policies(policy_text("greenwave-examples.yaml"))}
    assert policies["taskotron_release_critical_tasks"].blacklist == ("kernel",)
    assert [p.subject_type for p in policies.values()] == [
        "koji_build",
        "koji_build",
        "redhat-module",
        "redhat-container-image",
    ]


def test_a_package_gating_yaml_loads_with_koji_build_subjects() -> None:
    policies = parse_remote_policies(policy_text("package-gating.yaml"))
    assert [p.subject_type for p in policies] == ["koji_build", "koji_build"]
    assert policies[0].rules[1] == PassingTestCaseRule("dist.rpminspect")


@pytest.mark.parametrize(
    ("contexts", "version", "subject_type", "package", "applies"),
    [
        ("bodhi_update_push_stable", "fedora-26", "koji_build", "ci-calc", True),
        (("nope", "bodhi_update_push_testing"), "fedora-rawhide", "koji_build", "ci-calc", True),
        ("bodhi_update_push_stable", "epel-7", "koji_build", "ci-calc", False),
        ("bodhi_update_push_stable", "fedora-26", "bodhi_update", "ci-calc", False),
        ("bodhi_update_push_stable", "fedora-26", "koji_build", "python2-six", False),
        ("bodhi_update_push_stable", "fedora-26", "brew-build", "ci-calc", True),
    ],
)
def test_which_subjects_a_policy_applies_to(
    contexts: str | tuple[str, ...], version: str, subject_type: str, package: str, applies: bool
) -> None:
    policies = {policy.id: policy for policy in load_policies(DATA / "fedora.yaml")}
    policy = policies["taskotron_release_critical_tasks_with_remoterule"]
    assert policy.applies_to(contexts, version, subject_type, package) is applies


def test_packages_and_excluded_packages_are_globs() -> None:
    policies = {policy.id: policy for policy in parse_policies(policy_text("greenwave-examples.yaml"))}
    policy = policies["taskotron_release_critical_tasks_with_blocklist"]
    assert policy.matches_package("python-six")
    assert not policy.matches_package("python-requests")
    assert not policy.matches_package("vim")
    assert not policy.matches_package(None)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("--- !Policy\nrules: []\n", "document 1: a !Policy has no id"),
        ("--- !Policy\nid: x\nproduct_versions: [a]\ndecision_context: c\nrules: [1]\n", "rules must be"),
        ("--- !Policy\nid: x\nproduct_versions: [a]\nrules: []\n", "names no decision_context"),
        ("--- !Policy\nid: x\ndecision_context: c\nrules: []\n", "names no product_versions"),
        (
            "--- !Policy\nid: a\nproduct_versions: [a]\ndecision_context: c\nrules: []\n"
            "--- !Policy\nid: b\nproduct_versions: [a]\ndecision_context: c\n"
            "rules: [!FedoraAtomicCi {repos: [x]}]\n",
            "document 2: the tag !FedoraAtomicCi is not a rule or policy Greenwave knows",
        ),
        (
            "--- !Policy\nid: x\nproduct_versions: [a]\ndecision_context: c\nsubject_type: rpm\n",
            "subject_type",
        ),
        ("- a\n", "document 1 is not a !Policy"),
        (": :", "not valid"),
        (
            "--- !Policy\nid: x\nproduct_versions: [a]\ndecision_context: c\n"
            "rules: [!RemoteRule {required: 1}]\n",
            "required must be true or false",
        ),
    ],
)
def test_a_policy_greenwave_refuses_is_one_sentence(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policies(text, "policies.yaml")
    message = str(caught.value)
    assert message.startswith("The gating policies in policies.yaml are not valid: ")
    assert words in message and message.endswith(".") and "\n" not in message


def test_a_remote_rule_inside_gating_yaml_is_refused() -> None:
    text = "--- !Policy\nproduct_versions: [fedora-*]\ndecision_context: c\nrules: [!RemoteRule {}]\n"
    with pytest.raises(PolicyError, match="RemoteRule is not allowed in remote policies"):
        parse_remote_policies(text)


def test_a_policy_file_that_cannot_be_read_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=f"The gating policy file {missing} cannot be read"):
        load_policies(missing)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_policies(binary)


def test_package_of_subjects() -> None:
    assert package_of("koji_build", "ci-calc-1.0-1.3.591b0d2.fc26") == "ci-calc"
    assert package_of("koji_build", "vim@abc") == "vim"
    assert package_of("redhat-module", "nodejs-10-820190101.abcdef") == "nodejs"
    assert package_of("bodhi_update", "FEDORA-2019-0001") is None


@given(st.text(max_size=300))
def test_any_text_loads_or_is_one_config_error(text: str) -> None:
    try:
        policies = parse_policies(text)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).endswith(".")
    else:
        assert all(policy.id for policy in policies)


_word = st.text(string.ascii_lowercase + string.digits + "-_.", min_size=1, max_size=12).filter(
    lambda w: (
        w[0].isalpha() and w not in {"true", "false", "null", "yes", "no", "on", "off"}
    )
)
_rules = st.lists(
    st.one_of(
        st.builds(PassingTestCaseRule, _word, st.none() | _word),
        st.builds(RemoteRule, st.booleans()),
    ),
    max_size=4,
)


def _rule_yaml(rule: PassingTestCaseRule | RemoteRule) -> str:
    if isinstance(rule, RemoteRule):
        return f"!RemoteRule {{required: {str(rule.required).lower()}}}"
    scenario = f", scenario: {rule.scenario}" if rule.scenario else ""
    return f"!PassingTestCaseRule {{test_case_name: {rule.test_case_name}{scenario}}}"


@given(
    policy_id=_word,
    contexts=st.lists(_word, min_size=1, max_size=3),
    versions=st.lists(_word.map(lambda w: w + "-*"), min_size=1, max_size=3),
    subject_type=st.sampled_from(SUBJECT_TYPES),
    rules=_rules,
    excluded=st.lists(_word, max_size=2),
)
def test_a_written_policy_reads_back_as_written(
    policy_id: str,
    contexts: list[str],
    versions: list[str],
    subject_type: str,
    rules: list[PassingTestCaseRule | RemoteRule],
    excluded: list[str],
) -> None:
    text = "--- !Policy\n" + yaml.safe_dump(
        {
            "id": policy_id,
            "decision_contexts": contexts,
            "product_versions": versions,
            "subject_type": subject_type,
            "excluded_packages": excluded,
        }
    )
    text += "rules:\n" + "".join(f"  - {_rule_yaml(rule)}\n" for rule in rules) if rules else "rules: []\n"
    (policy,) = parse_policies(text)
    assert policy.id == policy_id and policy.decision_contexts == tuple(contexts)
    assert policy.product_versions == tuple(versions) and policy.subject_type == subject_type
    assert policy.rules == tuple(rules) and policy.excluded_packages == tuple(excluded)
