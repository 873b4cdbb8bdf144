"""Log lines carry the run id, stage and msg_id of the context they are logged in."""

from __future__ import annotations

import logging
import threading

import pytest

from ci_pipeline.logcontext import current_context, get_logger, log_context

log = get_logger("ci_pipeline.tests.logcontext")


def test_a_line_says_the_context_and_carries_it_as_attributes(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ci_pipeline"), log_context(run_id=7, stage="build"):
        with log_context(msg_id="2017-1b7d4c0a-1111-4c24-a5f6-4d8dcc1d4b3f"):
            log.info("started %s", "x")
        log.info("ended")
    first, second = caplog.records
    assert first.getMessage() == "[run=7 stage=build msg=2017-1b7d4c0a-1111-4c24-a5f6-4d8dcc1d4b3f] started x"
    assert (first.run_id, first.stage) == (7, "build")  # type: ignore[attr-defined]
    assert second.getMessage() == "[run=7 stage=build] ended"
    assert second.msg_id is None  # type: ignore[attr-defined]
    assert first.name == "ci_pipeline.tests.logcontext"


def test_no_context_leaves_the_line_alone(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ci_pipeline"):
        log.info("plain")
    assert caplog.messages == ["plain"]
    assert current_context() == {"run_id": None, "stage": None, "msg_id": None}


def test_a_msg_id_from_outside_is_quoted_and_short(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ci_pipeline"), log_context(msg_id="a\nb\x00" + "c" * 500):
        log.info("line")
    (message,) = caplog.messages
    assert "\n" not in message and "\x00" not in message and len(message) < 120
    assert message.startswith("[msg='a\\nb\\x00ccc")


def test_none_clears_a_value_and_the_block_end_restores_it() -> None:
    with log_context(run_id=1, stage="build"):
        with log_context(stage=None):
            assert current_context() == {"run_id": 1, "stage": None, "msg_id": None}
        assert current_context()["stage"] == "build"
    assert current_context()["run_id"] is None


def test_each_thread_keeps_its_own_context() -> None:
    seen: list[object] = []
    with log_context(run_id=3):
        thread = threading.Thread(target=lambda: seen.append(current_context()["run_id"]))
        thread.start()
        thread.join()
    assert seen == [None]
