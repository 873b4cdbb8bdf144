"""Forge webhooks under ``/api/v1/hooks/{forge}``: a push becomes the trigger's decision, as on the bus.

Answers: 200 with the decision (``queued`` with the run, or ``ignore`` with the reason), or with the
reason there was nothing to decide (a tag, a deleted branch) or ``pong`` for GitHub's ping; 401 for
a missing or wrong signature or token; 403 when the forge's secret is not configured; 404 for a forge
not served; 400 for an event that is not a push or a body that is no JSON object or names no delivery;
409 for a delivery already handled (a replay); 422 for a push whose fields break the push rules.
The delivery id is kept in the same transaction as the decision it led to; requests in flight
together are decided in one transaction (:mod:`.hook_batches`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from ci_pipeline.errors import MessageError, SchemaViolation, SignatureError
from ci_pipeline.web.hook_batches import HookBatches
from ci_pipeline.web.state import web_state
from ci_pipeline.webhooks.forges import FORGES
from ci_pipeline.webhooks.receive import read_hook

router = APIRouter(prefix="/api/v1/hooks", tags=["webhooks"])


def _status_of(error: MessageError) -> int:
    if isinstance(error, SignatureError):
        return 401
    return 422 if isinstance(error, SchemaViolation) else 400


def _batches(request: Request) -> HookBatches:
    batches = getattr(request.app.state, "hook_batches", None)
    if batches is None:
        batches = request.app.state.hook_batches = HookBatches(web_state(request))
    return batches


@router.post("/{forge}", summary="a forge's push webhook")
async def receive_hook(forge: str, request: Request) -> dict[str, Any]:
    """Authenticate a forge's webhook, and decide the push it announces as a bus push is decided."""
    known = FORGES.get(forge)
    if known is None:
        raise HTTPException(status_code=404, detail=f"No webhook for {forge[:40]!r}; use one of "
                                                    f"{', '.join(sorted(FORGES))}.")
    web = web_state(request)
    settings = web.config.webhooks
    secret = getattr(settings, known.secret_setting)
    if not secret:
        raise HTTPException(status_code=403, detail=f"Webhooks from {forge} are off; set [webhooks] "
                                                    f"{known.secret_setting} to the hook's secret.")
    body = await request.body()
    try:
        hook = read_hook(known, secret, settings.namespace, request.headers, body)
        if hook.push is not None:
            # The identity rules a bus push passes (CI_NAME and ref made of its fields) before queuing.
            hook = dataclasses.replace(hook, push=web.trigger().checked(hook.push))
    except MessageError as exc:
        raise HTTPException(status_code=_status_of(exc), detail=str(exc)) from exc
    answer: dict[str, Any] = {"forge": forge, "delivery": hook.delivery}
    if hook.ping:
        return {**answer, "pong": True}
    fresh, verdict = await _batches(request).decide(hook)
    if not fresh:
        raise HTTPException(status_code=409, detail=f"The {forge} delivery {hook.delivery} was handled "
                                                    "before; a replay is not decided again.")
    if verdict is None:
        return {**answer, "decision": None, "reason": hook.nothing_because}
    return {**answer, "decision": verdict.decision, "reason": verdict.reason, "run_id": verdict.run_id,
            "build_id": verdict.build_id}
