"""Certificate revocation, checked as fedmsg checks it: one CRL from the CA, current, consulted always.

fedmsg hands its CA and CRL to OpenSSL with ``CRL_CHECK | CRL_CHECK_ALL``: a signer whose serial the
list names is refused, and so is every signer while the list is not signed by the CA or is out of date
(its ``nextUpdate`` passed, or its ``lastUpdate`` still ahead). A stale list fails closed: a revoked
key must not come back to life because nobody renewed the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from ci_pipeline.errors import ConfigError, SignatureError
from ci_pipeline.messages.quoting import quote_value


class RevocationList:
    """A CRL that one of ``authorities`` issued; :meth:`check` refuses the certificates it revokes."""

    def __init__(self, crl_pem: bytes, authorities: Sequence[x509.Certificate]) -> None:
        try:
            self._crl = x509.load_pem_x509_crl(crl_pem)
        except ValueError as exc:
            raise ConfigError(f"The certificate revocation list is not a valid PEM CRL: {exc}.") from exc
        self._issuer = next((ca for ca in authorities if self._signed_by(ca)), None)
        if self._issuer is None:
            raise ConfigError("The certificate revocation list is not signed by the configured CA.")

    def _signed_by(self, authority: x509.Certificate) -> bool:
        key = authority.public_key()
        if self._crl.issuer != authority.subject or not isinstance(key, rsa.RSAPublicKey):
            return False
        return self._crl.is_signature_valid(key)

    def check(self, certificate: x509.Certificate, msg_id: str, moment: datetime) -> None:
        """SignatureError if the list revokes ``certificate`` or cannot be trusted at ``moment``."""
        signer = quote_value(certificate.subject.rfc4514_string())
        next_update = self._crl.next_update_utc
        if self._crl.last_update_utc > moment or (next_update is not None and next_update < moment):
            raise SignatureError(
                f"Message {msg_id} is signed by {signer}, but the certificate revocation list is out of"
                f" date on {moment:%Y-%m-%d}; renew [bus] crl."
            )
        if certificate.issuer != self._crl.issuer:
            raise SignatureError(
                f"Message {msg_id} is signed by {signer}, whose issuer the certificate revocation list"
                " does not cover."
            )
        revoked = self._crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
        if revoked is not None:
            raise SignatureError(
                f"Message {msg_id} is signed by {signer}, whose certificate was revoked on"
                f" {revoked.revocation_date_utc:%Y-%m-%d}."
            )
