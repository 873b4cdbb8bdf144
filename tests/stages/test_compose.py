"""Unit tests of the compose stage's pure parts: treefile, dnf command, tree shape, package lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import compose
from stages.contexts import compose_context


def test_compose_without_treefile_is_a_failure(tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match="No treefile"):
        compose.run(compose_context(tmp_path, {"branch": "f26"}))
