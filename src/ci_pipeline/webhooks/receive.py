"""One webhook request, checked in the order that spends the least on a bad one.

The credential first (over the raw bytes, or over the JSON a form-encoded delivery carries where the
forge signs that), then the event header, then the body (bounded and parsed as every inbound message
is, :func:`~ci_pipeline.messages.envelope.decode`), then the delivery id, then the push.

Forges can deliver the JSON as a form, ``payload=<JSON, percent-encoded>``: GitHub and Forgejo when
the hook's content type is set so, older Pagure releases always (with a JSON content type header all
the same). Such a body is read for its one ``payload`` field whatever its content type.

Each failure is one MessageError whose class says what is wrong: SignatureError (a missing
or wrong signature or token), UnknownTopic (an event that is not a push), MalformedMessage (no JSON
object, no delivery id), SchemaViolation (a push whose fields break the rules bus pushes follow).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from ci_pipeline.errors import MalformedMessage, UnknownTopic
from ci_pipeline.messages.envelope import decode
from ci_pipeline.messages.push import GitPush
from ci_pipeline.messages.quoting import quote_value
from ci_pipeline.webhooks.forges import Forge, Headers

#: The largest hook body read: GitHub's cap on a webhook payload (a push lists up to 2,048 commits,
#: so one can pass the bus's 1 MiB); ``[web] max_request_bytes`` may set a lower one.
MAX_HOOK_BYTES = 25 * 1024 * 1024
#: How a form-encoded delivery starts; a JSON body never does.
FORM_PREFIX = b"payload="
#: A delivery id as forges make them (UUIDs, GitLab's idempotency keys, fedmsg ids): fits the store.
_DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+=-]{0,99}")


@dataclass(frozen=True)
class Hook:
    """A checked webhook: its delivery id and the push to decide, or why there is nothing to decide."""

    forge: str
    delivery: str
    push: GitPush | None = None
    nothing_because: str = ""
    ping: bool = False


def read_hook(forge: Forge, secret: str, namespace: str, headers: Headers, body: bytes) -> Hook:
    """The push one webhook request of ``forge`` announces, checked; a MessageError if it is refused."""
    payload = form_payload(body)
    forge.authenticate(secret, payload if payload is not None and forge.signs_form_payload else body, headers)
    if payload is not None:
        body = payload
    event = next((headers[name] for name in forge.event_headers if headers.get(name)), "")
    if event in forge.ping_events:
        return Hook(forge.name, _delivery(forge, headers, {}), ping=True)
    if event not in forge.push_events:
        wanted = " or ".join(sorted(forge.push_events))
        named = quote_value(event) if event else "no event"
        raise UnknownTopic(f"The {forge.name} hook sent {named}; only {wanted} events start runs.")
    document = decode(body, MAX_HOOK_BYTES)
    delivery = _delivery(forge, headers, document)
    found = forge.read_push(document, namespace, delivery)
    if isinstance(found, str):
        return Hook(forge.name, delivery, nothing_because=found)
    return Hook(forge.name, delivery, push=found)


def _delivery(forge: Forge, headers: Headers, document: dict[str, object]) -> str:
    value = next((headers[name] for name in forge.delivery_headers if headers.get(name)), None)
    where = " or ".join(forge.delivery_headers) or f"field {forge.delivery_field}"
    if value is None and forge.delivery_field:
        field_value = document.get(forge.delivery_field)
        value = field_value if isinstance(field_value, str) else None
    if not value:
        raise MalformedMessage(f"The {forge.name} hook names no delivery id ({where}); it cannot be told "
                               "from a replay.")
    if not _DELIVERY_ID.fullmatch(value):
        raise MalformedMessage(f"The delivery id {quote_value(value)} is not 1 to 100 letters, digits "
                               "and ._:+=- signs.")
    return value


def form_payload(body: bytes) -> bytes | None:
    """The JSON a form-encoded delivery carries in its one ``payload`` field; None for a JSON body."""
    if not body.startswith(FORM_PREFIX):
        return None
    try:
        text = body.decode("ascii")
        fields = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=1,
                           errors="strict")
    except (UnicodeError, ValueError) as exc:
        raise MalformedMessage("The form-encoded hook body is not one payload field of percent-encoded "
                               "UTF-8.") from exc
    return fields[0][1].encode("utf-8")
