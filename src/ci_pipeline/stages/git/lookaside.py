"""The dist-git ``sources`` file and the lookaside cache it points into.

``sources`` lists the upstream tarballs a package needs, one per line, in either form::

    SHA512 (vim-7.4.tar.bz2) = 3fb1...        new: any hashlib algorithm name, in upper case
    d8884786979e0e520c112faf2e176f05  vim-7.4.tar.bz2    old: MD5, two spaces, the file name

Each is fetched from the lookaside URL template (Fedora form
``.../{namespace}/{repo}/{filename}/{hashtype}/{hash}/{filename}``) over ``file://``, ``http(s)://``
or a plain path, and its checksum verified before the build sees it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from ci_pipeline.errors import InfrastructureError, StageFailure

#: hashlib algorithms of fixed digest size; the shake family needs a length and so cannot be named.
ALGORITHMS = frozenset(name for name in hashlib.algorithms_guaranteed if not name.startswith("shake"))
_NEW_LINE = re.compile(r"(?P<algorithm>[A-Za-z0-9_-]+) \((?P<filename>.+)\) = (?P<digest>[0-9a-fA-F]+)")
_OLD_LINE = re.compile(r"(?P<digest>[0-9a-fA-F]{32})\s+(?P<filename>\S(?:.*\S)?)")
_CHUNK = 1 << 20
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class SourceFile:
    """One line of ``sources``: a file name, its hash algorithm (hashlib name) and hex digest."""

    filename: str
    algorithm: str
    digest: str


def check_filename(filename: str) -> str:
    """Return ``filename`` if it names a plain file in the checkout; ValueError otherwise."""
    if not filename or filename in {".", ".."} or any(bad in filename for bad in ("/", "\\", "\0", "..")):
        raise ValueError(f"the source file name {filename!r} is not a plain file name")
    if filename.startswith("-"):
        raise ValueError(f"the source file name {filename!r} starts with a dash")
    return filename


def parse_line(line: str) -> SourceFile:
    """Parse one non-blank ``sources`` line of either form; ValueError when it is neither."""
    if new := _NEW_LINE.fullmatch(line):
        algorithm = new["algorithm"].lower().replace("-", "_")
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown hash algorithm {new['algorithm']!r}")
        digest, digits = new["digest"].lower(), 2 * hashlib.new(algorithm).digest_size
        if len(digest) != digits:
            raise ValueError(f"a {new['algorithm']} digest has {digits} hex digits, not {len(digest)}")
        return SourceFile(check_filename(new["filename"]), algorithm, digest)
    if old := _OLD_LINE.fullmatch(line):
        return SourceFile(check_filename(old["filename"]), "md5", old["digest"].lower())
    raise ValueError(f"neither 'HASH (file) = digest' nor 'md5  file': {line!r}")


def parse_sources(text: str) -> list[SourceFile]:
    """Every source listed in a ``sources`` file; ValueError names the first bad line."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                entries.append(parse_line(line.strip()))
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from exc
    return entries


def source_url(template: str, namespace: str, repo: str, source: SourceFile) -> str:
    """The lookaside URL (or path) of ``source``, from the Fedora-form template."""
    is_url = "://" in template
    fields = {
        "namespace": namespace,
        "repo": repo,
        "filename": source.filename,
        "hashtype": source.algorithm,
        "hash": source.digest,
    }
    url = template
    for name, value in fields.items():
        url = url.replace("{" + name + "}", urllib.parse.quote(value, safe="") if is_url else value)
    return url


@contextlib.contextmanager
def _open_source(url: str, client: httpx.Client | None) -> Iterator[Iterator[bytes]]:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in {"http", "https"}:
        with contextlib.ExitStack() as stack:
            http = client or stack.enter_context(httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=True))
            response = stack.enter_context(http.stream("GET", url))
            if response.status_code == 404:
                raise FileNotFoundError(url)
            response.raise_for_status()
            yield response.iter_bytes(_CHUNK)
        return
    if parsed.scheme not in {"", "file"}:
        raise InfrastructureError(f"The lookaside URL {url} has a scheme ci-pipeline cannot fetch.")
    path = urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else url
    with open(path, "rb") as handle:
        yield iter(lambda: handle.read(_CHUNK), b"")


def _copy_hashing(chunks: Iterator[bytes], out: IO[bytes], algorithm: str) -> str:
    # A checksum of a download, not a security boundary: keeps MD5 sources working on FIPS hosts.
    digest = hashlib.new(algorithm, usedforsecurity=False)
    for chunk in chunks:
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest()


def fetch_source(url: str, source: SourceFile, checkout: Path, client: httpx.Client | None = None) -> Path:
    """Download ``source`` from ``url`` into ``checkout``, verifying its checksum; return its path."""
    target = checkout / check_filename(source.filename)
    # Written beside the target and renamed, so a half-downloaded file never carries the real name.
    handle = tempfile.NamedTemporaryFile(dir=checkout, prefix=".lookaside-", delete=False)  # noqa: SIM115
    try:
        with handle, _open_source(url, client) as chunks:
            actual = _copy_hashing(chunks, handle, source.algorithm)
        if actual != source.digest:
            raise StageFailure(
                f"The source {source.filename} from the lookaside cache does not match its "
                f"{source.algorithm} checksum in 'sources' (expected {source.digest}, got {actual})."
            )
        # os.replace swaps the name itself, so a committed symlink of that name is never followed.
        os.replace(handle.name, target)
    except FileNotFoundError as exc:
        raise StageFailure(f"The source {source.filename} is not in the lookaside cache at {url}.") from exc
    except httpx.HTTPStatusError as exc:
        raise InfrastructureError(
            f"The lookaside cache answered {exc.response.status_code} for {source.filename} at {url}."
        ) from exc
    except (httpx.HTTPError, OSError) as exc:
        raise InfrastructureError(f"The lookaside cache cannot be reached for {url}: {exc}.") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(handle.name)
    return target


def fetch_sources(
    template: str, namespace: str, repo: str, checkout: Path, client: httpx.Client | None = None
) -> list[Path]:
    """Fetch and verify every source the checkout's ``sources`` file lists (none without the file)."""
    sources_file = checkout / "sources"
    if not sources_file.is_file():
        return []
    try:
        sources = parse_sources(sources_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StageFailure(f"The 'sources' file of {repo} is malformed: {exc}.") from exc
    with contextlib.ExitStack() as stack:
        # One connection pool for all of a package's sources when they come over HTTP.
        if client is None and template.startswith(("http://", "https://")):
            client = stack.enter_context(httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=True))
        return [fetch_source(source_url(template, namespace, repo, s), s, checkout, client) for s in sources]
