"""Authenticated artifact uploads from remote workers, and directories as tarballs for them to fetch.

``PUT /artifacts/{path}`` with ``Authorization: Bearer <[web] token>`` writes the body under
``[artifacts] root``: a tarball (``Content-Type: application/x-tar``, gzipped or not) is unpacked into
the directory ``path``, anything else becomes the file ``path``; every file lands by an atomic
rename. ``GET /artifacts-archive/{path}`` returns the directory ``path`` as a gzipped tarball. Mount
this router before the static ``/artifacts`` files so that PUT reaches it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from ci_pipeline.artifacts_http import (
    ARCHIVE_PREFIX,
    TAR_TYPE,
    pack_directory,
    safe_relative,
    unpack_into,
    write_atomically,
)
from ci_pipeline.errors import StageFailure
from ci_pipeline.web.state import require_token, web_state

router = APIRouter(tags=["artifacts"])

#: The largest upload accepted; a stage's tree larger than this belongs on shared storage.
MAX_UPLOAD_BYTES = 4 * 1024 * 1024 * 1024


def _target(request: Request, path: str) -> Path:
    try:
        relative = safe_relative(path)
    except StageFailure as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    return Path(web_state(request).config.artifacts.root) / relative


@router.put("/artifacts/{path:path}", dependencies=[Depends(require_token)], summary="upload an artifact",
            status_code=201)
async def upload_artifact(path: str, request: Request) -> dict[str, str]:
    """Store the body at ``path`` under the artifact root: a tarball as a directory, else one file."""
    target = _target(request, path)
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_UPLOAD_BYTES:
        raise HTTPException(status_code=413, detail=f"Uploads are limited to {MAX_UPLOAD_BYTES} bytes.")
    data = await request.body()
    is_tar = request.headers.get("content-type", "").split(";")[0].strip() == TAR_TYPE
    try:
        if is_tar:
            await run_in_threadpool(unpack_into, data, target)
        else:
            await run_in_threadpool(write_atomically, data, target)
    except StageFailure as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    return {"path": str(safe_relative(path)), "kind": "directory" if is_tar else "file"}


@router.get(ARCHIVE_PREFIX + "/{path:path}", summary="a directory of artifacts as a tarball")
async def download_archive(path: str, request: Request) -> Response:
    """The directory ``path`` under the artifact root as a gzipped tarball."""
    target = _target(request, path)
    if not target.is_dir():
        raise HTTPException(status_code=404, detail=f"There is no artifact directory {path!r}.")
    data = await run_in_threadpool(pack_directory, target)
    return Response(content=data, media_type=TAR_TYPE)
