"""The message bus: one interface (:mod:`.base`), members chosen by URL scheme (:func:`open_bus`)."""

from ci_pipeline.bus.base import Bus, Delivery
from ci_pipeline.bus.registry import BUS_MEMBERS, open_bus

__all__ = ["BUS_MEMBERS", "Bus", "Delivery", "open_bus"]
