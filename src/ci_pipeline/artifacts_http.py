"""Artifacts over HTTP, for workers that share no filesystem with the artifact server.

A worker fetches the inputs a run's fields point at (URLs under ``[artifacts] base_url``) that its
own ``[artifacts] root`` lacks, and uploads what a stage made: a directory as one gzipped tarball,
``PUT <base_url>/<path>`` with ``Authorization: Bearer <[web] token>`` (served by
:mod:`ci_pipeline.web.uploads`). Directories are fetched as tarballs from ``<web>/artifacts-archive/``.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import httpx

from ci_pipeline.artifacts_tar import pack_directory, unpack_into
from ci_pipeline.artifacts_tar import safe_relative as safe_relative  # the path rule, re-exported
from ci_pipeline.config import Config
from ci_pipeline.errors import InfrastructureError
from ci_pipeline.logcontext import get_logger

log = get_logger(__name__)

TAR_TYPE = "application/x-tar"
ARCHIVE_PREFIX = "/artifacts-archive"
TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def relative_to_base(url: str, base_url: str) -> str | None:
    """The part of ``url`` under ``base_url`` (keeping a trailing '/'), or None when it is elsewhere."""
    base = base_url.rstrip("/") + "/"
    if not base_url or not url.startswith(base) or url == base:
        return None
    return url[len(base):]


def write_atomically(data: bytes, target: Path) -> None:
    """Write ``data`` to ``target`` through a temporary file and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class ArtifactClient:
    """Moves artifacts between this machine's ``[artifacts] root`` and the artifact server."""

    def __init__(self, config: Config, client: httpx.Client | None = None) -> None:
        self.root = config.artifact_root
        self.base_url = config.artifacts_base_url
        self.archive_url = config.web_base_url + ARCHIVE_PREFIX
        self.token = config.web.token
        self.client = client or httpx.Client(timeout=TIMEOUT, follow_redirects=True)

    def fetch_inputs(self, fields: Mapping[str, str]) -> list[str]:
        """Download every field URL under the artifact base that is missing locally; return their paths."""
        fetched = []
        for value in fields.values():
            relative = relative_to_base(str(value), self.base_url)
            if relative is None or (self.root / safe_relative(relative)).exists():
                continue
            self.fetch(relative)
            fetched.append(relative)
        return fetched

    def fetch(self, relative: str) -> Path:
        """Download one artifact (a directory when ``relative`` ends in '/') into the local root."""
        local = self.root / safe_relative(relative)
        if relative.endswith("/"):
            data = self._get(f"{self.archive_url}/{safe_relative(relative)}")
            unpack_into(io.BytesIO(data), local)
        else:
            write_atomically(self._get(f"{self.base_url}/{safe_relative(relative)}"), local)
        log.info("fetched %s into %s", relative, local)
        return local

    def upload(self, relative: str) -> None:
        """Upload the local file or directory at ``relative`` to the artifact server."""
        local = self.root / safe_relative(relative)
        if local.is_dir():
            packed = io.BytesIO()
            pack_directory(local, packed)
            self._put(relative, packed.getvalue(), TAR_TYPE)
        elif local.is_file():
            self._put(relative, local.read_bytes(), "application/octet-stream")

    def upload_outputs(self, directories: Iterable[str], outputs: Mapping[str, str]) -> list[str]:
        """Upload ``directories`` and every output URL under the artifact base that exists locally."""
        paths = [*directories]
        for value in outputs.values():
            relative = relative_to_base(str(value), self.base_url)
            if relative is not None and (self.root / safe_relative(relative)).exists():
                paths.append(relative)
        uploaded = []
        for relative in dict.fromkeys(paths):
            local = self.root / safe_relative(relative)
            if local.is_file() or (local.is_dir() and any(local.iterdir())):
                self.upload(relative)
                uploaded.append(relative)
        return uploaded

    def _get(self, url: str) -> bytes:
        try:
            response = self.client.get(url)
        except httpx.HTTPError as exc:
            raise InfrastructureError(f"The artifact server did not answer for {url}: {exc}.") from exc
        if response.status_code != 200:
            raise InfrastructureError(f"The artifact server answered {response.status_code} for {url}.")
        return response.content

    def _put(self, relative: str, data: bytes, content_type: str) -> None:
        url = f"{self.base_url}/{safe_relative(relative)}"
        if not self.token:
            raise InfrastructureError(
                f"Cannot upload {relative}: set [web] token on this worker to the artifact server's token."
            )
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": content_type}
        try:
            response = self.client.put(url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            raise InfrastructureError(f"The artifact server did not answer the upload to {url}: {exc}.") \
                from exc
        if response.status_code not in (200, 201, 204):
            raise InfrastructureError(
                f"The artifact server refused the upload to {url}: {response.status_code}."
            )
        log.info("uploaded %s (%d bytes)", relative, len(data))
