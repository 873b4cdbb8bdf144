"""Stage contexts for unit tests, everything under one temporary directory: ``work/``, ``out/`` (the
artifacts) and ``log``; and a compose stage's context, with an artifact root and a treefile."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci_pipeline.config import ArtifactsConfig, Config, TriggerConfig
from ci_pipeline.stages.base import StageContext

REF = "fedora/f26/x86_64/atomic-host"


def tmp_context(
    tmp_path: Path, stage: str, fields: Mapping[str, str], config: Config, **kwargs: Any
) -> StageContext:
    """The context of an attempt of ``stage`` (run 1, attempt 1 unless ``kwargs`` say otherwise)."""
    (tmp_path / "work").mkdir(exist_ok=True)
    values: dict[str, Any] = {"run_id": 1, "attempt": 1, "artifacts_url": "http://a.test/run", **kwargs}
    return StageContext(
        stage=stage,
        fields=fields,
        workdir=tmp_path / "work",
        artifacts_dir=tmp_path / "out",
        log_path=tmp_path / "log",
        config=config,
        **values,
    )


def compose_context(tmp_path: Path, fields: dict[str, str], treefile: str = "") -> StageContext:
    """The context of a compose attempt of run 1, everything under ``tmp_path``."""
    config = Config(
        artifacts=ArtifactsConfig(root=str(tmp_path / "artifacts"), base_url="http://a.test/x"),
        trigger=TriggerConfig(treefile=treefile),
    )
    return tmp_context(tmp_path, "compose", fields, config)
