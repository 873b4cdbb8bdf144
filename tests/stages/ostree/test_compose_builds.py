"""The CI builds a compose takes: the scheduler's field, its checks, and where each repository is found."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.artifacts_http import ArtifactClient, pack_directory
from ci_pipeline.config import ArtifactsConfig, Config, WebConfig
from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.stages.ostree.compose_builds import (
    BUILDS_FIELD,
    compose_builds_field,
    locate_builds,
    requested_builds,
)

BASE = "http://a.test/artifacts"


def _config(tmp_path: Path) -> Config:
    return Config(
        artifacts=ArtifactsConfig(root=str(tmp_path / "artifacts"), base_url=BASE),
        web=WebConfig(base_url="http://a.test"),
    )


def _repo(directory: Path) -> Path:
    (directory / "repodata").mkdir(parents=True)
    (directory / "repodata" / "repomd.xml").write_text("<repomd/>")
    return directory


def test_the_field_holds_each_good_build_and_the_runs_own_in_place_of_its_package() -> None:
    good = [
        ("vim", {"build_repo_url": f"{BASE}/runs/1/build/repo/", "package_url": f"{BASE}/f26/repo/v_repo/"}),
        ("calc", {"package_url": f"{BASE}/f26/repo/calc_repo/"}),  # a build with no repository of its own
        ("none", {}),
    ]
    own = {"build_repo_url": f"{BASE}/runs/9/build/repo/"}
    field = compose_builds_field("calc", own, good)
    assert json.loads(field[BUILDS_FIELD]) == {
        "vim": f"{BASE}/runs/1/build/repo/",
        "calc": f"{BASE}/runs/9/build/repo/",
    }
    without_own = json.loads(compose_builds_field("x", {}, good)[BUILDS_FIELD])
    assert without_own["calc"] == f"{BASE}/f26/repo/calc_repo/"


def test_requested_builds_read_the_field_and_add_the_runs_own() -> None:
    fields = {
        BUILDS_FIELD: json.dumps({"vim": f"{BASE}/runs/1/build/repo/", "calc": f"{BASE}/runs/2/build/repo/"}),
        "repo": "calc",
        "build_repo_url": f"{BASE}/runs/3/build/repo/",
    }
    assert requested_builds(fields) == {
        "vim": f"{BASE}/runs/1/build/repo/",
        "calc": f"{BASE}/runs/3/build/repo/",
    }
    assert requested_builds({"repo": "vim", "package_url": f"{BASE}/f26/repo/vim_repo/"}) == {
        "vim": f"{BASE}/f26/repo/vim_repo/"
    }
    assert requested_builds({"branch": "f26"}) == {}


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        "[" * 100_000,
        "[]",
        '{"vim": 3}',
        '{"../x": "http://a.test/artifacts/x/"}',
        '{"-rf": "u"}',
        '{"": "u"}',
    ],
)
def test_a_malformed_field_is_refused_in_one_sentence(raw: str) -> None:
    with pytest.raises(StageFailure, match=BUILDS_FIELD):
        requested_builds({BUILDS_FIELD: raw})


@given(st.text(max_size=60))
def test_any_field_text_is_read_or_refused_cleanly(raw: str) -> None:
    try:
        builds = requested_builds({BUILDS_FIELD: raw})
    except StageFailure:
        return
    assert all(isinstance(url, str) and name and "/" not in name for name, url in builds.items())


def test_builds_are_found_in_the_artifact_root(tmp_path: Path) -> None:
    config = _config(tmp_path)
    repo = _repo(tmp_path / "artifacts" / "runs" / "1" / "build" / "repo")
    legacy = _repo(tmp_path / "artifacts" / "f26" / "repo" / "calc_repo")
    wanted = {"vim": f"{BASE}/runs/1/build/repo/", "calc": f"{BASE}/f26/repo/calc_repo"}
    builds = locate_builds(config, wanted)
    assert [(b.name, b.path) for b in builds] == [("calc", legacy), ("vim", repo)]


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://elsewhere.test/repo/", "not under the artifact base URL"),
        (f"{BASE}/f26/../../etc/", "not a plain relative path"),
    ],
)
def test_repositories_outside_the_artifacts_are_refused(tmp_path: Path, url: str, match: str) -> None:
    with pytest.raises(StageFailure, match=match):
        locate_builds(_config(tmp_path), {"vim": url})


def test_a_repository_this_root_lacks_is_fetched_from_the_artifact_server(tmp_path: Path) -> None:
    served = _repo(tmp_path / "server" / "repo")
    (served / "vim-1-1.noarch.rpm").write_bytes(b"rpm")
    asked = []

    def serve(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/artifacts-archive/runs/1/build/repo":
            packed = io.BytesIO()
            pack_directory(served, packed)
            return httpx.Response(200, content=packed.getvalue())
        return httpx.Response(404)

    config = _config(tmp_path)
    client = ArtifactClient(config, client=httpx.Client(transport=httpx.MockTransport(serve)))
    builds = locate_builds(config, {"vim": f"{BASE}/runs/1/build/repo/"}, client)
    assert builds[0].path == tmp_path / "artifacts" / "runs" / "1" / "build" / "repo"
    assert (builds[0].path / "vim-1-1.noarch.rpm").read_bytes() == b"rpm"
    assert asked == ["/artifacts-archive/runs/1/build/repo"]
    with pytest.raises(InfrastructureError, match=r"The calc build to compose .* could not be fetched"):
        locate_builds(config, {"calc": f"{BASE}/runs/2/build/repo/"}, client)
