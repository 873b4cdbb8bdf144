"""The service loop behind ``ci-pipeline serve``: consume pushes, drive runs, relay messages."""

from __future__ import annotations

import threading
import time

from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config
from ci_pipeline.engine.core import Engine
from ci_pipeline.engine.relay import outbox_depth, relay_outbox
from ci_pipeline.errors import BusError, StoreError
from ci_pipeline.logcontext import get_logger
from ci_pipeline.messages.envelope import Signer
from ci_pipeline.messages.signing import signer_from_config
from ci_pipeline.store.db import Store
from ci_pipeline.trigger import Trigger

log = get_logger(__name__)

FETCH_BATCH = 500
IDLE_SLEEP = 0.05
ERROR_BACKOFF = 1.0


class OutboxRelay(threading.Thread):
    """Sends the outbox to the bus beside the service loop, so deciding never waits for the broker."""

    def __init__(self, store: Store, bus: Bus, signer: Signer | None) -> None:
        super().__init__(name="ci-pipeline-relay", daemon=True)
        self.store = store
        self.bus = bus
        self.signer = signer
        self.halt = threading.Event()

    def run(self) -> None:
        """Relay until halted; a failing bus or store is retried after a pause."""
        while not self.halt.is_set():
            try:
                sent = relay_outbox(self.store, self.bus, signer=self.signer)
            except (BusError, StoreError) as exc:
                log.warning("relaying the outbox failed, retrying: %s", exc)
                self.halt.wait(ERROR_BACKOFF)
                continue
            if not sent:
                self.halt.wait(IDLE_SLEEP)


class Service:
    """One scheduler process: the trigger's consumer, the pipeline engine and the outbox relay."""

    def __init__(self, config: Config, store: Store, bus: Bus) -> None:
        self.config = config
        self.store = store
        self.bus = bus
        self.trigger = Trigger(config, store)
        # Every push form at once: fedmsg's git.receive, its per-repo topics and Pagure's dist-git.
        # And the Koji and CI messages of existing builds to test, when configured.
        self.topics = tuple(dict.fromkeys([*config.bus.trigger_topics, *config.fedora_ci.build_topics]))
        self.signer = signer_from_config(config.bus)
        self.subscription = config.bus.subscription
        bus.subscribe(self.subscription, self.topics)
        #: None runs the trigger alone (benchmarks do).
        self.engine: Engine | None = Engine(config, store, bus)

    def consume_pushes(self) -> int:
        """Decide one batch of inbound pushes and ack it; return how many messages it held."""
        deliveries = self.bus.fetch(self.subscription, self.topics, FETCH_BATCH)
        if not deliveries:
            return 0
        decided, dead = self.trigger.handle_deliveries(deliveries)
        self.bus.ack(self.subscription, deliveries)
        log.info("trigger: %d decided, %d dead-lettered", decided, dead)
        return len(deliveries)

    def step(self) -> bool:
        """Decide pushes and drive runs for one round; return whether any work was done."""
        worked = self.consume_pushes() > 0
        if self.engine is not None:
            worked = self.engine.tick() or worked
        return worked

    def idle(self) -> bool:
        """Whether nothing is left to do: no pending push, no unfinished run, an empty outbox."""
        if self.bus.pending(self.subscription, self.topics) > 0:
            return False
        if self.engine is not None and not self.engine.idle():
            return False
        return outbox_depth(self.store) == 0

    def run(self, *, until_idle: bool = False, stop: threading.Event | None = None) -> None:
        """Work until stopped, or with ``until_idle`` until nothing is left; the outbox is relayed
        by a thread of its own all along."""
        stop = stop or threading.Event()
        relay = OutboxRelay(self.store, self.bus.for_another_thread(), self.signer)
        relay.start()
        try:
            self._loop(until_idle, stop)
        finally:
            relay.halt.set()
            relay.join()
            if relay.bus is not self.bus:
                relay.bus.close()
            if self.engine is not None:
                self.engine.shutdown()

    def _loop(self, until_idle: bool, stop: threading.Event) -> None:
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
