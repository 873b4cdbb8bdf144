"""A compose stage's context for unit tests: a configuration with an artifact root and a treefile."""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.config import ArtifactsConfig, Config, TriggerConfig
from ci_pipeline.stages.base import StageContext

REF = "fedora/f26/x86_64/atomic-host"


def compose_context(tmp_path: Path, fields: dict[str, str], treefile: str = "") -> StageContext:
    """The context of a compose attempt of run 1, everything under ``tmp_path``."""
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
