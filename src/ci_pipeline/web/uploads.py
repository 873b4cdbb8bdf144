"""Authenticated artifact uploads from remote workers, and directories as tarballs for them to fetch.

``PUT /artifacts/{path}`` with ``Authorization: Bearer <[web] token>`` streams the body to a file
beside ``path`` under ``[artifacts] root`` (its size is bounded by ``[web] max_upload_bytes``,
counted as it arrives by :mod:`ci_pipeline.web.limits`): a tarball (``Content-Type:
application/x-tar``, compressed or not) is then unpacked, within limits, into the directory ``path``;
anything else becomes the file ``path``; every file lands by an atomic rename. A path that would
lead out of the root through a link is refused, and one that collides with an existing file or
directory of the other kind is 409. ``GET /artifacts-archive/{path}`` returns the directory ``path``
as a gzipped tarball of its regular files and directories (links are never followed). Mount this
router before the static ``/artifacts`` files so that PUT reaches it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ci_pipeline.artifacts_http import ARCHIVE_PREFIX, TAR_TYPE
from ci_pipeline.artifacts_tar import PathConflict, UnpackLimits, pack_directory, safe_relative, unpack_into
from ci_pipeline.errors import StageFailure
from ci_pipeline.web.state import require_token, web_state

router = APIRouter(tags=["artifacts"])
CHUNK = 1024 * 1024
#: What an upload may not replace: a file onto a directory, a directory onto a file.
CONFLICTS = (FileExistsError, IsADirectoryError, NotADirectoryError)


def _target(request: Request, path: str) -> Path:
    """``path`` under the artifact root; 400 when it is not plain or a link leads it outside the root."""
    root = web_state(request).config.artifact_root
    try:
        target = root / safe_relative(path)
    except StageFailure as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    if not target.resolve().is_relative_to(root.resolve()):
        raise HTTPException(
            status_code=400, detail=f"The artifact path {path[:200]!r} leads outside the artifact root."
        )
    return target


async def _spool(request: Request, directory: Path, name: str) -> Path:
    """Write the request body, as it arrives, to a hidden temporary file in ``directory``."""
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            async for chunk in request.stream():
                handle.write(chunk)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)


def _unpack_file(spooled: Path, target: Path, limits: UnpackLimits) -> None:
    with spooled.open("rb") as source:
        unpack_into(source, target, limits)


async def _store(request: Request, target: Path, is_tar: bool) -> None:
    """Receive the body and put it in place at ``target``: unpacked when ``is_tar``, else as one file."""
    if is_tar:
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_dir():
            raise IsADirectoryError(target)
    spooled = await _spool(request, target.parent, target.name)
    try:
        if is_tar:
            limits = UnpackLimits(max_bytes=web_state(request).config.web.max_upload_bytes)
            await run_in_threadpool(_unpack_file, spooled, target, limits)
        else:
            os.replace(spooled, target)
    finally:
        spooled.unlink(missing_ok=True)


@router.put("/artifacts/{path:path}", dependencies=[Depends(require_token)], summary="upload an artifact",
            status_code=201)
async def upload_artifact(path: str, request: Request) -> dict[str, str]:
    """Store the body at ``path`` under the artifact root: a tarball as a directory, else one file."""
    target = _target(request, path)
    is_tar = request.headers.get("content-type", "").split(";")[0].strip() == TAR_TYPE
    try:
        await _store(request, target, is_tar)
    except PathConflict as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    except StageFailure as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    except CONFLICTS as exc:
        kind = "a directory" if is_tar else "a file"
        raise HTTPException(
            status_code=409,
            detail=f"The artifact path {path[:200]!r} cannot take {kind}: "
            "an existing file or directory is in the way.",
        ) from exc
    return {"path": str(safe_relative(path)), "kind": "directory" if is_tar else "file"}


def _chunks(packed: BinaryIO) -> Iterator[bytes]:
    with packed:
        while chunk := packed.read(CHUNK):
            yield chunk


@router.get(ARCHIVE_PREFIX + "/{path:path}", summary="a directory of artifacts as a tarball")
async def download_archive(path: str, request: Request) -> Response:
    """The directory ``path`` under the artifact root as a gzipped tarball, links left out."""
    target = _target(request, path).resolve()
    if not target.is_dir():
        raise HTTPException(status_code=404, detail=f"There is no artifact directory {path[:200]!r}.")
    # A file, not memory: a compose tree can be gigabytes. Unnamed, so nothing is left behind; the
    # response's iterator closes it.
    packed = tempfile.TemporaryFile(dir=web_state(request).config.artifact_root)  # noqa: SIM115
    try:
        await run_in_threadpool(pack_directory, target, packed)
    except BaseException:
        packed.close()
        raise
    packed.seek(0)
    return StreamingResponse(_chunks(packed), media_type=TAR_TYPE)
