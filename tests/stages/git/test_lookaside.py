"""The ``sources`` parser, lookaside URLs, and fetching with checksum verification."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.stages.git.lookaside import (
    ALGORITHMS,
    SourceFile,
    check_filename,
    fetch_source,
    fetch_sources,
    parse_sources,
    source_url,
)

FEDORA_TEMPLATE = "https://src.example/repo/pkgs/{namespace}/{repo}/{filename}/{hashtype}/{hash}/{filename}"
filenames = st.from_regex(r"[A-Za-z0-9_+][A-Za-z0-9_.+ -]{0,40}[A-Za-z0-9_+]", fullmatch=True).filter(
    lambda name: ".." not in name
)
algorithms = st.sampled_from(sorted(ALGORITHMS))


@st.composite
def source_files(draw: st.DrawFn) -> SourceFile:
    algorithm = draw(algorithms)
    digits = 2 * hashlib.new(algorithm).digest_size
    digest = draw(st.text(alphabet="0123456789abcdef", min_size=digits, max_size=digits))
    return SourceFile(draw(filenames), algorithm, digest)


def render(source: SourceFile, old_style: bool) -> str:
    if old_style:
        return f"{source.digest}  {source.filename}"
    return f"{source.algorithm.upper()} ({source.filename}) = {source.digest}"


@given(st.lists(source_files(), max_size=5), st.data())
def test_parse_sources_round_trips_both_forms(sources: list[SourceFile], data: st.DataObject) -> None:
    lines = []
    expected = []
    for source in sources:
        old_style = source.algorithm == "md5" and data.draw(st.booleans())
        lines.append(render(source, old_style))
        expected.append(source)
    assert parse_sources("\n".join(lines) + "\n\n") == expected


def test_parse_sources_reads_fedora_examples() -> None:
    text = (
        "d8884786979e0e520c112faf2e176f05  vim-7.4.tar.bz2\nSHA512 (vim-7.4-160.tar.xz) = " + "ab" * 64 + "\n"
    )
    assert parse_sources(text) == [
        SourceFile("vim-7.4.tar.bz2", "md5", "d8884786979e0e520c112faf2e176f05"),
        SourceFile("vim-7.4-160.tar.xz", "sha512", "ab" * 64),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "SHA512 (../etc/passwd) = " + "ab" * 64,
        "SHA512 (a/b.tar) = " + "ab" * 64,
        "d8884786979e0e520c112faf2e176f05  ../x.tar",
        "d8884786979e0e520c112faf2e176f05  dir/x.tar",
        "SHA512 (..) = " + "ab" * 64,
        "SHA512 (x.tar) = abcd",
        "WHIRLPOOL (x.tar) = " + "ab" * 64,
        "just words",
        "d888478697  short-md5.tar",
    ],
)
def test_parse_sources_rejects_bad_lines(line: str) -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_sources("d8884786979e0e520c112faf2e176f05  ok.tar\n" + line + "\n")


@given(st.text(max_size=15), st.sampled_from(["/", "..", "\\"]), st.text(max_size=15))
def test_check_filename_rejects_every_slash_or_dotdot(before: str, bad: str, after: str) -> None:
    with pytest.raises(ValueError):
        check_filename(before + bad + after)


def test_source_url_fills_the_fedora_form_and_quotes_for_http() -> None:
    source = SourceFile("vim 7.4.tar.bz2", "sha512", "ab" * 64)
    assert source_url(FEDORA_TEMPLATE, "rpms", "vim", source) == (
        "https://src.example/repo/pkgs/rpms/vim/vim%207.4.tar.bz2/sha512/" + "ab" * 64 + "/vim%207.4.tar.bz2"
    )
    assert source_url("/srv/{repo}/{filename}", "rpms", "vim", source) == "/srv/vim/vim 7.4.tar.bz2"


def _cached(tmp_path: Path, payload: bytes) -> tuple[SourceFile, Path]:
    source = SourceFile("pkg 1.0.tar.gz", "sha256", hashlib.sha256(payload).hexdigest())
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    return source, checkout


def test_fetch_source_from_a_file_url(tmp_path: Path) -> None:
    source, checkout = _cached(tmp_path, b"tarball")
    cached = tmp_path / "cache" / source.filename
    cached.parent.mkdir()
    cached.write_bytes(b"tarball")
    url = source_url(f"file://{tmp_path}/cache/{{filename}}", "rpms", "pkg", source)
    assert fetch_source(url, source, checkout).read_bytes() == b"tarball"


def test_fetch_source_mismatch_names_the_file_and_leaves_nothing(tmp_path: Path) -> None:
    source, checkout = _cached(tmp_path, b"tarball")
    (tmp_path / "evil.tar").write_bytes(b"tampered")
    with pytest.raises(StageFailure, match=r"pkg 1\.0\.tar\.gz .*does not match its sha256 checksum"):
        fetch_source(str(tmp_path / "evil.tar"), source, checkout)
    assert list(checkout.iterdir()) == []


def test_fetch_source_does_not_follow_a_committed_symlink(tmp_path: Path) -> None:
    source, checkout = _cached(tmp_path, b"tarball")
    outside = tmp_path / "outside"
    outside.write_bytes(b"keep me")
    (checkout / source.filename).symlink_to(outside)
    (tmp_path / "good.tar").write_bytes(b"tarball")
    fetched = fetch_source(str(tmp_path / "good.tar"), source, checkout)
    assert not fetched.is_symlink() and outside.read_bytes() == b"keep me"


def _client(status: int, body: bytes) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(status, content=body)))


def test_fetch_source_over_http(tmp_path: Path) -> None:
    source, checkout = _cached(tmp_path, b"tarball")
    with _client(200, b"tarball") as client:
        assert fetch_source("http://cache.example/x", source, checkout, client).read_bytes() == b"tarball"


def test_fetch_source_http_404_is_a_stage_failure(tmp_path: Path) -> None:
    source, checkout = _cached(tmp_path, b"tarball")
    with _client(404, b"") as client, pytest.raises(StageFailure, match="not in the lookaside cache"):
        fetch_source("http://cache.example/x", source, checkout, client)


def test_fetch_source_http_server_error_is_retryable(tmp_path: Path) -> None:
    source, checkout = _cached(tmp_path, b"tarball")
    with _client(503, b"") as client, pytest.raises(InfrastructureError, match="answered 503"):
        fetch_source("http://cache.example/x", source, checkout, client)


def test_fetch_sources_reports_a_malformed_sources_file(tmp_path: Path) -> None:
    (tmp_path / "sources").write_text("SHA512 (../../x) = " + "ab" * 64 + "\n")
    with pytest.raises(StageFailure, match="'sources' file of pkg is malformed"):
        fetch_sources("/nowhere/{filename}", "rpms", "pkg", tmp_path)


def test_fetch_sources_without_sources_file_fetches_nothing(tmp_path: Path) -> None:
    assert fetch_sources("/nowhere/{filename}", "rpms", "pkg", tmp_path) == []


def test_fetch_sources_over_a_real_http_server(tmp_path: Path) -> None:
    payload = b"tarball over http"
    digest = hashlib.sha512(payload).hexdigest()
    cache = tmp_path / "cache" / "rpms" / "pkg" / "pkg-1.0.tar.gz" / "sha512" / digest
    cache.mkdir(parents=True)
    (cache / "pkg-1.0.tar.gz").write_bytes(payload)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "sources").write_text(f"SHA512 (pkg-1.0.tar.gz) = {digest}\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path / "cache"))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.server_address[1]
            template = f"http://127.0.0.1:{port}/{{namespace}}/{{repo}}/{{filename}}/{{hashtype}}/{{hash}}/{{filename}}"
            fetched = fetch_sources(template, "rpms", "pkg", checkout)
        finally:
            server.shutdown()
            thread.join()
    assert [path.read_bytes() for path in fetched] == [payload]


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    try:
        sources = parse_sources(text)
    except ValueError:
        return
    assert all("/" not in source.filename and ".." not in source.filename for source in sources)
