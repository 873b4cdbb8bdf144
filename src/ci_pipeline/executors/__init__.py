"""Executors run the work of a stage attempt: :mod:`.base` is the interface, :mod:`.registry` the members."""

from ci_pipeline.executors.base import Executor, StageContext, StageOutcome

__all__ = ["Executor", "StageContext", "StageOutcome"]
