"""The runs and db commands: show, log, rerun from a stage, list, cancel, upgrade."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_pipeline.bus.memory import MemoryBus
from ci_pipeline.cli import main
from ci_pipeline.config import load_config
from ci_pipeline.engine.core import Engine
from ci_pipeline.executors.local import LocalExecutor
from ci_pipeline.store.db import open_store

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
