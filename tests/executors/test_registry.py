"""Executors are chosen by name from one table, each member built from the configuration."""

from __future__ import annotations

import pytest

from ci_pipeline.config import Config
from ci_pipeline.errors import ConfigError
from ci_pipeline.executors import registry
from ci_pipeline.executors.base import Executor
from ci_pipeline.executors.celery import CeleryExecutor
from ci_pipeline.executors.local import LocalExecutor
from ci_pipeline.executors.memory import MemoryExecutor
from ci_pipeline.executors.registry import EXECUTOR_MEMBERS, executor_class, open_executor


def _with_executor(config: Config, **executor: object) -> Config:
    return config.model_copy(update={"executor": config.executor.model_copy(update=executor)})


@pytest.mark.parametrize(("kind", "member"), [("local", LocalExecutor), ("celery", CeleryExecutor),
                                              ("memory", MemoryExecutor)])
def test_every_name_opens_its_member(kind: str, member: type[Executor]) -> None:
    assert executor_class(kind) is member
    assert set(EXECUTOR_MEMBERS) == {"local", "celery", "memory"}


def test_the_configured_kind_and_concurrency_are_used(config: Config) -> None:
    local = open_executor(_with_executor(config, concurrency=3))
    assert isinstance(local, LocalExecutor) and local.free_slots() == 3
    memory = open_executor(_with_executor(config, concurrency=5), "memory")
    assert isinstance(memory, MemoryExecutor) and memory.free_slots() == 5


def test_an_unknown_kind_is_one_sentence_naming_the_known_ones(config: Config) -> None:
    sentence = r"^The executor kind 'slurm' is unknown; use one of celery, local, memory\.$"
    with pytest.raises(ConfigError, match=sentence):
        open_executor(config, "slurm")


def test_a_member_that_cannot_load_or_is_no_executor_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.EXECUTOR_MEMBERS, "gone", "ci_pipeline.executors.no_such_module:X")
    monkeypatch.setitem(registry.EXECUTOR_MEMBERS, "odd", "ci_pipeline.executors.registry:open_executor")
    with pytest.raises(ConfigError, match="The gone executor cannot be loaded"):
        executor_class("gone")
    with pytest.raises(ConfigError, match="is not an Executor class"):
        executor_class("odd")
