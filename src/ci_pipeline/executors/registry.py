"""Choose an executor member by its name (``[executor] kind``).

The table maps a name to the import path of its member class, so that a member's own dependencies
(Celery, say) are imported only when its name is used. A member is built as
``Member.from_config(config)``.
"""

from __future__ import annotations

import importlib

from ci_pipeline.config import Config
from ci_pipeline.errors import ConfigError
from ci_pipeline.executors.base import Executor

#: Executor name -> ``module:Class`` of the member.
EXECUTOR_MEMBERS: dict[str, str] = {
    "local": "ci_pipeline.executors.local:LocalExecutor",
    "celery": "ci_pipeline.executors.celery:CeleryExecutor",
    "memory": "ci_pipeline.executors.memory:MemoryExecutor",
}


def open_executor(config: Config, kind: str | None = None) -> Executor:
    """The executor ``kind`` names (else ``[executor] kind``), built from ``config``."""
    kind = kind or config.executor.kind
    return executor_class(kind).from_config(config)


def executor_class(kind: str) -> type[Executor]:
    """The member class of the executor named ``kind``."""
    target = EXECUTOR_MEMBERS.get(kind)
    if target is None:
        known = ", ".join(sorted(EXECUTOR_MEMBERS))
        raise ConfigError(f"The executor kind {kind!r} is unknown; use one of {known}.")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"The {kind} executor cannot be loaded ({exc}); install its dependencies or use another kind."
        ) from exc
    member = getattr(module, class_name)
    if not (isinstance(member, type) and issubclass(member, Executor)):
        raise ConfigError(f"The {kind} executor member {target} is not an Executor class.")
    return member
