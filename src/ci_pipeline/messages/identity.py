"""A push's identifying fields and the values derived from them, checked against every limit at once.

A push names a change by repo, rev, branch and namespace. The trigger derives the run's ``CI_NAME``
(``ci-pipeline-<branch>``) and the OSTree ``ref`` (``fedora/<branch>/<arch>/atomic-host``) from them,
and all of these reach message bodies and store columns. The pipeline schemas own the rules: each
field's ``maxLength`` fits its store column (the tests hold them to it), so one value that fits its
rule in the run's first message (``package.queued``) fits everywhere after it. A push that passed the
``git.receive`` schema can still make a derived value too long (a 100-character branch makes a
112-character CI_NAME): :func:`identity_problem` says so before anything is stored or sent.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Protocol

import fastjsonschema

from ci_pipeline.messages.fields import field_expectation, load_schema
from ci_pipeline.messages.quoting import quote_value

#: What a branch's CI_NAME starts with (``ci-pipeline-f26``).
CI_NAME_PREFIX = "ci-pipeline-"
#: The schema whose rules a run's identifying and derived fields must fit: its first message's.
RUN_SCHEMA = "package.queued"


class PushIdentity(Protocol):
    """What identifies a pushed change (a :class:`~ci_pipeline.messages.inbound.GitPush` is one)."""

    @property
    def repo(self) -> str:
        """The package (dist-git repository) name."""
        ...

    @property
    def rev(self) -> str:
        """The pushed commit."""
        ...

    @property
    def branch(self) -> str:
        """The dist-git branch."""
        ...

    @property
    def namespace(self) -> str:
        """The dist-git namespace."""
        ...


def run_ci_name(branch: str) -> str:
    """The CI_NAME of a branch's runs, as the seed spells it (``ci-pipeline-f26``)."""
    return f"{CI_NAME_PREFIX}{branch}"


def ostree_ref(branch: str, arch: str) -> str:
    """The OSTree ref a branch composes to (``fedora/f26/x86_64/atomic-host``)."""
    return f"fedora/{branch}/{arch}/atomic-host"


def identity_problem(push: PushIdentity, arch: str) -> str | None:
    """Why this push's fields, or the CI_NAME and ref made from them, break a rule; None if none do.

    The answer is one sentence, fit to be a dead-letter's or an ignore decision's reason.
    """
    for field in ("repo", "rev", "namespace", "branch"):
        value = getattr(push, field)
        if not field_is_valid(field, value):
            return f"The {field} {quote_value(value)} must be {field_rule(field)}."
    branch = f"the branch {quote_value(push.branch)}"
    derived = (
        ("CI_NAME", run_ci_name(push.branch), branch),
        ("ref", ostree_ref(push.branch, arch), f"{branch} and the arch {quote_value(arch)}"),
    )
    for field, value, origin in derived:
        if not field_is_valid(field, value):
            return f"The {field} {quote_value(value)}, made from {origin}, must be {field_rule(field)}."
    return None


def field_is_valid(field: str, value: object) -> bool:
    """Whether ``value`` fits the run schema's rule for ``field`` (repo, rev, branch, namespace, ref...)."""
    try:
        _field_check(field)(value)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def field_rule(field: str) -> str | None:
    """The run schema's rule for ``field`` in words (its description), to tell a person what fits."""
    return field_expectation(load_schema(RUN_SCHEMA), field)


@cache
def _field_check(field: str) -> Callable[[Any], Any]:
    """The rule of ``field`` compiled to Python (it is checked on every push); raises on a misfit."""
    rule = load_schema(RUN_SCHEMA)["properties"][field]
    return fastjsonschema.compile(rule, use_formats=False, detailed_exceptions=False)
