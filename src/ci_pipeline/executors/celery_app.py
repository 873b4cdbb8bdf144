"""The Celery application shared by the scheduler (which sends stage tasks) and ``ci-pipeline worker``.

Each stage kind has its own durable queue, ``ci-pipeline.<stage>``, so that image and smoke work can
go to machines with KVM. Tasks are acknowledged late and prefetched one at a time, so a task whose
worker dies goes back to the queue and runs on another worker. Besides the Celery result backend,
the task and the executor share a few Redis keys (:class:`TaskKeys`) under a namespace taken from
the broker's virtual host, so two deployments on one Redis never see each other's tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from celery import Celery

from ci_pipeline.config import Config
from ci_pipeline.messages.topics import STAGE_ORDER

TASK_NAME = "ci_pipeline.run_stage"
QUEUE_PREFIX = "ci-pipeline."
#: Results are kept a day: long enough for a restarted scheduler to collect what ran meanwhile.
RESULT_TTL = 86400


def queue_name(stage: str) -> str:
    """The Celery queue of a stage kind: ``ci-pipeline.build``."""
    return f"{QUEUE_PREFIX}{stage}"


def all_queues() -> list[str]:
    """The queues of every stage kind, in pipeline order."""
    return [queue_name(stage) for stage in STAGE_ORDER]


def namespace(broker_url: str) -> str:
    """The key namespace of a deployment: its broker's virtual host (``default`` for ``/``)."""
    vhost = unquote(urlsplit(broker_url).path[1:]) if urlsplit(broker_url).path else ""
    return vhost.strip("/") or "default"


@dataclass(frozen=True)
class TaskKeys:
    """The Redis keys of one stage task."""

    prefix: str

    @classmethod
    def of(cls, ns: str, task_id: str) -> TaskKeys:
        """The keys of ``task_id`` in namespace ``ns``."""
        return cls(f"ci-pipeline:{ns}:task:{task_id}")

    @property
    def alive(self) -> str:
        """Held (with a short expiry, renewed) while a delivery runs the work: who runs it."""
        return f"{self.prefix}:alive"

    @property
    def deliveries(self) -> str:
        """Counts the deliveries that started the work; 2 or more means a worker was lost."""
        return f"{self.prefix}:deliveries"

    @property
    def kill(self) -> str:
        """Set by the scheduler to make the running delivery kill its process group."""
        return f"{self.prefix}:kill"

    @property
    def collected(self) -> str:
        """Set by the scheduler once it has read the outcome."""
        return f"{self.prefix}:collected"


def latest_key(ns: str, run_id: int, stage: str) -> str:
    """The Redis key holding the task id of the latest attempt sent for (run, stage)."""
    return f"ci-pipeline:{ns}:latest:{run_id}:{stage}"


def task_id(ns: str, run_id: int, stage: str, attempt: int) -> str:
    """The task id of one stage attempt: the same on every delivery, so a redelivery is recognisable."""
    return f"ci-pipeline:{ns}:{run_id}:{stage}:{attempt}"


def redis_client(config: Config) -> redis.Redis:
    """A Redis client on the result backend (the shared keys live there too)."""
    return redis.Redis.from_url(config.executor.result_backend)


def make_app(config: Config) -> Celery:
    """The Celery app of ``config``, with the stage task registered."""
    from ci_pipeline.executors.celery_task import run_stage

    app = Celery("ci_pipeline", broker=config.executor.broker, backend=config.executor.result_backend,
                 set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=queue_name("build"),
        task_create_missing_queues=True,
        result_expires=RESULT_TTL,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits out a broker outage of any length
        # A running stage goes on through a broker restart; its redelivery then waits for it and
        # returns its outcome instead of running the work again (see celery_task).
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # After a reconnect Celery lowers the prefetch count for the tasks still running and raises it
        # again from the pool thread that acknowledges each one: a synchronous basic.qos on the
        # consumer's connection from a second thread, which can take the consumer's own qos-ok and
        # leave it blocked in a socket read for good, holding its prefetched tasks unacknowledged.
        # Without the reduction only the consumer's thread talks to the connection; the cost is up to
        # one prefetch window fetched early while the earlier tasks end.
        worker_enable_prefetch_count_reduction=False,
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0.2, "interval_step": 0.5},
        broker_transport_options={"confirm_publish": True},
        worker_hijack_root_logger=False,
    )

    @app.task(bind=True, name=TASK_NAME, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
    def stage_task(task: Any, payload: dict[str, Any]) -> dict[str, Any]:
        return run_stage(task, payload, config)

    return app
