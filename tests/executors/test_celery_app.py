"""The Celery application's settings that keep stage tasks through worker deaths and broker restarts."""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.config import load_config
from ci_pipeline.executors.celery_app import TASK_NAME, make_app, queue_name


def test_tasks_survive_lost_workers_and_reconnects(tmp_path: Path) -> None:
    config = load_config(None, environ={"CI_PIPELINE_STATE_DIR": str(tmp_path),
                                        "CI_PIPELINE_EXECUTOR_BROKER": "amqp://g:g@h:5672/ci_a"})
    app = make_app(config)
    conf = app.conf
    # A task goes back to its queue when its worker dies, and one worker holds one task per slot.
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    # Tasks are persistent messages on durable queues, confirmed by the broker.
    assert conf.task_default_delivery_mode == 2  # persistent
    assert app.amqp.queues[queue_name("image")].durable
    assert conf.broker_transport_options["confirm_publish"] is True
    # The reduction's restore sends basic.qos from pool threads, which can stall a consumer for good.
    assert conf.worker_enable_prefetch_count_reduction is False
    assert conf.broker_connection_retry_on_startup and conf.broker_connection_max_retries is None
    assert TASK_NAME in app.tasks
