"""Where builds and branch artifacts live under the artifact root."""

from __future__ import annotations

from pathlib import Path

from ci_pipeline.config import ArtifactsConfig, Config
from ci_pipeline.stages.artifacts import artifact_root, repo_location
from ci_pipeline.stages.fields import Change
from stages.field_values import GOOD


def test_repo_location_mirrors_the_seed_package_url(tmp_path: Path) -> None:
    config = Config().model_copy(
        update={
            "artifacts": ArtifactsConfig(
                root=str(tmp_path), base_url="http://artifacts.ci.centos.org/fedora-atomic"
            )
        }
    )
    directory, url = repo_location(config, Change(**GOOD))
    assert directory == tmp_path / "f26" / "repo" / "vim_repo"
    assert url == "http://artifacts.ci.centos.org/fedora-atomic/f26/repo/vim_repo/"


def test_relative_artifact_root_is_under_the_state_directory(tmp_path: Path) -> None:
    config = Config(state_dir=str(tmp_path)).model_copy(update={"artifacts": ArtifactsConfig(root="art")})
    assert artifact_root(config) == tmp_path / "art"
