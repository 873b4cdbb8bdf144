"""A push's identifying fields and the CI_NAME and ref made from them: one check against every limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ci_pipeline.errors import SchemaViolation
from ci_pipeline.messages.builders import build_body
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.fields import GIT_RECEIVE_SUFFIX, load_schema
from ci_pipeline.messages.identity import (
    RUN_SCHEMA,
    field_is_valid,
    identity_problem,
    ostree_ref,
    run_ci_name,
)
from ci_pipeline.messages.inbound import GitPush, make_git_receive, parse_git_receive
from ci_pipeline.messages.schema import validate_body
from ci_pipeline.messages.topics import pipeline_topic

REV = "591b0d2fc67a45e4ad13bdc3e312d5554852426a"
COMMIT_RULES = load_schema(GIT_RECEIVE_SUFFIX)["properties"]["commit"]["properties"]


def _rule(field: str) -> st.SearchStrategy[str]:
    """Strings the git.receive schema's pattern for ``field`` accepts."""
    return st.from_regex(COMMIT_RULES[field]["pattern"].removesuffix("(?!\\n)"), fullmatch=True).filter(
        lambda value: "\n" not in value
    )


def _push(repo: str = "vim", branch: str = "f26", namespace: str = "rpms", rev: str = REV) -> GitPush:
    return GitPush(repo=repo, rev=rev, branch=branch, namespace=namespace)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("repo", "--upload-pack=touch /tmp/x"),
        ("repo", "-x"),
        ("repo", ".."),
        ("repo", ".hidden"),
        ("branch", "--orphan"),
        ("namespace", "-rpms"),
    ],
)
def test_names_starting_with_a_dash_or_dot_are_refused_by_the_push_schema(field: str, value: str) -> None:
    fields = {"repo": "vim", "rev": REV, "branch": "f26", "namespace": "rpms", field: value}
    with pytest.raises(SchemaViolation, match=f"Field 'commit.{field}' must be .*starting with"):
        make_git_receive(**fields)


@given(name=st.text(min_size=1, max_size=30), lead=st.sampled_from("-.+"))
def test_no_name_starting_with_a_dash_dot_or_plus_passes_any_name_rule(name: str, lead: str) -> None:
    for field in ("repo", "branch", "namespace"):
        with pytest.raises(SchemaViolation):
            make_git_receive(**{"repo": "vim", "rev": REV, "branch": "f26", field: lead + name})


def test_the_longest_branch_the_push_schema_accepts_makes_a_ci_name_it_does_not() -> None:
    branch = "f" + "9" * 99
    push = parse_git_receive(encode(make_git_receive(repo="vim", rev=REV, branch=branch)))
    problem = identity_problem(push, "x86_64")
    assert problem is not None
    assert problem.startswith("The CI_NAME 'ci-pipeline-f999") and ", made from the branch 'f999" in problem
    assert "at most 100" in problem and problem.endswith(".") and problem.isprintable()
    assert identity_problem(_push(branch="f" + "9" * (99 - len(run_ci_name("")))), "x86_64") is None


def test_an_arch_that_makes_an_invalid_ostree_ref_is_named() -> None:
    # The configuration refuses such an arch; the check does not rely on it.
    problem = identity_problem(_push(), "x86+64")
    assert problem == (
        "The ref 'fedora/f26/x86+64/atomic-host', made from the branch 'f26' and the arch 'x86+64', must be "
        + str(load_schema(RUN_SCHEMA)["properties"]["ref"]["description"]) + "."
    )


def test_fields_the_run_schema_refuses_are_named_with_its_rule() -> None:
    problem = identity_problem(_push(rev=REV.upper()), "x86_64")
    rule = "40 lowercase hexadecimal digits (the dist-git commit)"
    assert problem == f"The rev '{REV.upper()}' must be {rule}."
    problem = identity_problem(_push(repo="v\x00im"), "x86_64")
    assert problem is not None and problem.startswith("The repo 'v\\x00im' must be") and problem.isprintable()


@given(repo=_rule("repo"), branch=_rule("branch"), namespace=_rule("namespace"))
def test_a_push_without_a_problem_makes_a_valid_first_message(repo: str, branch: str, namespace: str) -> None:
    push = parse_git_receive(encode(make_git_receive(repo=repo, rev=REV, branch=branch, namespace=namespace)))
    problem = identity_problem(push, "x86_64")
    fields = {
        "CI_NAME": run_ci_name(push.branch), "CI_TYPE": "custom", "build_id": "1", "build_url": "http://x/",
        "username": "fedora-atomic", "repo": push.repo, "rev": push.rev, "namespace": push.namespace,
        "branch": push.branch, "ref": ostree_ref(push.branch, "x86_64"), "status": "SUCCESS",
    }
    body = build_body(pipeline_topic("org.centos", "prod", RUN_SCHEMA), fields)
    if problem is None:
        validate_body(RUN_SCHEMA, body)
    else:
        with pytest.raises(SchemaViolation):
            validate_body(RUN_SCHEMA, body)
        # Only what the branch makes can fail: the push's own fields passed the same rules.
        assert problem.startswith("The CI_NAME ") and ", made from the branch " in problem


@given(field=st.sampled_from(["repo", "rev", "namespace", "branch", "CI_NAME", "ref"]),
       value=st.one_of(st.text(max_size=260), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._/+-]{0,40}\n?",
                                                            fullmatch=True), st.integers(), st.none()))
def test_a_field_is_valid_exactly_when_the_schema_says_so(field: str, value: object) -> None:
    rule = load_schema(RUN_SCHEMA)["properties"][field]
    assert field_is_valid(field, value) == Draft202012Validator(rule).is_valid(value)
