"""Request limits enforced before the application reads anything: body size and NUL bytes.

``RequestLimits`` is a pure ASGI middleware. A body whose ``Content-Length`` is over the limit is
answered 413 without reading a byte of it; any other body is counted as it arrives, so a chunked
body cannot slip past, and the read that crosses the limit raises ``BodyTooLarge`` (a 413
``HTTPException``, which FastAPI passes through its body parsing untouched). Artifact uploads
(``PUT /artifacts/...``) get their own, larger limit. A path or query string holding a NUL byte is
answered 400: no store column can keep one (PostgreSQL refuses it outright).
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PREFIX = "/artifacts/"
#: A Content-Length this middleware trusts; anything else is left to the byte count.
LENGTH = re.compile(rb"[0-9]{1,19}")


class BodyTooLarge(HTTPException):
    """A request body over its limit (HTTP 413)."""

    def __init__(self, limit: int) -> None:
        # The rest of the body is never read, so the connection cannot carry another request.
        super().__init__(
            status_code=413,
            detail=f"The request body is larger than {limit} bytes.",
            headers={"Connection": "close"},
        )


def body_limit(method: str, path: str, request_limit: int, upload_limit: int) -> int:
    """The largest body a request may carry: uploads have their own limit."""
    return upload_limit if method == "PUT" and path.startswith(UPLOAD_PREFIX) else request_limit


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when it has none (chunked) or an unreadable one."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if LENGTH.fullmatch(value.strip()) else None
    return None


def holds_nul(scope: Scope) -> bool:
    """Whether the request's path or query string carries a NUL byte, encoded or not."""
    path: str = scope.get("path", "")
    query: bytes = scope.get("query_string", b"")
    return "\0" in path or b"\0" in unquote_to_bytes(query)


async def send_error(send: Send, status: int, text: str) -> None:
    """Answer with the app's JSON error shape (``detail`` and ``message``)."""
    body = json.dumps({"detail": text, "message": text}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """ASGI middleware: bodies over their limit are 413, NUL bytes in a path or query are 400."""

    def __init__(self, app: ASGIApp, *, request_limit: int, upload_limit: int) -> None:
        self.app = app
        self.request_limit = request_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request line and headers, then count the body as the app reads it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if holds_nul(scope):
            await send_error(send, 400, "The request's path or query holds a NUL byte, which is never valid.")
            return
        limit = body_limit(scope["method"], scope["path"], self.request_limit, self.upload_limit)
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await send_error(send, 413, BodyTooLarge(limit).detail)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:
            # Reached only when something below let the exception through; answer if still possible.
            if started:
                raise
            await send_error(send, 413, exc.detail)
