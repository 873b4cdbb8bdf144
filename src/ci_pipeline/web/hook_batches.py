"""Webhook pushes decided in batches: the requests in flight together share one store transaction.

The trigger is fast on the bus because a batch of pushes is decided in one transaction; webhooks
arrive one request at a time, so one worker thread takes every hook waiting when it is free and
decides them together (group commit). A lone request is decided at once, alone. When the store refuses
a batch, each hook of it is decided again on its own, so one bad push never fails another's request.
The worker ends after a second without work and starts again with the next hook.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Sequence

from ci_pipeline.logcontext import get_logger
from ci_pipeline.store.webhook_deliveries import take_deliveries
from ci_pipeline.trigger import Verdict
from ci_pipeline.web.state import WebState
from ci_pipeline.webhooks.receive import Hook

log = get_logger(__name__)

#: (whether the delivery id was free, the decision if there was a push to decide)
Outcome = tuple[bool, Verdict | None]
#: Where a hook's outcome goes: the event loop of the request waiting for it, and its future.
_Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Outcome]"]
_Settled = tuple["asyncio.Future[Outcome]", Outcome | BaseException]
MAX_BATCH = 500
IDLE_SECONDS = 1.0


def decide_hooks(web: WebState, hooks: Sequence[Hook]) -> list[Outcome]:
    """Take the hooks' delivery ids and decide their pushes, all in one transaction."""
    trigger = web.trigger()
    with web.store.session() as session:
        fresh = take_deliveries(session, [(hook.forge, hook.delivery) for hook in hooks])
        pushes = [hook.push for hook, free in zip(hooks, fresh, strict=True)
                  if free and hook.push is not None]
        verdicts = iter(trigger.decide_pushes(session, pushes))
        return [(free, next(verdicts) if free and hook.push is not None else None)
                for hook, free in zip(hooks, fresh, strict=True)]


class HookBatches:
    """The one worker that decides an app's webhook pushes; :meth:`decide` waits for a hook's outcome."""

    def __init__(self, web: WebState) -> None:
        self._web = web
        self._waiting: queue.SimpleQueue[tuple[Hook, _Waiter]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    async def decide(self, hook: Hook) -> Outcome:
        """The outcome of ``hook``, decided with whatever other hooks are waiting; raises what the
        decision raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.put((hook, (loop, future)))
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="ci-pipeline-hooks", daemon=True)
                self._worker.start()
        return await future

    def _work(self) -> None:
        while True:
            try:
                batch = [self._waiting.get(timeout=IDLE_SECONDS)]
            except queue.Empty:
                with self._lock:
                    if self._waiting.empty():
                        self._worker = None
                        return
                continue
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            self._decide(batch)

    def _decide(self, batch: list[tuple[Hook, _Waiter]]) -> None:
        try:
            outcomes: Sequence[Outcome | BaseException] = decide_hooks(self._web, [hook for hook, _ in batch])
        except Exception as exc:  # settled below: every request gets its answer
            if len(batch) > 1:
                log.info("a batch of %d webhook pushes failed (%s); deciding each alone", len(batch), exc)
                for item in batch:
                    self._decide([item])
                return
            outcomes = [exc]
        _settle([waiter for _, waiter in batch], outcomes)


def _settle(waiters: Sequence[_Waiter], outcomes: Sequence[Outcome | BaseException]) -> None:
    """Hand each waiting request its outcome: one wake-up per event loop, not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Settled]] = {}
    for (loop, future), outcome in zip(waiters, outcomes, strict=True):
        by_loop.setdefault(loop, []).append((future, outcome))
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_resolve, settled)


def _resolve(settled: Sequence[_Settled]) -> None:
    for future, result in settled:
        if future.done():  # the request was cancelled (the client went away)
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
