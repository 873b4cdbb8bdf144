"""Binary -> source package mapping from yum repo metadata: parsing, provides, cache, errors."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_pipeline.errors import ConfigError
from ci_pipeline.repodata import iter_primary, primary_location, source_name, source_packages
from repo_metadata import OPENSSH, Package, primary_xml, write_repo

names = st.from_regex(r"[a-z][a-z0-9+_.-]{0,20}", fullmatch=True).filter(lambda n: not n.endswith("-"))
capabilities = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30)


@st.composite
def packages(draw: st.DrawFn) -> list[Package]:
    chosen = draw(st.lists(names, unique=True, max_size=12))
    result = []
    for name in chosen:
        source = draw(names)
        version = draw(st.from_regex(r"[0-9][0-9a-z.~^+]{0,8}", fullmatch=True))
        provides = draw(st.lists(capabilities.filter(lambda c: c.strip() == c), max_size=4))
        files = draw(st.lists(st.from_regex(r"/usr/bin/[a-z0-9&<>._-]{1,10}", fullmatch=True), max_size=2))
        result.append((name, f"{source}-{version}-1.fc26.src.rpm", provides, files))
    return result


@settings(max_examples=60, deadline=None)
@given(packages())
def test_primary_parses_to_names_sources_and_provides(generated: list[Package]) -> None:
    parsed = list(iter_primary(io.BytesIO(primary_xml(generated))))
    expected = [
        (name, sourcerpm.rsplit("-", 2)[0], [*provides, *files])
        for name, sourcerpm, provides, files in generated
    ]
    assert parsed == expected


VERSIONS = st.from_regex(r"[0-9][0-9a-z.]{0,6}", fullmatch=True)


@given(names, VERSIONS, st.sampled_from([".src.rpm", ".nosrc.rpm"]))
def test_source_name_strips_version_release_and_suffix(name: str, version: str, suffix: str) -> None:
    assert source_name(f"{name}-{version}-3.fc26{suffix}") == name


KINDS = ["primary", "filelists", "other", "primary_db", "updateinfo", "group", "modules"]


@given(
    st.lists(st.sampled_from(KINDS), unique=True, min_size=1),
    st.sampled_from(["sha256", "sha512", "sha"]),
    st.from_regex(r"[0-9a-f]{40,128}", fullmatch=True),
)
def test_repomd_names_its_primary_among_other_metadata(kinds: list[str], hashtype: str, value: str) -> None:
    data = "".join(
        f'<data type="{kind}">'
        f'<checksum type="{hashtype}">{value if kind == "primary" else "0" * 64}</checksum>'
        f'<open-checksum type="sha256">{"1" * 64}</open-checksum>'
        f'<location href="repodata/{kind}.xml.gz"/><timestamp>1500000000</timestamp></data>'
        for kind in kinds
    )
    repomd = f'<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1</revision>{data}</repomd>'
    if "primary" in kinds:
        assert primary_location(repomd.encode(), "here") == ("repodata/primary.xml.gz", f"{hashtype}:{value}")
    else:
        with pytest.raises(ValueError, match="names no primary metadata"):
            primary_location(repomd.encode(), "here")


@pytest.mark.parametrize("bad", ["openssh.src.rpm", "openssh-7.5p1.src.rpm", "openssh-1-2.x86_64.rpm", ""])
def test_source_name_refuses_what_is_not_a_source_rpm(bad: str) -> None:
    assert source_name(bad) is None


@pytest.mark.parametrize("compress", ["gz", "xz", "bz2", "zst", ""])
def test_binaries_map_to_their_sources_and_say_why(tmp_path: Path, compress: str) -> None:
    repo = write_repo(tmp_path / "repo", OPENSSH, compress)
    binaries = ["openssh-server", "openssh-clients", "vim-minimal"]
    found = source_packages([repo.as_uri()], binaries, tmp_path / "c")
    assert found.sources == {"openssh", "vim"}
    assert found.why("openssh") == ("openssh-clients", "openssh-server")
    assert found.why("vim") == ("vim-minimal",)
    assert found.why("kernel") == ()
    assert found.unresolved == frozenset()


def test_provides_and_file_paths_resolve_and_the_rest_is_unresolved(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", OPENSSH)
    found = source_packages([repo.as_uri()], ["vi", "/usr/sbin/sshd", "no-such-thing"], tmp_path / "c")
    assert found.sources == {"vim", "openssh"}
    assert found.why("vim") == ("vi",) and found.why("openssh") == ("/usr/sbin/sshd",)
    assert found.unresolved == {"no-such-thing"}
    # The same answer from the cache.
    again = source_packages([repo.as_uri()], ["vi", "/usr/sbin/sshd", "no-such-thing"], tmp_path / "c")
    assert (again.by_source, again.unresolved) == (found.by_source, found.unresolved)


def test_a_file_name_with_a_line_break_is_left_out_of_the_provides(tmp_path: Path) -> None:
    files = ["/usr/bin/odd\nname", "/usr/bin/odd\tname", "/usr/bin/plain"]
    repo = write_repo(tmp_path / "repo", [("odd", "odd-1-1.fc26.src.rpm", [], files)])
    found = source_packages([repo.as_uri()], files, tmp_path / "c")
    assert found.sources == {"odd"} and found.why("odd") == ("/usr/bin/plain",)
    assert found.unresolved == {"/usr/bin/odd\nname", "/usr/bin/odd\tname"}


def test_a_binary_is_looked_up_in_every_repo(tmp_path: Path) -> None:
    base = write_repo(tmp_path / "base", OPENSSH)
    updates = write_repo(tmp_path / "updates", [("cri-o", "cri-o-1.0-1.fc26.src.rpm", [], [])])
    found = source_packages([base.as_uri(), updates.as_uri()], ["cri-o", "vim-minimal"], tmp_path / "c")
    assert found.sources == {"cri-o", "vim"}


def test_a_second_start_reads_only_repomd_until_its_checksum_changes(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", OPENSSH)
    cache = tmp_path / "cache"
    assert source_packages([repo.as_uri()], ["vim-minimal"], cache).sources == {"vim"}
    # The primary file gone: only the cache (keyed by repomd's checksum) can answer.
    for primary in (repo / "repodata").glob("*primary*"):
        primary.unlink()
    assert source_packages([repo.as_uri()], ["vim-minimal"], cache).sources == {"vim"}
    # New metadata (a new checksum): read again, and the old cache files are dropped.
    write_repo(repo, [("vim-minimal", "vim-enhanced-9.0-1.fc27.src.rpm", [], [])])
    assert source_packages([repo.as_uri()], ["vim-minimal"], cache).sources == {"vim-enhanced"}
    [repo_cache] = [d for d in cache.iterdir() if d.is_dir()]
    assert len(list(repo_cache.iterdir())) == 2  # one names file, one provides file


def test_a_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", OPENSSH)
    cache = tmp_path / "cache"
    source_packages([repo.as_uri()], ["vim-minimal"], cache)
    [names] = cache.glob("*/*.names.json")
    names.write_text("[")
    assert source_packages([repo.as_uri()], ["vim-minimal"], cache).sources == {"vim"}


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        ("missing", "No such file or directory"),
        ("not-xml", "repomd.xml is not XML"),
        ("no-primary", "names no primary metadata"),
        ("checksum", "does not match the checksum"),
        ("bad-primary", "is not valid primary metadata"),
        ("zstd", "cannot be decompressed"),
    ],
)
def test_an_unreadable_repo_is_one_config_error(tmp_path: Path, breakage: str, reason: str) -> None:
    repo = write_repo(tmp_path / "repo", OPENSSH)
    repomd = repo / "repodata" / "repomd.xml"
    [primary] = (repo / "repodata").glob("*primary*")
    if breakage == "missing":
        repomd.unlink()
    elif breakage == "not-xml":
        repomd.write_text("<repomd")
    elif breakage == "no-primary":
        repomd.write_text(repomd.read_text().replace('type="primary"', 'type="other"'))
    elif breakage == "checksum":
        primary.write_bytes(gzip.compress(b"<metadata/>"))
    else:
        data = b"\x28\xb5\x2f\xfd rest" if breakage == "zstd" else gzip.compress(b"<metadata><package>")
        primary.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        repomd.write_text(f'<repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="primary">'
                          f'<checksum type="sha256">{digest}</checksum><location href="repodata/p.xml.zst"/>'
                          "</data></repomd>")
        primary.rename(repo / "repodata" / "p.xml.zst")
    with pytest.raises(ConfigError) as caught:
        source_packages([repo.as_uri()], ["vim-minimal"], tmp_path / "c", repo_ids={repo.as_uri(): "fedora"})
    message = str(caught.value)
    assert message.startswith(f"The treefile repo fedora at {repo.as_uri()} cannot be read: ")
    assert reason in message and message.endswith(".") and "\n" not in message


def test_an_unknown_url_scheme_is_refused(tmp_path: Path) -> None:
    expected = "The treefile repo at ftp://x/ cannot be read: the URL scheme 'ftp'"
    with pytest.raises(ConfigError, match=expected):
        source_packages(["ftp://x/"], ["vim"], tmp_path)


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An HTTP server on 127.0.0.1 serving ``tmp_path / "www"``."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_repos_are_read_and_cached(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    root, url = http_root
    write_repo(root / "fedora", OPENSSH)
    found = source_packages([f"{url}/fedora/"], ["openssh-server"], tmp_path / "c")
    assert found.sources == {"openssh"}
    for primary in (root / "fedora" / "repodata").glob("*primary*"):
        primary.unlink()
    assert source_packages([f"{url}/fedora"], ["openssh-server"], tmp_path / "c").sources == {"openssh"}


def test_an_http_error_is_one_config_error(tmp_path: Path, http_root: tuple[Path, str]) -> None:
    _, url = http_root
    expected = r"The treefile repo at .*/gone/ cannot be read: .*answered HTTP 404\.$"
    with pytest.raises(ConfigError, match=expected):
        source_packages([f"{url}/gone/"], ["vim"], tmp_path / "c")
