"""POST /api/v1.0/decision with Fedora's policies: gating.yaml read from the configured dist-git."""

from __future__ import annotations

from pathlib import Path

import httpx

from ci_pipeline.config import Config
from ci_pipeline.store.db import Store
from ci_pipeline.web.server import start_web_server

from .helpers import DATA, NVR, add_build, add_result, distgit_commit, policy_text


def test_a_remote_rule_reads_gating_yaml_from_the_configured_dist_git(
    config: Config, sqlite_store: Store
) -> None:
    root = Path(config.distgit.url.removeprefix("file://").split("/{namespace}")[0])
    rev = distgit_commit(root, "ci-calc", {"gating.yaml": policy_text("package-gating.yaml")})
    add_build(sqlite_store, NVR, "ci-calc", rev)
    add_result(sqlite_store, NVR, "dist.rpminspect", "FAILED")
    web = config.web.model_copy(update={"listen": "127.0.0.1:0"})
    server = start_web_server(
        config.model_copy(update={"web": web}), sqlite_store, policy_file=DATA / "fedora.yaml"
    )
    ask = {
        "decision_context": "bodhi_update_push_stable",
        "product_version": "fedora-26",
        "subject": [{"type": "koji_build", "item": NVR}],
    }
    try:
        answer = httpx.post(f"http://127.0.0.1:{server.port}/api/v1.0/decision", json=ask).json()
    finally:
        server.stop()
    assert answer["summary"] == "Of 2 required tests, 1 test failed, 1 result missing"
    assert {r["type"] for r in answer["unsatisfied_requirements"]} == {
        "test-result-failed",
        "test-result-missing",
    }
    assert answer["unsatisfied_requirements"][0]["source"] == config.distgit.url.format(
        namespace="rpms", repo="ci-calc"
    )
