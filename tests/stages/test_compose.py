"""Unit tests of the compose stage's pure parts: treefile, dnf command, tree shape, package lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.config import ArtifactsConfig, Config, TriggerConfig
from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import compose
from ci_pipeline.stages.base import StageContext

REF = "fedora/f26/x86_64/atomic-host"


def _context(tmp_path: Path, fields: dict[str, str], treefile: str = "") -> StageContext:
    config = Config(
        artifacts=ArtifactsConfig(root=str(tmp_path / "artifacts"), base_url="http://a.test/x"),
        trigger=TriggerConfig(treefile=treefile),
    )
    (tmp_path / "work").mkdir(exist_ok=True)
    return StageContext(
        run_id=1,
        stage="compose",
        attempt=1,
        fields=fields,
        workdir=tmp_path / "work",
        artifacts_dir=tmp_path / "out",
        artifacts_url="http://a.test/run",
        log_path=tmp_path / "log",
        config=config,
    )


def test_compose_without_treefile_is_a_failure(tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match="No treefile"):
        compose.run(_context(tmp_path, {"branch": "f26"}))
