"""How forges authenticate their webhooks: an HMAC-SHA256 of the raw body, or a shared token.

Every comparison is constant-time and made over the exact bytes received, before any is parsed.
"""

from __future__ import annotations

import hashlib
import hmac

from ci_pipeline.errors import SignatureError


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of ``body`` under ``secret``, as forges sign."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def check_hmac_sha256(secret: str, body: bytes, header: str, given: str | None, *, prefix: str = "") -> None:
    """SignatureError unless ``given`` is ``prefix`` + the hex HMAC-SHA256 of ``body`` under ``secret``."""
    if not given:
        raise SignatureError(f"The request has no {header} header; sign the hook with its secret.")
    expected = prefix + hmac_sha256_hex(secret, body)
    if not hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("utf-8", "replace")):
        raise SignatureError(f"The {header} header does not match the body: wrong secret or changed body.")


def check_token(secret: str, header: str, given: str | None) -> None:
    """SignatureError unless ``given`` is the shared ``secret`` (GitLab's secret token)."""
    if not given:
        raise SignatureError(f"The request has no {header} header; give the hook its secret token.")
    if not hmac.compare_digest(secret.encode("utf-8"), given.encode("utf-8", "replace")):
        raise SignatureError(f"The {header} header is not the configured secret token.")
