"""The topic vocabulary: stages, states, statuses and how they spell a topic.

A pipeline topic is ``<prefix>.<env>.ci.pipeline.<stage words>.<state>``, for example
``org.centos.prod.ci.pipeline.package.test.functional.running``. The trigger adds
``package.ignore`` (and its ``package.queued`` is the build stage's queued message); every run ends
with ``<prefix>.<env>.ci.pipeline.complete``.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Stage(StrEnum):
    """The pipeline stages, in the seed's order."""

    BUILD = "build"
    FUNCTIONAL = "functional"
    COMPOSE = "compose"
    INTEGRATION = "integration"
    IMAGE = "image"
    SMOKE = "smoke"
    E2E = "e2e"


class State(StrEnum):
    """Where a stage is: each state is announced by one message."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = "complete"


class Status(StrEnum):
    """The ``status`` field: the stage's and the pipeline's status at that moment."""

    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    ABORTED = "ABORTED"


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)

#: The words a stage's topics carry between ``ci.pipeline.`` and the state.
TOPIC_WORDS: dict[Stage, str] = {
    Stage.BUILD: "package",
    Stage.FUNCTIONAL: "package.test.functional",
    Stage.COMPOSE: "compose",
    Stage.INTEGRATION: "compose.test.integration",
    Stage.IMAGE: "image",
    Stage.SMOKE: "image.test.smoke",
    Stage.E2E: "image.test.e2e",
}

IGNORE_SUFFIX = "package.ignore"
PIPELINE_COMPLETE_SUFFIX = "complete"

#: Every topic suffix (the part after ``ci.pipeline.``) that ci-pipeline sends.
PIPELINE_SUFFIXES: tuple[str, ...] = (
    IGNORE_SUFFIX,
    *(f"{TOPIC_WORDS[stage]}.{state}" for stage in STAGE_ORDER for state in State),
    PIPELINE_COMPLETE_SUFFIX,
)

#: The suffix (and schema name) of Greenwave's decision change, ``<prefix>.<env>.greenwave.decision.update``.
GREENWAVE_DECISION_UPDATE = "greenwave.decision.update"

_GREENWAVE_TOPIC = re.compile(r"^[a-z0-9]+(?:\.[a-z0-9]+)*\.(?:prod|stage)\.greenwave\.decision\.update$")
_PIPELINE_TOPIC = re.compile(r"^(?P<prefix>[a-z0-9]+(?:\.[a-z0-9]+)*)\.(?P<env>prod|stage)"
                             r"\.ci\.pipeline\.(?P<suffix>[a-z0-9.]+)$")


def stage_suffix(stage: Stage, state: State) -> str:
    """The topic suffix of a stage's state, e.g. ``package.test.functional.running``."""
    return f"{TOPIC_WORDS[stage]}.{state}"


def pipeline_topic(prefix: str, environment: str, suffix: str) -> str:
    """A full pipeline topic from its prefix, environment and suffix."""
    return f"{prefix}.{environment}.ci.pipeline.{suffix}"


def topic_suffix(topic: str) -> str | None:
    """The suffix of a pipeline topic this service sends, or None for any other topic."""
    match = _PIPELINE_TOPIC.match(topic)
    if match is None or match["suffix"] not in PIPELINE_SUFFIXES:
        return None
    return match["suffix"]


#: The artifacts of the CI messages 1.x format that ci-pipeline announces tests of.
FEDORA_CI_ARTIFACTS = ("koji-build", "productmd-compose")
#: The states of a test in the CI messages 1.x format.
FEDORA_CI_STATES = ("queued", "running", "complete", "error")
#: Every CI messages 1.x topic suffix (the part after ``ci.``), e.g. ``koji-build.test.complete``.
FEDORA_CI_SUFFIXES: tuple[str, ...] = tuple(
    f"{artifact}.test.{state}" for artifact in FEDORA_CI_ARTIFACTS for state in FEDORA_CI_STATES
)
_FEDORA_CI_TOPIC = re.compile(r"^[a-z0-9]+(?:\.[a-z0-9]+)*\.(?:prod|stage)\.ci\.(?P<suffix>[a-z0-9.-]+)$")


def fedora_ci_topic(prefix: str, environment: str, suffix: str) -> str:
    """A full CI messages 1.x topic, e.g. ``org.centos.prod.ci.koji-build.test.complete``."""
    return f"{prefix}.{environment}.ci.{suffix}"


def fedora_ci_suffix(topic: str) -> str | None:
    """The suffix of a CI messages 1.x test topic, or None for any other topic."""
    match = _FEDORA_CI_TOPIC.match(topic)
    if match is None or match["suffix"] not in FEDORA_CI_SUFFIXES:
        return None
    return match["suffix"]


def greenwave_topic(prefix: str, environment: str) -> str:
    """The topic of a gating decision change, ``<prefix>.<env>.greenwave.decision.update``."""
    return f"{prefix}.{environment}.{GREENWAVE_DECISION_UPDATE}"


def is_greenwave_topic(topic: str) -> bool:
    """Whether ``topic`` is a gating decision change this service sends."""
    return _GREENWAVE_TOPIC.match(topic) is not None
