"""The stages' view of the treefile: the run's architecture and release, failures as stage failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_pipeline.config import Config, PipelineConfig, TriggerConfig
from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.base import StageContext
from ci_pipeline.stages.ostree.treefile import load_treefile, run_treefile


def _context(tmp_path: Path, treefile: Path, branch: str) -> StageContext:
    config = Config(
        trigger=TriggerConfig(treefile=str(treefile)), pipeline=PipelineConfig(arch="aarch64", rawhide=29)
    )
    return StageContext(
        run_id=1,
        stage="compose",
        attempt=1,
        fields={"branch": branch},
        workdir=tmp_path,
        artifacts_dir=tmp_path / "out",
        artifacts_url="http://a.test/run",
        log_path=tmp_path / "log",
        config=config,
    )


@pytest.mark.parametrize(
    ("branch", "ref"), [("f26", "fedora/26/aarch64/atomic-host"), ("master", "fedora/29/aarch64/atomic-host")]
)
def test_the_run_treefile_takes_the_pipeline_arch_and_the_branch_release(
    tmp_path: Path, branch: str, ref: str
) -> None:
    treefile = tmp_path / "t.json"
    treefile.write_text(json.dumps({"ref": "fedora/${releasever}/${basearch}/atomic-host"}))
    assert run_treefile(_context(tmp_path, treefile, branch)).ref == ref


def test_missing_treefile_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(StageFailure, match=r"trigger\.treefile"):
        load_treefile(tmp_path / "nope.json")


def test_a_broken_treefile_fails_the_stage_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "t.json").write_text(json.dumps({"ref": "a/b", "include": "t.json"}))
    with pytest.raises(StageFailure, match="includes itself in a cycle"):
        load_treefile(tmp_path / "t.json")
