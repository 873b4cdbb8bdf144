"""fedmsg-style X.509 signing of envelopes, and verification against a CA.

As fedmsg's ``x509`` backend did: ``crypto`` is set to ``x509`` first, then the signature is taken
over the canonical JSON of the envelope (keys sorted, no spaces) without its ``signature`` and
``certificate`` fields, with RSA PKCS#1 v1.5. ``signature`` holds it in base64 and ``certificate`` the
signer's PEM certificate in base64, both in lines of 76 characters ending in a newline as fedmsg
wrote them. fedmsg signs and verifies with SHA-1 (``digest="sha1"``, what ``[bus] signature_digest``
defaults to, so that fedmsg consumers validate what we send); deployments that control both ends
choose a stronger digest there, and a verifier then refuses every weaker one. A verifier accepts its
digest and any stronger one.

Like fedmsg, a verifier given a certificate revocation list (``[bus] crl``) refuses a signer the list
revokes, and refuses every signer while the list is not one the CA signed or is out of date
(:mod:`.revocation`).

Like fedmsg, a verifier given a routing policy (``[bus] routing_policy``: topic -> the common names
that may sign on it) refuses a message on a listed topic signed by anyone else, and with
``routing_nitpicky`` a message on a topic the policy does not list.

A signer's certificate must be meant for signing: not a CA certificate, ``digitalSignature`` in its
key usage when it has one, and a signing purpose in its extended key usage when it has one
(``clientAuth`` counts: fedmsg's certificates were easy-rsa client certificates). A verified message
must also be recent: its signed ``timestamp`` at most ``[bus] max_message_age`` seconds old and at
most ``[bus] max_clock_skew`` seconds ahead (0 turns either check off), so an old signed message
cannot be replayed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ci_pipeline.config import BusConfig
from ci_pipeline.errors import ConfigError, SignatureError
from ci_pipeline.messages.quoting import quote_value
from ci_pipeline.messages.revocation import RevocationList

CREDENTIAL_FIELDS = ("signature", "certificate")
#: Extended key usages that include signing messages; a certificate naming none of them is refused.
SIGNING_PURPOSES = frozenset({
    ExtendedKeyUsageOID.CODE_SIGNING,
    ExtendedKeyUsageOID.EMAIL_PROTECTION,
    ExtendedKeyUsageOID.CLIENT_AUTH,
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
})
#: Signature digests by name, weakest first; a verifier accepts its own and every later one.
DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_PURPOSE_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
}


def digest_named(name: str) -> hashes.HashAlgorithm:
    """The hash algorithm ``name`` names (``sha1``, ``sha256``...); ConfigError for another name."""
    try:
        return DIGESTS[name]()
    except KeyError:
        raise ConfigError(f"The signature digest {name!r} is not one of {', '.join(DIGESTS)}.") from None


def accepted_digests(weakest: str) -> tuple[hashes.HashAlgorithm, ...]:
    """``weakest`` and every stronger digest, strongest first."""
    digest_named(weakest)
    names = list(DIGESTS)
    return tuple(DIGESTS[name]() for name in reversed(names[names.index(weakest):]))


def canonical_json(envelope: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers: the envelope without its credentials, keys sorted, compact."""
    unsigned = {key: value for key, value in envelope.items() if key not in CREDENTIAL_FIELDS}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("utf-8")


class X509Signer:
    """Signs envelopes with an RSA key and its X.509 certificate (a :class:`~.envelope.Signer`)."""

    def __init__(self, certificate_pem: bytes, key_pem: bytes, *, digest: str = "sha256") -> None:
        self._digest = digest_named(digest)
        try:
            self._certificate = x509.load_pem_x509_certificate(certificate_pem)
            self._certificate.extensions  # noqa: B018 (parsed lazily; a malformed one fails here)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, x509.DuplicateExtension) as exc:
            raise ConfigError(f"The signing certificate or key is not valid PEM: {exc}.") from exc
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError("The signing key is not an RSA key; fedmsg signatures need RSA.")
        problem = signing_use_problem(self._certificate)
        if problem is not None:
            raise ConfigError(f"The signing certificate is {problem}; receivers would refuse its messages.")
        self._key = key
        self._certificate_field = _base64_lines(self._certificate.public_bytes(serialization.Encoding.PEM))

    @classmethod
    def from_files(cls, certificate: Path, key: Path, *, digest: str = "sha256") -> X509Signer:
        """A signer from a PEM certificate file and a PEM (unencrypted) key file."""
        try:
            return cls(certificate.read_bytes(), key.read_bytes(), digest=digest)
        except OSError as exc:
            raise ConfigError(f"The signing certificate or key cannot be read: {exc}.") from exc

    def sign(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``envelope`` with ``crypto``, ``signature`` and ``certificate`` set."""
        signed = {key: value for key, value in envelope.items() if key not in CREDENTIAL_FIELDS}
        signed["crypto"] = "x509"
        signature = self._key.sign(canonical_json(signed), padding.PKCS1v15(), self._digest)
        signed["signature"] = _base64_lines(signature)
        signed["certificate"] = self._certificate_field
        return signed


class X509Verifier:
    """Checks that envelopes are signed by a certificate a trusted CA issued directly (no intermediates)."""

    def __init__(
        self, ca_pem: bytes, *, accept_sha1: bool = False, digest: str = "sha256", max_age: int = 0,
        max_skew: int = 0, crl_pem: bytes | None = None,
        routing_policy: Mapping[str, Sequence[str]] | None = None, routing_nitpicky: bool = False,
    ) -> None:
        try:
            authorities = x509.load_pem_x509_certificates(ca_pem)
        except ValueError as exc:
            raise ConfigError(f"The CA certificate is not valid PEM: {exc}.") from exc
        self._authorities = [ca for ca in authorities if _is_authority(ca)]
        if not self._authorities:
            raise ConfigError("The CA file holds no CA certificate (basicConstraints CA:TRUE).")
        self._hashes = accepted_digests("sha1" if accept_sha1 else digest)
        self._revocations = RevocationList(crl_pem, self._authorities) if crl_pem is not None else None
        self._max_age = max_age
        self._max_skew = max_skew
        self._routing_policy = {topic: frozenset(names) for topic, names in (routing_policy or {}).items()}
        self._routing_nitpicky = routing_nitpicky

    def verify(self, envelope: Mapping[str, Any], *, now: datetime | None = None) -> str:
        """The signer's common name; SignatureError if unsigned, tampered with, untrusted or stale."""
        moment = now or datetime.now(UTC)
        msg_id = quote_value(envelope.get("msg_id", "?"))
        if envelope.get("crypto") != "x509" or not all(
            isinstance(envelope.get(field), str) for field in CREDENTIAL_FIELDS
        ):
            raise SignatureError(f"Message {msg_id} is not signed (no x509 signature and certificate).")
        certificate = self._certificate(envelope, msg_id)
        self._check_chain(certificate, msg_id, moment)
        problem = signing_use_problem(certificate)
        if problem is not None:
            signer = quote_value(certificate.subject.rfc4514_string())
            raise SignatureError(f"Message {msg_id} is signed by {signer}, whose certificate is {problem}.")
        if self._revocations is not None:
            self._revocations.check(certificate, msg_id, moment)
        self._check_signature(certificate, envelope, msg_id)
        # After the signature: the timestamp is the sender's own, not a value changed on the way.
        age_problem = message_age_problem(envelope, moment, max_age=self._max_age, max_skew=self._max_skew)
        if age_problem is not None:
            raise SignatureError(age_problem)
        names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        signer = str(names[0].value) if names else certificate.subject.rfc4514_string()
        self._check_routing(envelope.get("topic"), signer, msg_id)
        return signer

    def _check_routing(self, topic: object, signer: str, msg_id: str) -> None:
        """The routing policy's word on ``signer`` sending on ``topic``, as fedmsg's validate_policy."""
        allowed = self._routing_policy.get(topic) if isinstance(topic, str) else None
        if allowed is not None:
            if signer not in allowed:
                raise SignatureError(f"Message {msg_id} on {quote_value(topic)} is signed by "
                                     f"{quote_value(signer)}, whom the routing policy does not allow there.")
        elif self._routing_nitpicky:
            raise SignatureError(f"Message {msg_id} is on {quote_value(topic)}, a topic the routing policy "
                                 "does not list (routing_nitpicky).")

    def _certificate(self, envelope: Mapping[str, Any], msg_id: str) -> x509.Certificate:
        try:
            certificate = x509.load_pem_x509_certificate(base64.b64decode(envelope["certificate"]))
            # Extensions are parsed lazily: a malformed one must fail here, not in a later check.
            certificate.extensions  # noqa: B018
            return certificate
        except (binascii.Error, ValueError, x509.DuplicateExtension) as exc:
            raise SignatureError(f"Message {msg_id} carries a certificate that cannot be read.") from exc

    def _check_chain(self, certificate: x509.Certificate, msg_id: str, moment: datetime) -> None:
        signer = quote_value(certificate.subject.rfc4514_string())
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
                         msg_id: str) -> None:
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


def signing_use_problem(certificate: x509.Certificate) -> str | None:
    """Why ``certificate`` may not sign messages (words completing "the certificate is ..."), or None."""
    extensions = certificate.extensions
    if _is_authority(certificate):
        return "a CA certificate, which issues certificates rather than signing messages"
    try:
        key_usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        if not key_usage.digital_signature:
            return "not for signing: its key usage lacks digitalSignature"
    try:
        purposes = set(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return None
    if purposes & SIGNING_PURPOSES:
        return None
    named = ", ".join(sorted(_PURPOSE_NAMES.get(oid, oid.dotted_string) for oid in purposes))
    return f"not for signing: its extended key usage allows only {named}"


def message_age_problem(envelope: Mapping[str, Any], now: datetime, *, max_age: float,
                        max_skew: float) -> str | None:
    """Why the envelope's ``timestamp`` is outside the window (older than ``max_age`` seconds, or more
    than ``max_skew`` seconds ahead of ``now``; 0 turns either check off), or None when it is inside."""
    if not max_age and not max_skew:
        return None
    msg_id = quote_value(envelope.get("msg_id", "?"))
    timestamp = envelope.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return f"Message {msg_id} has no timestamp (epoch seconds) to check its age against."
    try:
        age = now.timestamp() - float(timestamp)
    except OverflowError:
        return f"Message {msg_id} has a timestamp beyond any date."
    if max_age and age > max_age:
        return (
            f"Message {msg_id} was sent {_seconds(age)} seconds ago, more than the {_seconds(max_age)}"
            " seconds [bus] max_message_age allows."
        )
    if max_skew and -age > max_skew:
        return (
            f"Message {msg_id} is dated {_seconds(-age)} seconds ahead, more than the {_seconds(max_skew)}"
            " seconds [bus] max_clock_skew allows."
        )
    return None


def _seconds(value: float) -> str:
    # Whole seconds, but a timestamp from outside may be absurd: keep such a number short.
    return f"{value:.0f}" if abs(value) < 1e12 else f"{value:.3g}"


def _is_authority(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, x509.DuplicateExtension, ValueError):
        # A certificate whose extensions cannot be read is no authority for anything.
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
    return X509Signer.from_files(Path(bus.certificate), Path(bus.private_key), digest=bus.signature_digest)


def verifier_from_config(bus: BusConfig) -> X509Verifier | None:
    """The verifier of the CA ``[bus] ca`` names, or None when inbound messages are not verified."""
    if not bus.ca:
        if bus.routing_policy or bus.routing_nitpicky:
            raise ConfigError("[bus] routing_policy and routing_nitpicky need [bus] ca: only signed messages "
                              "have a signer to check.")
        return None
    try:
        ca_pem = Path(bus.ca).read_bytes()
    except OSError as exc:
        raise ConfigError(f"The CA certificate {bus.ca} cannot be read: {exc.strerror}.") from exc
    crl_pem = None
    if bus.crl:
        try:
            crl_pem = Path(bus.crl).read_bytes()
        except OSError as exc:
            raise ConfigError(f"The CRL {bus.crl} cannot be read: {exc.strerror}.") from exc
    return X509Verifier(ca_pem, digest=bus.signature_digest, max_age=bus.max_message_age,
                        max_skew=bus.max_clock_skew, crl_pem=crl_pem, routing_policy=bus.routing_policy,
                        routing_nitpicky=bus.routing_nitpicky)
