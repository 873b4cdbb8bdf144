"""Fetching repo metadata files from file:// and http(s):// URLs, and opening them decompressed.

Failures are raised as OSError or ValueError with a short reason; :mod:`ci_pipeline.repodata`
turns them into one ConfigError naming the repo.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast
from urllib.parse import unquote, urlsplit

import httpx
import zstandard

HTTP_TIMEOUT = httpx.Timeout(30.0)
_CHUNK = 1 << 20
_MAGIC = {
    b"\x1f\x8b": "gz",
    b"\xfd7zXZ\x00": "xz",
    b"BZh": "bz2",
    b"\x28\xb5\x2f\xfd": "zst",
}


def fetch_to(url: str, target: Path, hashtype: str | None = None) -> str | None:
    """Copy ``url`` to ``target``; return its ``hashtype`` hex digest when that hash is known."""
    digest = _hasher(hashtype)
    parts = urlsplit(url)
    if parts.scheme == "file":
        with open(unquote(parts.path), "rb") as source, target.open("wb") as out:
            _copy(source.read, out, digest)
    elif parts.scheme in ("http", "https"):
        try:
            with httpx.stream("GET", url, timeout=HTTP_TIMEOUT, follow_redirects=True) as response:
                if response.status_code != 200:
                    raise OSError(f"{url} answered HTTP {response.status_code}")
                with target.open("wb") as out:
                    chunks = response.iter_bytes(_CHUNK)
                    _copy(lambda _size: next(chunks, b""), out, digest)
        except httpx.HTTPError as exc:
            raise OSError(f"{url} cannot be fetched ({type(exc).__name__}: {exc})") from exc
    else:
        raise ValueError(f"the URL scheme '{parts.scheme}' is not file, http or https")
    return digest.hexdigest() if digest is not None else None


def _hasher(hashtype: str | None) -> hashlib._Hash | None:
    # repomd.xml says "sha" for SHA-1 in old repos.
    name = {"sha": "sha1"}.get(hashtype or "", hashtype or "")
    return hashlib.new(name) if name in hashlib.algorithms_available else None


def _copy(read: Callable[[int], bytes], out: IO[bytes], digest: hashlib._Hash | None) -> None:
    while chunk := read(_CHUNK):
        out.write(chunk)
        if digest is not None:
            digest.update(chunk)


@contextmanager
def open_decompressed(path: Path, href: str) -> Iterator[IO[bytes]]:
    """``path`` opened for reading, decompressed by its magic bytes (gz, xz, bz2, zst)."""
    with path.open("rb") as raw:
        head = raw.read(6)
        raw.seek(0)
        kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), None)
        if kind is None:
            yield raw
        elif kind == "gz":
            with gzip.GzipFile(fileobj=raw) as stream:
                yield cast(IO[bytes], stream)
        elif kind == "xz":
            with lzma.LZMAFile(raw) as stream:
                yield stream
        elif kind == "bz2":
            with bz2.BZ2File(raw) as stream:
                yield stream
        else:
            yield from _zstd(raw, href)


def _zstd(raw: IO[bytes], href: str) -> Iterator[IO[bytes]]:
    # createrepo_c's default since 1.0, and what Fedora's repos use.
    with zstandard.ZstdDecompressor().stream_reader(raw) as stream:
        yield stream

