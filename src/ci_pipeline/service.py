"""The service loop behind ``ci-pipeline serve``: consume pushes, drive runs, relay messages."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config
from ci_pipeline.engine.relay import relay_outbox
from ci_pipeline.errors import BusError, StoreError
from ci_pipeline.messages.signing import signer_from_config
from ci_pipeline.store.db import Store
from ci_pipeline.trigger import SUBSCRIPTION, Trigger

log = logging.getLogger(__name__)

FETCH_BATCH = 500
IDLE_SLEEP = 0.05
ERROR_BACKOFF = 1.0


class PipelineDriver(Protocol):
    """What the service needs of the pipeline engine."""

    def tick(self) -> bool:
        """Advance runs by one round; return whether anything happened."""

    def idle(self) -> bool:
        """Whether no run is unfinished."""

    def shutdown(self) -> None:
        """Stop stage work this process started."""


class Service:
    """One scheduler process: the trigger's consumer, the pipeline engine and the outbox relay."""

    def __init__(self, config: Config, store: Store, bus: Bus) -> None:
        self.config = config
        self.store = store
        self.bus = bus
        self.trigger = Trigger(config, store)
        self.topics = (config.bus.trigger_topic,)
        self.signer = signer_from_config(config.bus)
        bus.subscribe(SUBSCRIPTION, self.topics)
        self.engine = self._make_engine()

    def _make_engine(self) -> PipelineDriver | None:
        try:
            from ci_pipeline.engine.core import Engine
        except ImportError:
            return None
        engine: PipelineDriver = Engine(self.config, self.store, self.bus)
        return engine

    def consume_pushes(self) -> int:
        """Decide one batch of inbound pushes and ack it; return how many messages it held."""
        deliveries = self.bus.fetch(SUBSCRIPTION, self.topics, FETCH_BATCH)
        if not deliveries:
            return 0
        decided, dead = self.trigger.handle_deliveries(deliveries)
        self.bus.ack(SUBSCRIPTION, deliveries)
        log.info("trigger: %d decided, %d dead-lettered", decided, dead)
        return len(deliveries)

    def step(self) -> bool:
        """Do one round of every kind of work; return whether any was done."""
        worked = self.consume_pushes() > 0
        if self.engine is not None:
            worked = self.engine.tick() or worked
        worked = relay_outbox(self.store, self.bus, signer=self.signer) > 0 or worked
        return worked

    def idle(self) -> bool:
        """Whether nothing is left to do: no pending push, no unfinished run."""
        if self.bus.pending(SUBSCRIPTION, self.topics) > 0:
            return False
        return self.engine is None or self.engine.idle()

    def run(self, *, until_idle: bool = False, stop: threading.Event | None = None) -> None:
        """Work until stopped, or with ``until_idle`` until nothing is left."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                worked = self.step()
            except (BusError, StoreError) as exc:
                log.warning("service step failed, retrying: %s", exc)
                time.sleep(ERROR_BACKOFF)
                continue
            if not worked:
                if until_idle and self.idle():
                    break
                stop.wait(IDLE_SLEEP)
        if self.engine is not None:
            self.engine.shutdown()
