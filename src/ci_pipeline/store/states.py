"""The states a run, a stage and a trigger decision can be in, as types.

Each is a ``StrEnum`` whose values are the strings the store has always kept, stored through
:func:`state_column_type` (a ``VARCHAR`` of the column's old length, no CHECK constraint), so
existing rows read back unchanged and mypy checks every assignment. A stage's and a run's status
is :class:`ci_pipeline.messages.topics.Status`, the ``status`` field of the message contract.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum

from ci_pipeline.messages.topics import Status

__all__ = [
    "CancelSource", "DecisionKind", "IgnoreCause", "LeaseState", "RunState", "StageState", "Status",
    "state_column_type",
]


class RunState(StrEnum):
    """Where a run is: waiting for a scheduler, being driven, or done."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = "complete"


class StageState(StrEnum):
    """Where one stage of a run is."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = "complete"
    SKIPPED = "skipped"


#: A stage in one of these states will not change again (until a rerun).
FINAL_STAGE_STATES = frozenset({StageState.COMPLETE, StageState.SKIPPED})


class DecisionKind(StrEnum):
    """What the trigger decided about a push."""

    QUEUED = "queued"
    IGNORE = "ignore"


class IgnoreCause(StrEnum):
    """Why the trigger ignored a push, as a key (the decision's reason says it in words)."""

    FORK = "fork"
    NAMESPACE = "namespace"
    BRANCH = "branch"
    PACKAGE = "package"
    DUPLICATE = "duplicate"


class CancelSource(StrEnum):
    """Who asked for a run to be cancelled."""

    CLI = "cli"
    API = "api"


class LeaseState(StrEnum):
    """Where the lease of a machine is: held by a stage attempt, or being reclaimed from a dead one."""

    HELD = "held"
    RECLAIMING = "reclaiming"


def state_column_type(enum: type[StrEnum], length: int) -> Enum:
    """A column type storing ``enum`` by its values in a ``VARCHAR(length)``, as the schema has it."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
