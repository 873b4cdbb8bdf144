"""With no token configured every write is refused with a sentence saying how to enable writes."""

from __future__ import annotations

import httpx

from ci_pipeline.config import Config
from ci_pipeline.store.db import Store
from ci_pipeline.web.server import start_web_server


def test_writes_refused_without_a_configured_token(config: Config, sqlite_store: Store) -> None:
    web = config.web.model_copy(update={"listen": "127.0.0.1:0"})
    server = start_web_server(config.model_copy(update={"web": web}), sqlite_store)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as http:
            response = http.post("/api/v1/runs/1/cancel", headers={"Authorization": "Bearer x"})
            posted = http.post("/api/v2.0/results", json={"outcome": "PASSED", "testcase": "t"})
            waiver = {"subject_type": "koji_build", "subject_identifier": "vim-1-1.fc26", "testcase": "t",
                      "product_version": "fedora-26", "comment": "known"}
            waived = http.post("/api/v1.0/waivers/", json=waiver, headers={"Authorization": "Bearer x"})
            assert http.get("/api/v1/runs").status_code == 200
    finally:
        server.stop()
    assert response.status_code == 403 and "[web] token" in response.json()["detail"]
    assert posted.status_code == 403
    assert waived.status_code == 403 and "[web] token" in waived.json()["detail"]
