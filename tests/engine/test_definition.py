"""Pipeline files: what loads, and each mistake as one ConfigError naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.config import Config
from ci_pipeline.engine.definition import (
    BUILTIN_STAGES,
    DEFAULT_IMAGE_INTERVAL,
    default_pipeline,
    load_pipeline,
    pipeline_for,
)
from ci_pipeline.errors import ConfigError
from ci_pipeline.messages.topics import STAGE_ORDER, Stage

from .helpers import stage_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    return path


def test_a_good_file_keeps_order_and_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[stage]]\nname = "build"\nrun = "make rpm"\ntimeout = 60\nretries = 2\n\n'
        '[[stage]]\nname = "functional"\nenabled = false\n\n'
        '[[stage]]\nname = "image"\ninterval = 0\n',
    )
    pipeline = load_pipeline(path)
    assert pipeline.names == ("build", "functional", "image")
    build, functional, image = pipeline.stages
    assert (build.command, build.timeout, build.retries, build.enabled) == ("make rpm", 60.0, 2, True)
    assert functional.command is None and not functional.enabled
    assert functional.implementation == BUILTIN_STAGES[Stage.FUNCTIONAL]
    assert image.interval == 0.0 and build.interval == DEFAULT_IMAGE_INTERVAL
    assert build.timeout is not None and functional.timeout is None  # 0 (the default) means no limit


def test_the_default_pipeline_is_the_seed_order() -> None:
    assert default_pipeline().names == tuple(str(stage) for stage in STAGE_ORDER)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[stage]]\nname = "build"\ncolour = "red"\n', "unknown stage 1 (build) key 'colour'"),
        ('[[stage]]\nname = "build"\n\n[[stage]]\nname = "compose"\ntimeout = "soon"\n',
         "wrong at stage 2 (compose) key 'timeout'"),
        ('[[stage]]\nname = "build"\nretries = -1\n', "wrong at stage 1 (build) key 'retries'"),
        ('[[stage]]\nname = "deploy"\n', "wrong at stage 1 (deploy) key 'name'"),
        ('[[stage]]\nname = "build"\n\n[[stage]]\nname = "build"\n', "lists stage 'build' twice"),
        ('[[stage]]\nname = "compose"\ninterval = 10\n', "gives stage 'compose' the key 'interval'"),
        ('steps = 3\n', "unknown steps"),
        ('[[stage]\nname = "build"\n', "is not valid TOML"),
    ],
    ids=["unknown-key", "bad-type", "out-of-range", "unknown-stage", "duplicate", "interval", "top-key",
         "toml"],
)
def test_each_mistake_is_one_config_error_naming_file_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_pipeline(path)
    message = str(caught.value)
    assert str(path) in message and expected in message, message
    assert "\n" not in message


def test_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"The pipeline file {tmp_path / 'nope.toml'} does not exist"):
        load_pipeline(tmp_path / "nope.toml")


def test_pipeline_for_reads_a_relative_file_from_the_state_directory(config: Config, tmp_path: Path) -> None:
    config.state_path.mkdir(parents=True, exist_ok=True)
    (config.state_path / "mine.toml").write_text('[[stage]]\nname = "build"\nrun = "true"\n')
    configured = stage_config(config, file="mine.toml")
    assert pipeline_for(configured).names == ("build",)
    assert pipeline_for(config).names == default_pipeline().names
