"""The row types the store's functions hand out, for the annotations of their callers.

Callers read a row's attributes and set them inside the transaction that loaded it; every query
and every insert stays in ``store/``.
"""

from __future__ import annotations

from ci_pipeline.store.models import (
    DeadLetter,
    Decision,
    ForwardCursor,
    GatedPackage,
    MachineLease,
    OutboxMessage,
    Result,
    ResultGroup,
    ResultTestcase,
    Run,
    StageRun,
    Waiver,
)

__all__ = [
    "DeadLetter",
    "Decision",
    "ForwardCursor",
    "GatedPackage",
    "MachineLease",
    "OutboxMessage",
    "Result",
    "ResultGroup",
    "ResultTestcase",
    "Run",
    "StageRun",
    "Waiver",
]
