"""fedmsg-style X.509 signing of envelopes, and verification against a CA.

As fedmsg's ``x509`` backend did: ``crypto`` is set to ``x509`` first, then the signature is taken
over the canonical JSON of the envelope (keys sorted, no spaces) without its ``signature`` and
``certificate`` fields, with RSA PKCS#1 v1.5. ``signature`` holds it in base64 and ``certificate`` the
signer's PEM certificate in base64, both in lines of 76 characters ending in a newline as fedmsg
wrote them. fedmsg used SHA-1; this module signs with SHA-256 and verifies SHA-1 signatures only when
asked to (``accept_sha1``), for messages from old fedmsg senders.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ci_pipeline.config import BusConfig
from ci_pipeline.errors import ConfigError, SignatureError

CREDENTIAL_FIELDS = ("signature", "certificate")


def canonical_json(envelope: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: the envelope without its credentials, keys sorted, compact."""
    unsigned = {key: value for key, value in envelope.items() if key not in CREDENTIAL_FIELDS}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("utf-8")


class X509Signer:
    """Signs envelopes with an RSA key and its X.509 certificate (a :class:`~.envelope.Signer`)."""

    def __init__(self, certificate_pem: bytes, key_pem: bytes) -> None:
        try:
            self._certificate = x509.load_pem_x509_certificate(certificate_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except ValueError as exc:
            raise ConfigError(f"The signing certificate or key is not valid PEM: {exc}.") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError("The signing key is not an RSA key; fedmsg signatures need RSA.")
        self._key = key
        self._certificate_field = _base64_lines(self._certificate.public_bytes(serialization.Encoding.PEM))

    @classmethod
    def from_files(cls, certificate: Path, key: Path) -> X509Signer:
        """A signer from a PEM certificate file and a PEM (unencrypted) key file."""
        try:
            return cls(certificate.read_bytes(), key.read_bytes())
        except OSError as exc:
            raise ConfigError(f"The signing certificate or key cannot be read: {exc}.") from exc

    def sign(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``envelope`` with ``crypto``, ``signature`` and ``certificate`` set."""
        signed = {key: value for key, value in envelope.items() if key not in CREDENTIAL_FIELDS}
        signed["crypto"] = "x509"
        signature = self._key.sign(canonical_json(signed), padding.PKCS1v15(), hashes.SHA256())
        signed["signature"] = _base64_lines(signature)
        signed["certificate"] = self._certificate_field
        return signed


class X509Verifier:
    """Checks that envelopes are signed by a certificate a trusted CA issued directly (no intermediates)."""

    def __init__(self, ca_pem: bytes, *, accept_sha1: bool = False) -> None:
        try:
            authorities = x509.load_pem_x509_certificates(ca_pem)
        except ValueError as exc:
            raise ConfigError(f"The CA certificate is not valid PEM: {exc}.") from exc
        self._authorities = [ca for ca in authorities if _is_authority(ca)]
        if not self._authorities:
            raise ConfigError("The CA file holds no CA certificate (basicConstraints CA:TRUE).")
        self._hashes: tuple[hashes.HashAlgorithm, ...] = (
            (hashes.SHA256(), hashes.SHA1()) if accept_sha1 else (hashes.SHA256(),)
        )

    def verify(self, envelope: Mapping[str, Any], *, now: datetime | None = None) -> str:
        """The signer's common name; raises SignatureError if unsigned, tampered with or untrusted."""
        msg_id = envelope.get("msg_id", "?")
        if envelope.get("crypto") != "x509" or not all(
            isinstance(envelope.get(field), str) for field in CREDENTIAL_FIELDS
        ):
            raise SignatureError(f"Message {msg_id} is not signed (no x509 signature and certificate).")
        certificate = self._certificate(envelope, msg_id)
        self._check_chain(certificate, msg_id, now)
        self._check_signature(certificate, envelope, msg_id)
        names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return str(names[0].value) if names else certificate.subject.rfc4514_string()

    def _certificate(self, envelope: Mapping[str, Any], msg_id: object) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(base64.b64decode(envelope["certificate"]))
        except (binascii.Error, ValueError) as exc:
            raise SignatureError(f"Message {msg_id} carries a certificate that cannot be read.") from exc

    def _check_chain(self, certificate: x509.Certificate, msg_id: object, now: datetime | None) -> None:
        moment = now or datetime.now(UTC)
        signer = certificate.subject.rfc4514_string()
        if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
            raise SignatureError(
                f"Message {msg_id} is signed by {signer}, whose certificate is invalid on {moment:%Y-%m-%d}."
            )
        for authority in self._authorities:
            try:
                certificate.verify_directly_issued_by(authority)
                return
            except (ValueError, TypeError, InvalidSignature):
                continue
        raise SignatureError(f"Message {msg_id} is signed by {signer}, which no trusted CA issued.")

    def _check_signature(self, certificate: x509.Certificate, envelope: Mapping[str, Any],
                         msg_id: object) -> None:
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SignatureError(f"Message {msg_id} is signed with a certificate whose key is not RSA.")
        try:
            signature = base64.b64decode(envelope["signature"])
        except (binascii.Error, ValueError) as exc:
            raise SignatureError(f"Message {msg_id} carries a signature that is not base64.") from exc
        data = canonical_json(envelope)
        for algorithm in self._hashes:
            try:
                key.verify(signature, data, padding.PKCS1v15(), algorithm)
                return
            except InvalidSignature:
                continue
        raise SignatureError(f"Message {msg_id} does not match its signature: it was changed after signing.")


def _is_authority(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _base64_lines(data: bytes) -> str:
    # fedmsg (through M2Crypto) wrote base64 in 76-character lines with a final newline.
    return base64.encodebytes(data).decode("ascii")


def signer_from_config(bus: BusConfig) -> X509Signer | None:
    """The signer ``[bus] certificate`` and ``private_key`` name, or None when signing is off."""
    if not bus.certificate and not bus.private_key:
        return None
    if not (bus.certificate and bus.private_key):
        raise ConfigError("Signing needs both [bus] certificate and [bus] private_key.")
    return X509Signer.from_files(Path(bus.certificate), Path(bus.private_key))


def verifier_from_config(bus: BusConfig) -> X509Verifier | None:
    """The verifier of the CA ``[bus] ca`` names, or None when inbound messages are not verified."""
    if not bus.ca:
        return None
    try:
        return X509Verifier(Path(bus.ca).read_bytes())
    except OSError as exc:
        raise ConfigError(f"The CA certificate {bus.ca} cannot be read: {exc.strerror}.") from exc
