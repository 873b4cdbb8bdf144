"""What the Celery side looks like from the queue page: messages waiting in each stage queue, and
the workers that answer with the queues they consume.

Asking the broker and the workers takes longer than a page may (workers answer within a timeout),
so a background thread refreshes a snapshot every few seconds while pages ask for it, and a page
shows the last snapshot with its age. The thread ends when no page has asked for a while.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ci_pipeline.config import Config
from ci_pipeline.logcontext import get_logger

log = get_logger(__name__)

REFRESH_SECONDS = 5.0
#: How long the workers have to answer a broadcast.
INSPECT_TIMEOUT = 1.0
#: The refresher stops after this long without a page asking.
IDLE_SECONDS = 60.0


@dataclass(frozen=True)
class BrokerSnapshot:
    """Queue depths (None: the broker did not say) and workers with their queues, as of ``taken``."""

    depths: dict[str, int | None] = field(default_factory=dict)
    workers: dict[str, list[str]] = field(default_factory=dict)
    taken: float = 0.0
    problem: str = ""


def take_snapshot(config: Config, queues: Sequence[str] = ()) -> BrokerSnapshot:
    """Ask the broker for the depth of ``queues`` (default: every stage queue) and the workers for
    the queues they consume (slow: up to seconds)."""
    from ci_pipeline.executors.celery_app import all_queues, make_app

    app = make_app(config)
    depths: dict[str, int | None] = {}
    problem = ""
    try:
        with app.connection_for_read() as connection:
            for queue in queues or all_queues():
                channel = connection.channel()
                try:
                    depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
                except Exception:  # a queue no worker declared yet: the broker closes the channel
                    depths[queue] = None
                finally:
                    if channel.is_open:
                        channel.close()
        answers = app.control.inspect(timeout=INSPECT_TIMEOUT).active_queues() or {}
    except OSError as exc:
        problem = f"The broker did not answer: {exc}."
        answers = {}
    workers = {name: sorted(q.get("name", "") for q in queues) for name, queues in answers.items()}
    return BrokerSnapshot(depths, workers, time.time(), problem)


#: How long the queue page waits for Redis before it shows the stages' workers as unknown.
REDIS_TIMEOUT = 0.2

StageKey = tuple[int, str, int]


def task_workers(config: Config, stages: Sequence[StageKey]) -> dict[StageKey, str | None] | None:
    """The worker running each (run, stage, attempt)'s task, None for a task no worker has taken yet
    (it waits in its queue); None altogether when Redis does not answer at once."""
    import redis

    from ci_pipeline.executors.celery_app import TaskKeys, namespace, task_id

    if not stages:
        return {}
    ns = namespace(config.executor.broker)
    client = redis.Redis.from_url(config.executor.result_backend, socket_timeout=REDIS_TIMEOUT,
                                  socket_connect_timeout=REDIS_TIMEOUT)
    try:
        with client.pipeline(transaction=False) as pipe:
            for run_id, stage, attempt in stages:
                pipe.get(TaskKeys.of(ns, task_id(ns, run_id, stage, attempt)).alive)
            answers = pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.info("the queue page could not ask Redis for the stages' workers: %s", exc)
        return None
    finally:
        client.close()
    return {
        key: (value.decode("utf-8", "replace") if isinstance(value, bytes) else value)
        for key, value in zip(stages, answers, strict=True)
    }


class BrokerWatch:
    """Keeps a snapshot fresh in a thread while pages read it."""

    def __init__(self, config: Config, take: Callable[[Config], BrokerSnapshot] = take_snapshot) -> None:
        self.config = config
        self._take = take
        self._snapshot = BrokerSnapshot()
        self._asked = 0.0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> BrokerSnapshot:
        """The last snapshot (empty before the first), starting the refresher when it is not running."""
        with self._lock:
            self._asked = time.monotonic()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._refresh, name="ci-pipeline-broker", daemon=True)
                self._thread.start()
            return self._snapshot

    def _refresh(self) -> None:
        while time.monotonic() - self._asked < IDLE_SECONDS:
            try:
                snapshot = self._take(self.config)
            except Exception as exc:  # a refresher must outlive any broker trouble
                log.warning("the broker snapshot failed: %s", exc)
                snapshot = BrokerSnapshot(taken=time.time(), problem=f"The broker snapshot failed: {exc}.")
            with self._lock:
                self._snapshot = snapshot
            time.sleep(REFRESH_SECONDS)
