"""The runs and db commands: show, log, rerun from a stage, list, cancel, upgrade."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ci_pipeline.bus.base import Bus
from ci_pipeline.bus.memory import MemoryBus
from ci_pipeline.cli import main
from ci_pipeline.config import load_config
from ci_pipeline.engine.core import Engine
from ci_pipeline.engine.definition import BUILTIN_STAGES, PipelineDefinition
from ci_pipeline.executors.local import LocalExecutor
from ci_pipeline.messages.topics import Stage
from ci_pipeline.store.db import Store, open_store

from .helpers import add_run, command_pipeline, drive, run_messages


def test_runs_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file = tmp_path / "ci.toml"
    config_file.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    assert main(["--config", str(config_file), "db", "upgrade"]) == 0
    config = load_config(config_file, environ={})
    store = open_store(config.store.url)
    bus = MemoryBus("memory://control-test")
    run_id = add_run(store)
    pipeline = command_pipeline({"compose": "echo composing; exit 1"})
    drive(Engine(config, store, bus, executor=LocalExecutor(1), pipeline=pipeline), bus)
    capsys.readouterr()

    assert main(["--config", str(config_file), "runs", "show", str(run_id), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [s["status"] for s in shown["stages"]][:3] == ["SUCCESS", "SUCCESS", "FAILURE"]
    assert main(["--config", str(config_file), "runs", "log", str(run_id), "--stage", "compose"]) == 0
    assert "composing" in capsys.readouterr().out
    assert main(["--config", str(config_file), "runs", "show", "999"]) == 1
    assert "There is no run 999" in capsys.readouterr().err
    assert main(["--config", str(config_file), "runs", "rerun", str(run_id), "--stage", "nope"]) == 1
    assert "has no stage 'nope'" in capsys.readouterr().err

    assert main(["--config", str(config_file), "runs", "rerun", str(run_id), "--stage", "compose"]) == 0
    drive(Engine(config, store, bus, executor=LocalExecutor(1), pipeline=command_pipeline()), bus)
    capsys.readouterr()
    assert run_messages(bus, "1")[-4:] == [
        "image.test.e2e.queued:SUCCESS",
        "image.test.e2e.running:SUCCESS",
        "image.test.e2e.complete:SUCCESS",
        "complete:SUCCESS",
    ]
    assert main(["--config", str(config_file), "runs", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["status"]) for r in listed] == [(run_id, "SUCCESS")]
    assert main(["--config", str(config_file), "runs", "show", str(run_id), "--json"]) == 0
    compose = json.loads(capsys.readouterr().out)["stages"][2]
    assert (compose["attempt"], compose["status"]) == (2, "SUCCESS")
    assert main(["--config", str(config_file), "runs", "cancel", str(run_id)]) == 1
    store.close()


@pytest.fixture
def cli_config(store: Store, tmp_path: Path) -> Path:
    """A configuration file whose store is the test's store (SQLite or PostgreSQL)."""
    path = tmp_path / "cli.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n[store]\nurl = "{store.url}"\n')
    return path


def cli(config_file: Path, *args: str) -> int:
    return main(["--config", str(config_file), "runs", *args])


@pytest.mark.parametrize(
    "args",
    [["show", "999"], ["show", "999", "--json"], ["log", "999", "--stage", "build"], ["cancel", "999"],
     ["rerun", "999", "--stage", "build"]],
    ids=["show", "show-json", "log", "cancel", "rerun"],
)
def test_an_unknown_run_is_one_sentence_and_a_non_zero_exit(
    cli_config: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert cli(cli_config, *args) != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "ci-pipeline: There is no run 999; see ci-pipeline runs.\n"


def test_show_and_log_a_run_with_its_tests(
    cli_config: Path,
    store: Store,
    bus: Bus,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1] / "executors"))
    monkeypatch.setitem(BUILTIN_STAGES, Stage.FUNCTIONAL, "fake_builtin_stage:run")
    config = load_config(cli_config, environ={})
    pipeline = command_pipeline({"build": "echo building vim"})
    pipeline = PipelineDefinition(tuple(
        replace(spec, command=None) if spec.name == Stage.FUNCTIONAL else spec for spec in pipeline.stages
    ))
    run_id = add_run(store)
    drive(Engine(config, store, bus, executor=LocalExecutor(1), pipeline=pipeline), bus)
    capsys.readouterr()

    assert cli(cli_config, "show", str(run_id), "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    stages = {stage["stage"]: stage for stage in shown["stages"]}
    assert (shown["id"], shown["status"], stages["functional"]["attempt"]) == (run_id, "SUCCESS", 1)
    assert stages["functional"]["tests"] == [
        {"name": "boots", "outcome": "PASSED", "duration": 0.25, "log": "it booted"},
        {"name": "ssh", "outcome": "FAILED", "duration": 1.5, "log": "connection refused"},
    ]
    assert stages["build"]["tests"] == []

    assert cli(cli_config, "show", str(run_id)) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Run {run_id}: vim ")
    assert "    test boots: PASSED (0.25s)\n    test ssh: FAILED (1.50s)\n" in text
    assert "    marker = abc123\n" in text

    assert cli(cli_config, "log", str(run_id), "--stage", "build") == 0
    assert capsys.readouterr().out == "building vim\n"
    assert cli(cli_config, "log", str(run_id), "--stage", "deploy") == 1
    assert capsys.readouterr().err == f"ci-pipeline: Run {run_id} has no stage 'deploy'.\n"


def test_cancel_and_rerun_through_the_command_line(
    cli_config: Path, store: Store, bus: Bus, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_config(cli_config, environ={})
    run_id = add_run(store)
    engine = Engine(config, store, bus, executor=LocalExecutor(1),
                    pipeline=command_pipeline({"functional": "sleep 1000.5151"}))
    for _ in range(300):
        engine.tick(wait=0.02)
        if engine.executor.running() == {(run_id, "functional")}:
            break
    assert cli(cli_config, "rerun", str(run_id), "--stage", "build") == 2  # a usage mistake
    assert capsys.readouterr().err == (
        f"ci-pipeline: Run {run_id} is still running; cancel it or wait before running it again.\n"
    )
    assert cli(cli_config, "cancel", str(run_id)) == 0
    assert capsys.readouterr().out == f"Run {run_id} will be aborted.\n"
    drive(engine, bus)
    assert run_messages(bus, "1")[-2:] == ["package.test.functional.complete:ABORTED", "complete:ABORTED"]
    assert not engine.executor.running()
    assert cli(cli_config, "cancel", str(run_id)) == 1
    assert capsys.readouterr().err == f"ci-pipeline: Run {run_id} is already complete.\n"

    assert cli(cli_config, "rerun", str(run_id), "--stage", "functional") == 0
    assert capsys.readouterr().out == f"Run {run_id} runs again from its functional stage.\n"
    drive(Engine(config, store, bus, executor=LocalExecutor(1), pipeline=command_pipeline()), bus)
    assert run_messages(bus, "1")[-1] == "complete:SUCCESS"
    assert cli(cli_config, "show", str(run_id), "--json") == 0
    stages = json.loads(capsys.readouterr().out)["stages"]
    assert [(s["stage"], s["attempt"], s["status"]) for s in stages][:3] == [
        ("build", 1, "SUCCESS"), ("functional", 2, "SUCCESS"), ("compose", 1, "SUCCESS")
    ]
