"""Choose a provisioner member by its name (``[provision.<stage>] provisioner``).

The table maps a name to the import path of its member class, so a member's own dependencies are
imported only when its name is used. A member is built as ``Member.from_config(config)``.
"""

from __future__ import annotations

import importlib

from ci_pipeline.config import Config
from ci_pipeline.errors import ConfigError
from ci_pipeline.provision.base import Provisioner

#: Provisioner name -> ``module:Class`` of the member.
PROVISIONER_MEMBERS: dict[str, str] = {
    "qemu": "ci_pipeline.provision.qemu:QemuProvisioner",
    "ssh": "ci_pipeline.provision.ssh:SSHProvisioner",
    "linchpin": "ci_pipeline.provision.linchpin:LinchpinProvisioner",
    "memory": "ci_pipeline.provision.memory:MemoryProvisioner",
}


def open_provisioner(config: Config, name: str) -> Provisioner:
    """The provisioner ``name``, built from ``config``."""
    return provisioner_class(name).from_config(config)


def provisioner_class(name: str) -> type[Provisioner]:
    """The member class of the provisioner named ``name``."""
    target = PROVISIONER_MEMBERS.get(name)
    if target is None:
        known = ", ".join(sorted(PROVISIONER_MEMBERS))
        raise ConfigError(f"The provisioner {name!r} is unknown; use one of {known}.")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"The {name} provisioner cannot be loaded ({exc}); install what it needs.") from exc
    member = getattr(module, class_name)
    if not (isinstance(member, type) and issubclass(member, Provisioner)):
        raise ConfigError(f"The {name} provisioner member {target} is not a Provisioner class.")
    return member
