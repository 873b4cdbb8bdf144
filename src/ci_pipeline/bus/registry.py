"""Choose a bus member by the scheme of its URL.

The table maps a scheme to the import path of its member class, so that a member's own dependencies
(an AMQP client, say) are imported only when its scheme is used. A member is built as
``Member(url, **options)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ci_pipeline.bus.base import Bus
from ci_pipeline.errors import ConfigError

#: URL scheme -> ``module:Class`` of the member that serves it.
BUS_MEMBERS: dict[str, str] = {
    "sqlite": "ci_pipeline.bus.sqlite:SqliteBus",
    "memory": "ci_pipeline.bus.memory:MemoryBus",
    "amqp": "ci_pipeline.bus.amqp:AmqpBus",
    "amqps": "ci_pipeline.bus.amqp:AmqpBus",
    "zmq": "ci_pipeline.bus.zmq:ZmqBus",
}


def open_bus(url: str, **options: object) -> Bus:
    """Open the bus ``url`` names (``sqlite:///PATH``, ``memory://``, ``amqp://``...) with ``options``."""
    scheme = url.partition(":")[0].lower()
    target = BUS_MEMBERS.get(scheme)
    if target is None:
        known = ", ".join(f"{name}://" for name in sorted(BUS_MEMBERS))
        raise ConfigError(f"The bus URL {url!r} has no known scheme; use one of {known}.")
    return _member_class(scheme, target)(url, **options)


def _member_class(scheme: str, target: str) -> Callable[..., Bus]:
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"The {scheme}:// bus cannot be loaded ({exc}); install its dependencies or use another URL."
        ) from exc
    member = getattr(module, class_name)
    if not (isinstance(member, type) and issubclass(member, Bus)):
        raise ConfigError(f"The {scheme}:// bus member {target} is not a Bus class.")
    return member
