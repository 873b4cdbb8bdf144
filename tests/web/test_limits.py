"""Request limits: bodies over their limit, NUL bytes and ids no store can hold are 4xx, never 500."""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from web_fixtures import TOKEN

from ci_pipeline.config import Config
from ci_pipeline.store.db import Store
from ci_pipeline.web.limits import body_limit, declared_length, holds_nul
from ci_pipeline.web.server import start_web_server

REQUEST_LIMIT = 4096
UPLOAD_LIMIT = 64 * 1024
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HUGE_ID = "99999999999999999999"


@pytest.fixture
def small(web_config: Config, sqlite_store: Store) -> Iterator[tuple[httpx.Client, int]]:
    """A client of an app with small body limits, and the port it listens on."""
    web = web_config.web.model_copy(
        update={"max_request_bytes": REQUEST_LIMIT, "max_upload_bytes": UPLOAD_LIMIT}
    )
    server = start_web_server(web_config.model_copy(update={"web": web}), sqlite_store)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
            yield http, server.port
    finally:
        server.stop()


def chunks(total: int, size: int = 1024) -> Iterator[bytes]:
    """``total`` bytes in pieces, so that httpx sends them chunked (no Content-Length)."""
    while total > 0:
        yield b"x" * min(size, total)
        total -= size


def test_a_trigger_body_over_the_limit_is_413_however_it_is_sent(small: tuple[httpx.Client, int]) -> None:
    http, _port = small
    with_length = http.post("/api/v1/trigger", content=b"x" * (REQUEST_LIMIT + 1))
    chunked = http.post("/api/v1/trigger", content=chunks(REQUEST_LIMIT * 4))
    assert "content-length" not in chunked.request.headers
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    for answer in (with_length, chunked):
        assert answer.status_code == 413, answer.text
        assert answer.json()["detail"] == f"The request body is larger than {REQUEST_LIMIT} bytes."


def test_a_body_within_the_limit_still_works(small: tuple[httpx.Client, int]) -> None:
    http, _port = small
    body = json.dumps({"repo": "vim", "rev": "a" * 40, "branch": "f26"}).encode()
    answer = http.post(
        "/api/v1/trigger", content=iter([body]), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] in ("queued", "ignore") and answer.json()["reason"]


def test_uploads_over_their_limit_are_413_and_leave_nothing(
    small: tuple[httpx.Client, int], web_config: Config
) -> None:
    http, _port = small
    with_length = http.put("/artifacts/f26/big.bin", content=b"x" * (UPLOAD_LIMIT + 1), headers=AUTH)
    chunked = http.put("/artifacts/f26/big.bin", content=chunks(UPLOAD_LIMIT * 2, 8192), headers=AUTH)
    tar = http.put("/artifacts/f26/tree", content=chunks(UPLOAD_LIMIT * 2, 8192),
                   headers={**AUTH, "Content-Type": "application/x-tar"})
    assert [with_length.status_code, chunked.status_code, tar.status_code] == [413, 413, 413]
    left = [p.name for p in Path(web_config.artifacts.root).rglob("*") if p.is_file()]
    assert left == []
    fits = http.put("/artifacts/f26/small.bin", content=chunks(UPLOAD_LIMIT, 8192), headers=AUTH)
    assert fits.status_code == 201
    assert (Path(web_config.artifacts.root) / "f26/small.bin").stat().st_size == UPLOAD_LIMIT


def test_a_huge_chunked_body_is_refused_long_before_it_is_sent(small: tuple[httpx.Client, int]) -> None:
    """The server answers 413 after the limit, without taking the rest of a 200 MB body."""
    _http, port = small
    total = 200 * 1024 * 1024
    piece = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"POST /api/v1/trigger HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            while sent < total and not select.select([conn], [], [], 0)[0]:
                conn.sendall(piece)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection after answering
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < total // 4


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/runs?repo=%00",
        "/api/v1/runs?branch=f26%00",
        "/api/v1/decisions?repo=%00x",
        "/api/v1/messages?topic=%00",
        "/api/v2.0/results?item=%00",
        "/api/v2.0/results?testcases=a%00",
        "/api/v2.0/results/latest?type=%00",
        "/api/v2.0/testcases?name=%00",
        "/api/v2.0/testcases/a%00b",
        "/api/v2.0/groups?uuid=%00",
        "/api/v2.0/groups/%00",
        "/api/v1/runs/1/stages/%00/log",
        "/decisions?repo=%00",
        "/?repo=%00",
    ],
)
def test_a_nul_byte_in_a_path_or_query_is_400(any_client: httpx.Client, path: str) -> None:
    answer = any_client.get(path)
    assert answer.status_code == 400, answer.text
    assert "NUL" in answer.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/runs/{HUGE_ID}",
        f"/api/v1/runs/{HUGE_ID}/messages",
        f"/api/v1/runs/{HUGE_ID}/tests",
        f"/api/v1/runs/{HUGE_ID}/artifacts",
        f"/api/v1/runs/{HUGE_ID}/stages/build/log",
        f"/api/v1/runs/{HUGE_ID}/stages/build/log/stream",
        f"/api/v2.0/results/{HUGE_ID}",
        f"/runs/{HUGE_ID}",
        f"/decisions/{HUGE_ID}",
        f"/job/ci-pipeline-f26/{HUGE_ID}",
    ],
)
def test_a_twenty_digit_id_is_400(any_client: httpx.Client, path: str) -> None:
    answer = any_client.get(path)
    assert answer.status_code == 400, answer.text
    assert "less than or equal to" in answer.json()["detail"]


def test_a_twenty_digit_id_in_a_write_is_400(any_client: httpx.Client) -> None:
    cancel = any_client.post(f"/api/v1/runs/{HUGE_ID}/cancel", headers=AUTH)
    rerun = any_client.post(f"/api/v1/runs/{HUGE_ID}/rerun", headers=AUTH, json={"stage": "build"})
    assert [cancel.status_code, rerun.status_code] == [400, 400]


def test_a_value_the_store_cannot_keep_is_4xx_not_500(any_client: httpx.Client) -> None:
    """A NUL inside a JSON body reaches the store: PostgreSQL refuses it, and that is a 400."""
    answer = any_client.post(
        "/api/v2.0/results", headers=AUTH, json={"outcome": "PASSED", "testcase": "t", "note": "a\u0000b"}
    )
    assert answer.status_code in (201, 400), answer.text
    if answer.status_code == 400:
        assert "cannot keep" in answer.json()["detail"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(number=st.integers(min_value=-(10**30), max_value=10**30))
@example(number=2**31 - 1)
@example(number=2**31)
@example(number=2**63 - 1)
@example(number=2**63)
@example(number=-1)
def test_any_id_is_a_404_or_400_never_500(any_client: httpx.Client, number: int) -> None:
    paths = ("/api/v1/runs/", "/api/v2.0/results/", "/runs/", "/decisions/", "/job/ci-pipeline-f26/")
    for path in paths:
        answer = any_client.get(f"{path}{number}", follow_redirects=False)
        largest = 2**31 - 1 if path.startswith("/job/") else 2**63 - 1  # build ids are 32-bit
        if 0 <= number <= largest:
            assert answer.status_code in (200, 302, 404), (path, answer.text)
            assert answer.status_code == 404 or number in (1, 2)
        else:
            assert answer.status_code == 400, (path, answer.text)


@given(text=st.text(max_size=40))
def test_holds_nul_sees_a_nul_in_the_path_or_the_encoded_query(text: str) -> None:
    assert holds_nul({"path": "/", "query_string": f"q={quote(text)}".encode()}) == ("\0" in text)
    assert holds_nul({"path": f"/{text}", "query_string": b""}) == ("\0" in text)


@given(number=st.integers(min_value=0, max_value=10**25))
def test_declared_length_reads_a_content_length(number: int) -> None:
    scope = {"headers": [(b"host", b"x"), (b"content-length", str(number).encode())]}
    assert declared_length(scope) == (number if number < 10**19 else None)
    assert declared_length({"headers": [(b"host", b"x")]}) is None


@given(value=st.binary(max_size=20))
def test_declared_length_is_none_unless_it_is_ascii_digits(value: bytes) -> None:
    assume(not value.strip().isdigit())
    assert declared_length({"headers": [(b"content-length", value)]}) is None
    assert declared_length({"headers": [(b"content-length", "²".encode("latin-1"))]}) is None


def test_uploads_have_their_own_limit() -> None:
    assert body_limit("PUT", "/artifacts/f26/x", 10, 20) == 20
    assert body_limit("POST", "/artifacts/f26/x", 10, 20) == 10
    assert body_limit("PUT", "/api/v1/trigger", 10, 20) == 10
