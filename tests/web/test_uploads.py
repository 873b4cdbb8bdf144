"""Artifact uploads and archives over HTTP: conflicts, links out of the root, hostile tarballs."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_pipeline.config import Config

TAR = {"Content-Type": "application/x-tar"}


def tar_of(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    """A gzipped tarball of ``files`` and symbolic ``links``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)
    return gzip.compress(raw.getvalue())


@pytest.fixture
def root(web_config: Config) -> Path:
    return Path(web_config.artifacts.root)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the artifact root, standing for /etc."""
    secret = tmp_path / "etc"
    secret.mkdir()
    (secret / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (secret / "shadow").write_text("root:$6$secret:19000::::::\n")
    return secret


def test_a_tarball_unpacks_and_comes_back_as_an_archive(
    client: httpx.Client, auth: dict[str, str], root: Path
) -> None:
    body = tar_of({"repodata/repomd.xml": b"<repomd/>", "x.rpm": b"rpm"})
    answer = client.put("/artifacts/f26/repo", content=body, headers={**auth, **TAR})
    assert answer.status_code == 201 and answer.json() == {"path": "f26/repo", "kind": "directory"}
    assert (root / "f26/repo/repodata/repomd.xml").read_bytes() == b"<repomd/>"
    archive = client.get("/artifacts-archive/f26/repo")
    assert archive.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as unpacked:
        assert sorted(unpacked.getnames()) == ["repodata", "repodata/repomd.xml", "x.rpm"]


def test_the_archive_never_follows_a_link_out_of_the_root(
    client: httpx.Client, root: Path, outside: Path
) -> None:
    (root / "f26" / "compose").mkdir(parents=True)
    (root / "f26" / "compose" / "tree.txt").write_text("ok")
    (root / "f26" / "compose" / "etc").symlink_to(outside)
    (root / "f26" / "compose" / "shadow").symlink_to(outside / "shadow")
    (root / "f26" / "escape").symlink_to(outside)
    (root / "f26" / "latest").symlink_to(root / "f26" / "compose")
    direct = client.get("/artifacts-archive/f26/escape")
    assert direct.status_code == 400 and "outside" in direct.json()["detail"]
    assert b"root:" not in direct.content
    for path in ("/artifacts-archive/f26/compose", "/artifacts-archive/f26/latest", "/artifacts-archive/f26"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        with tarfile.open(fileobj=io.BytesIO(answer.content), mode="r:gz") as archive:
            members = archive.getmembers()
            contents = b"".join(archive.extractfile(m).read() for m in members if m.isreg())  # type: ignore[union-attr]
        assert all(m.isreg() or m.isdir() for m in members)
        assert b"root:" not in contents and b"ok" in contents
    assert client.get("/artifacts/f26/escape/passwd").status_code == 404


def test_an_upload_never_writes_through_a_link_out_of_the_root(
    client: httpx.Client, auth: dict[str, str], root: Path, outside: Path
) -> None:
    (root / "f26").mkdir(parents=True)
    (root / "f26" / "escape").symlink_to(outside)
    as_file = client.put("/artifacts/f26/escape/cron", content=b"* * * * * root sh", headers=auth)
    as_tree = client.put("/artifacts/f26/escape", content=tar_of({"cron": b"x"}), headers={**auth, **TAR})
    assert [as_file.status_code, as_tree.status_code] == [400, 400]
    assert sorted(p.name for p in outside.iterdir()) == ["passwd", "shadow"]


def test_a_tarball_with_a_link_is_refused_and_leaves_nothing(
    client: httpx.Client, auth: dict[str, str], root: Path
) -> None:
    body = tar_of({"fine.txt": b"fine"}, links={"etc": "/etc"})
    answer = client.put("/artifacts/f26/linked", content=body, headers={**auth, **TAR})
    assert answer.status_code == 400 and "not a regular file or directory" in answer.json()["detail"]
    assert list((root / "f26" / "linked").iterdir()) == []


def test_a_tar_bomb_over_http_is_refused(client: httpx.Client, auth: dict[str, str], root: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("zeros.bin")
        info.size = 1024**3
        archive.addfile(info)  # the header alone: refused before any data is wanted
    answer = client.put("/artifacts/f26/bomb", content=gzip.compress(raw.getvalue()), headers={**auth, **TAR})
    assert answer.status_code == 400 and "unpacks to more than" in answer.json()["detail"]
    assert list((root / "f26" / "bomb").iterdir()) == []


def test_an_upload_onto_an_existing_path_of_the_other_kind_is_409(
    client: httpx.Client, auth: dict[str, str], root: Path
) -> None:
    assert client.put("/artifacts/f26/notes.txt", content=b"one", headers=auth).status_code == 201
    assert client.put("/artifacts/f26/notes.txt", content=b"two", headers=auth).status_code == 201
    assert (root / "f26/notes.txt").read_bytes() == b"two"  # a file replaces a file (a retried upload)
    tree = client.put("/artifacts/f26/tree", content=tar_of({"a": b"1"}), headers={**auth, **TAR})
    assert tree.status_code == 201
    answers = [
        client.put("/artifacts/f26/tree", content=b"file onto a directory", headers=auth),
        client.put("/artifacts/f26/notes.txt", content=tar_of({"a": b"1"}), headers={**auth, **TAR}),
        client.put("/artifacts/f26/notes.txt/below", content=b"under a file", headers=auth),
        client.put("/artifacts/f26/tree", content=tar_of({"a/b": b"1"}), headers={**auth, **TAR}),
    ]
    assert [a.status_code for a in answers] == [409, 409, 409, 409], [a.text for a in answers]
    assert all(a.json()["detail"].startswith("The ") for a in answers)
    assert (root / "f26/notes.txt").read_bytes() == b"two"
    assert (root / "f26/tree/a").read_bytes() == b"1"


_PIECES = st.sampled_from(["a", ".", "/", "%2e", "%2f", "%00", "\\", "é"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(_PIECES, min_size=1, max_size=14).map("".join))
def test_an_upload_path_is_stored_under_the_root_or_refused(
    client: httpx.Client, auth: dict[str, str], root: Path, path: str
) -> None:
    answer = client.put(f"/artifacts/up/{path}", content=b"data", headers=auth)
    # 307: the client folded the path into the root itself ("up/.."), and the root only redirects.
    assert answer.status_code in (201, 307, 400, 404, 405, 409), answer.text
    if answer.status_code == 201:
        stored = root / answer.json()["path"]
        assert stored.resolve().is_relative_to(root.resolve()) and stored.read_bytes() == b"data"
