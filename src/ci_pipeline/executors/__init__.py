"""Executors run the work of a stage attempt: :mod:`.base` is the interface, :mod:`.local` the default."""

from ci_pipeline.executors.base import Executor, StageJob, StageOutcome

__all__ = ["Executor", "StageJob", "StageOutcome"]
