"""fedmsg-style X.509 signing: a CA, a signer it issued and an untrusted signer, made at test time."""

from __future__ import annotations

import base64
import copy
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ci_pipeline.bus import open_bus
from ci_pipeline.bus.base import Delivery
from ci_pipeline.config import Config
from ci_pipeline.engine.relay import relay_all
from ci_pipeline.errors import ConfigError, MessageError, SignatureError
from ci_pipeline.messages.envelope import decode, encode
from ci_pipeline.messages.inbound import make_git_receive
from ci_pipeline.messages.signing import (
    X509Signer,
    X509Verifier,
    canonical_json,
    message_age_problem,
    signer_from_config,
    signing_use_problem,
    verifier_from_config,
)
from ci_pipeline.store.db import open_store
from ci_pipeline.store.models import DeadLetter
from ci_pipeline.trigger import Trigger

NOW = datetime.now(UTC)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(name: str, key: rsa.RSAPrivateKey, issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None,
                 *, ca: bool = False, days: int = 30,
                 extensions: tuple[x509.ExtensionType, ...] = ()) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    builder = x509.CertificateBuilder()
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return (
        builder
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class PKI:
    """A CA, a signer it issued, and a self-made signer nobody trusts."""

    def __init__(self) -> None:
        ca_key = _key()
        self.ca = _certificate("ci-pipeline test CA", ca_key, None, ca=True)
        signer_key = _key()
        self.signer_certificate_pem = _pem(
            _certificate("ci-pipeline.example.org", signer_key, (self.ca.subject, ca_key))
        )
        self.signer_key_pem = _key_pem(signer_key)
        self.signer = X509Signer(self.signer_certificate_pem, self.signer_key_pem)
        rogue_key = _key()
        rogue_ca_key = _key()
        rogue_ca = _certificate("rogue CA", rogue_ca_key, None, ca=True)
        self.rogue = X509Signer(
            _pem(_certificate("ci-pipeline.example.org", rogue_key, (rogue_ca.subject, rogue_ca_key))),
            _key_pem(rogue_key),
        )
        self.verifier = X509Verifier(_pem(self.ca))


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI()


def envelope() -> dict[str, Any]:
    return {
        "i": 1,
        "timestamp": 1493386183,
        "msg_id": "2017-b29fa2b4-0600-4f08-9475-5f82f6684bd4",
        "topic": "org.centos.prod.ci.pipeline.package.queued",
        "msg": {"repo": "vim", "rev": "591b0d2", "status": "SUCCESS", "nested": {"b": 1, "a": [1, 2]}},
    }


def test_signed_envelope_has_fedmsg_fields_and_verifies(pki: PKI) -> None:
    signed = pki.signer.sign(envelope())

    assert signed["crypto"] == "x509"
    assert signed["signature"].endswith("\n") and all(len(line) <= 76 for line in signed["signature"].split())
    assert base64.b64decode(signed["certificate"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert pki.verifier.verify(signed) == "ci-pipeline.example.org"


def test_signature_is_rsa_sha256_over_canonical_json(pki: PKI) -> None:
    signed = pki.signer.sign(envelope())
    certificate = x509.load_pem_x509_certificate(base64.b64decode(signed["certificate"]))
    unsigned = {k: v for k, v in signed.items() if k not in ("signature", "certificate")}
    data = canonical_json(signed)

    assert data == (
        b'{"crypto":"x509","i":1,"msg":{"nested":{"a":[1,2],"b":1},"repo":"vim",'
        b'"rev":"591b0d2","status":"SUCCESS"},"msg_id":"2017-b29fa2b4-0600-4f08-9475-5f82f6684bd4",'
        b'"timestamp":1493386183,"topic":"org.centos.prod.ci.pipeline.package.queued"}'
    )
    assert data == canonical_json(unsigned)
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(base64.b64decode(signed["signature"]), data, padding.PKCS1v15(), hashes.SHA256())


def test_unsigned_envelope_is_refused(pki: PKI) -> None:
    with pytest.raises(SignatureError, match="not signed"):
        pki.verifier.verify(envelope())


def test_untrusted_signer_is_refused(pki: PKI) -> None:
    with pytest.raises(SignatureError, match="no trusted CA issued"):
        pki.verifier.verify(pki.rogue.sign(envelope()))


def test_signature_error_is_a_message_error() -> None:
    assert issubclass(SignatureError, MessageError)


def test_expired_certificate_is_refused(pki: PKI) -> None:
    signed = pki.signer.sign(envelope())
    with pytest.raises(SignatureError, match="invalid on"):
        pki.verifier.verify(signed, now=NOW + timedelta(days=365))


def test_swapped_certificate_is_refused(pki: PKI) -> None:
    """A trusted certificate pasted onto a message signed by another key does not verify."""
    signed = pki.rogue.sign(envelope())
    signed["certificate"] = pki.signer.sign(envelope())["certificate"]
    with pytest.raises(SignatureError, match="changed after signing"):
        pki.verifier.verify(signed)


def test_sha1_signatures_of_old_fedmsg_senders_only_when_accepted(pki: PKI) -> None:
    key = _key()
    ca_key = _key()
    ca = _certificate("old CA", ca_key, None, ca=True)
    signer_cert = _certificate("old-sender", key, (ca.subject, ca_key))
    message = {**envelope(), "crypto": "x509"}
    signature = key.sign(canonical_json(message), padding.PKCS1v15(), hashes.SHA1())
    message["signature"] = base64.encodebytes(signature).decode()
    message["certificate"] = base64.encodebytes(_pem(signer_cert)).decode()

    assert X509Verifier(_pem(ca), accept_sha1=True).verify(message) == "old-sender"
    with pytest.raises(SignatureError):
        X509Verifier(_pem(ca)).verify(message)


def test_bad_pem_is_a_config_error(pki: PKI) -> None:
    with pytest.raises(ConfigError):
        X509Verifier(b"not a certificate")
    with pytest.raises(ConfigError, match="no CA certificate"):
        X509Verifier(_pem(_certificate("leaf", _key(), None)))
    with pytest.raises(ConfigError):
        X509Signer(b"junk", b"junk")


json_leaf = st.one_of(st.integers(-10**6, 10**6), st.text(max_size=8), st.booleans(), st.none())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(st.text(min_size=1, max_size=6), json_leaf, min_size=1, max_size=6),
    replacement=st.one_of(json_leaf, st.just("tampered")),
    data=st.data(),
)
def test_any_change_to_a_signed_field_is_detected(pki: PKI, body: dict[str, Any], replacement: Any,
                                                  data: st.DataObject) -> None:
    signed = pki.signer.sign({**envelope(), "msg": body})
    assert pki.verifier.verify(signed)
    key = data.draw(st.sampled_from(sorted(body)))
    if body[key] == replacement and type(body[key]) is type(replacement):
        replacement = [replacement]  # the same value would be no change at all
    tampered = copy.deepcopy(signed)
    tampered["msg"][key] = replacement

    with pytest.raises(SignatureError):
        pki.verifier.verify(tampered)


def _configured(config: Config, tmp_path: Path, pki: PKI, **keys: bool) -> Config:
    files = {
        "certificate": pki.signer_certificate_pem if keys.get("certificate") else None,
        "private_key": pki.signer_key_pem if keys.get("private_key") else None,
        "ca": _pem(pki.ca) if keys.get("ca") else None,
    }
    update = {}
    for name, content in files.items():
        if content is not None:
            path = tmp_path / f"{name}.pem"
            path.write_bytes(content)
            update[name] = str(path)
    return config.model_copy(update={"bus": config.bus.model_copy(update=update)})


def test_signing_and_verifying_are_off_unless_configured(config: Config) -> None:
    assert signer_from_config(config.bus) is None
    assert verifier_from_config(config.bus) is None


def test_half_configured_signing_is_a_config_error(config: Config, tmp_path: Path, pki: PKI) -> None:
    with pytest.raises(ConfigError, match="both"):
        signer_from_config(_configured(config, tmp_path, pki, certificate=True).bus)
    broken = config.bus.model_copy(update={"ca": str(tmp_path / "missing.pem")})
    with pytest.raises(ConfigError, match="cannot be read"):
        verifier_from_config(broken)


def test_relay_signs_what_leaves_and_the_trigger_verifies_what_arrives(
    config: Config, tmp_path: Path, pki: PKI
) -> None:
    signing = _configured(config, tmp_path, pki, certificate=True, private_key=True, ca=True)
    store = open_store(signing.store.url)
    bus = open_bus("memory://")
    trigger = Trigger(signing, store)
    push = make_git_receive(repo="vim", rev="591b0d2fc67a45e4ad13bdc3e312d5554852426a", branch="f26")
    deliveries = [
        Delivery(1, push["topic"], encode(push), 0.0),
        Delivery(2, push["topic"], encode(pki.rogue.sign(push)), 0.0),
        Delivery(3, push["topic"], encode(pki.signer.sign(push)), 0.0),
    ]
    assert trigger.handle_deliveries(deliveries) == (1, 2)
    assert relay_all(store, bus, signer=signer_from_config(signing.bus)) == 1
    [sent] = list(bus.replay())
    # [bus] signature_digest defaults to fedmsg's SHA-1: a SHA-256-only verifier refuses it.
    with pytest.raises(SignatureError, match="does not match"):
        pki.verifier.verify(decode(sent.payload))
    assert X509Verifier(_pem(pki.ca), digest="sha1").verify(decode(sent.payload)) == "ci-pipeline.example.org"
    with store.session() as session:
        reasons = [row.reason for row in session.scalars(select(DeadLetter).order_by(DeadLetter.id))]
    assert "not signed" in reasons[0] and "no trusted CA issued" in reasons[1]
    store.close()


def _key_usage(*, digital_signature: bool = False, key_cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )


class Issuer:
    """A trusted CA that issues signing certificates with chosen extensions, and its verifiers."""

    def __init__(self) -> None:
        self.key = _key()
        self.ca = _certificate("usage test CA", self.key, None, ca=True)
        self.leaf_key = _key()

    def signer(self, *extensions: x509.ExtensionType, ca: bool = False) -> tuple[bytes, bytes]:
        """The PEM certificate (issued by this CA, with ``extensions``) and PEM key of a signer."""
        certificate = _certificate("usage-signer", self.leaf_key, (self.ca.subject, self.key), ca=ca,
                                   extensions=extensions)
        return _pem(certificate), _key_pem(self.leaf_key)

    def signed_by(self, *extensions: x509.ExtensionType, ca: bool = False,
                  timestamp: float | None = None) -> dict[str, Any]:
        """An envelope signed with a certificate carrying ``extensions``, bypassing the signer's own check."""
        certificate_pem, _ = self.signer(*extensions, ca=ca)
        message = {**envelope(), "crypto": "x509"}
        if timestamp is not None:
            message["timestamp"] = timestamp
        signature = self.leaf_key.sign(canonical_json(message), padding.PKCS1v15(), hashes.SHA256())
        message["signature"] = base64.encodebytes(signature).decode()
        message["certificate"] = base64.encodebytes(certificate_pem).decode()
        return message


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.mark.parametrize(
    "extensions",
    [
        (),
        (_key_usage(digital_signature=True),),
        (_key_usage(digital_signature=True, key_cert_sign=True),),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]),),
        (_key_usage(digital_signature=True), x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING])),
    ],
    ids=["no-usage", "digitalSignature", "digitalSignature+keyCertSign", "eku-codeSigning",
         "eku-clientAuth-as-fedmsg", "eku-serverAuth+emailProtection", "ku-and-eku"],
)
def test_certificates_meant_for_signing_are_accepted(
    issuer: Issuer, extensions: tuple[x509.ExtensionType, ...]
) -> None:
    assert X509Verifier(_pem(issuer.ca)).verify(issuer.signed_by(*extensions)) == "usage-signer"
    assert signing_use_problem(x509.load_pem_x509_certificate(issuer.signer(*extensions)[0])) is None


@pytest.mark.parametrize(
    ("extensions", "ca", "reason"),
    [
        ((_key_usage(key_cert_sign=True),), False, "its key usage lacks digitalSignature"),
        ((x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),), False,
         "its extended key usage allows only serverAuth"),
        ((x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.TIME_STAMPING]),),
         False, "allows only serverAuth, timeStamping"),
        ((_key_usage(digital_signature=True, key_cert_sign=True),), True, "a CA certificate"),
    ],
    ids=["keyCertSign-only", "eku-serverAuth-only", "eku-serverAuth+timeStamping", "ca-as-signer"],
)
def test_certificates_not_meant_for_signing_are_refused_on_both_ends(
    issuer: Issuer, extensions: tuple[x509.ExtensionType, ...], ca: bool, reason: str
) -> None:
    with pytest.raises(SignatureError, match=f"signed by 'CN=usage-signer', whose certificate is .*{reason}"):
        X509Verifier(_pem(issuer.ca)).verify(issuer.signed_by(*extensions, ca=ca))
    certificate_pem, key_pem = issuer.signer(*extensions, ca=ca)
    with pytest.raises(ConfigError, match=reason):
        X509Signer(certificate_pem, key_pem)


def test_the_trusted_ca_itself_is_not_a_message_signer(issuer: Issuer) -> None:
    message = {**envelope(), "crypto": "x509"}
    signature = issuer.key.sign(canonical_json(message), padding.PKCS1v15(), hashes.SHA256())
    message["signature"] = base64.encodebytes(signature).decode()
    message["certificate"] = base64.encodebytes(_pem(issuer.ca)).decode()
    with pytest.raises(SignatureError, match="a CA certificate"):
        X509Verifier(_pem(issuer.ca)).verify(message)


WINDOW = {"max_age": 86400, "max_skew": 300}


@pytest.mark.parametrize(
    ("offset", "window", "reason"),
    [
        (-86400 - 60, WINDOW, "was sent 86460 seconds ago, more than the 86400 seconds"),
        (3600, WINDOW, "is dated 3600 seconds ahead, more than the 300 seconds"),
        (-86400 * 365, {"max_age": 60, "max_skew": 0}, "more than the 60 seconds"),
        (600, {"max_age": 0, "max_skew": 30}, "more than the 30 seconds"),
    ],
)
def test_messages_outside_the_time_window_are_refused(
    issuer: Issuer, offset: int, window: dict[str, int], reason: str
) -> None:
    message = issuer.signed_by(timestamp=NOW.timestamp() + offset)
    with pytest.raises(SignatureError, match=reason):
        X509Verifier(_pem(issuer.ca), **window).verify(message, now=NOW)


@pytest.mark.parametrize(
    ("offset", "window"),
    [
        (-86400 + 60, WINDOW),
        (240, WINDOW),
        (0, WINDOW),
        (-86400 * 3650, {"max_age": 0, "max_skew": 300}),
        (86400 * 3650, {"max_age": 86400, "max_skew": 0}),
        (-86400 * 3650, {"max_age": 0, "max_skew": 0}),
    ],
)
def test_messages_inside_the_window_or_with_checks_off_are_accepted(
    issuer: Issuer, offset: int, window: dict[str, int]
) -> None:
    message = issuer.signed_by(timestamp=NOW.timestamp() + offset)
    assert X509Verifier(_pem(issuer.ca), **window).verify(message, now=NOW) == "usage-signer"


def test_a_window_needs_a_numeric_timestamp() -> None:
    message = {**envelope(), "timestamp": "yesterday"}
    problem = message_age_problem(message, NOW, max_age=86400, max_skew=300)
    assert problem is not None and "no timestamp" in problem
    assert message_age_problem({**message, "timestamp": True}, NOW, max_age=1, max_skew=0) is not None
    assert message_age_problem(message, NOW, max_age=0, max_skew=0) is None


@given(timestamp=st.integers() | st.floats(allow_nan=False))
def test_any_numeric_timestamp_gives_a_short_answer(timestamp: float) -> None:
    problem = message_age_problem({**envelope(), "timestamp": timestamp}, NOW, max_age=86400, max_skew=300)
    try:
        age = NOW.timestamp() - float(timestamp)
    except OverflowError:
        age = math.inf
    assert (problem is None) == (-300 <= age <= 86400)
    assert problem is None or (problem.isprintable() and len(problem) < 200)


def test_the_configured_window_reaches_the_verifier(config: Config, tmp_path: Path, pki: PKI) -> None:
    signing = _configured(config, tmp_path, pki, ca=True)
    stale = pki.signer.sign(envelope())  # dated 2017
    default = verifier_from_config(signing.bus)
    assert default is not None
    with pytest.raises(SignatureError, match="max_message_age"):
        default.verify(stale)
    off = verifier_from_config(signing.bus.model_copy(update={"max_message_age": 0}))
    assert off is not None and off.verify(stale) == "ci-pipeline.example.org"


@given(msg_id=st.text(max_size=300) | st.integers() | st.lists(st.text(), max_size=3))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_reasons_quote_message_values_escaped_and_short(pki: PKI, msg_id: Any) -> None:
    for message in ({**envelope(), "msg_id": msg_id}, pki.rogue.sign({**envelope(), "msg_id": msg_id})):
        with pytest.raises(SignatureError) as caught:
            pki.verifier.verify(message)
        reason = str(caught.value)
        assert reason.isprintable() and len(reason) < 300


def test_a_huge_message_id_is_not_copied_into_the_reason(pki: PKI) -> None:
    with pytest.raises(SignatureError) as caught:
        pki.verifier.verify({**envelope(), "msg_id": "\x00" * 10_000_000})
    assert len(str(caught.value)) < 200 and "\\x00" in str(caught.value)


def test_a_certificate_with_a_duplicated_extension_is_unreadable(issuer: Issuer) -> None:
    unknown = [x509.UnrecognizedExtension(x509.ObjectIdentifier(f"1.2.3.{n}"), b"\x05\x00") for n in (4, 5)]
    certificate_pem, _ = issuer.signer(*unknown)
    der = x509.load_pem_x509_certificate(certificate_pem).public_bytes(serialization.Encoding.DER)
    # Rename the second extension to the first one's OID: the same extension twice.
    twice = x509.load_der_x509_certificate(der.replace(b"\x06\x03\x2a\x03\x05", b"\x06\x03\x2a\x03\x04"))
    message = issuer.signed_by()
    message["certificate"] = base64.encodebytes(_pem(twice)).decode()
    verifier = X509Verifier(_pem(issuer.ca))
    with pytest.raises(SignatureError, match="certificate that cannot be read"):
        verifier.verify(message)


def _routed_verifier(pki: PKI, policy: dict[str, list[str]], *, nitpicky: bool = False) -> X509Verifier:
    return X509Verifier(_pem(pki.ca), routing_policy=policy, routing_nitpicky=nitpicky)


def test_the_routing_policy_lets_only_its_signers_send_on_a_listed_topic(pki: PKI) -> None:
    signed = pki.signer.sign(envelope())
    topic = signed["topic"]
    assert _routed_verifier(pki, {topic: ["other", "ci-pipeline.example.org"]}).verify(signed)
    with pytest.raises(SignatureError, match="routing policy does not allow"):
        _routed_verifier(pki, {topic: ["koji.example.org"]}).verify(signed)


def test_a_topic_the_routing_policy_does_not_list_is_refused_only_when_nitpicky(pki: PKI) -> None:
    signed = pki.signer.sign(envelope())
    policy = {"org.fedoraproject.prod.buildsys.tag": ["koji.example.org"]}
    assert _routed_verifier(pki, policy).verify(signed) == "ci-pipeline.example.org"
    with pytest.raises(SignatureError, match="routing_nitpicky"):
        _routed_verifier(pki, policy, nitpicky=True).verify(signed)


def test_the_routing_policy_comes_from_the_bus_configuration(pki: PKI, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(_pem(pki.ca))
    signed = pki.signer.sign(envelope())
    config = Config.model_validate({"bus": {"ca": str(ca), "max_message_age": 0,
                                            "routing_policy": {signed["topic"]: ["koji.example.org"]}}})
    verifier = verifier_from_config(config.bus)
    assert verifier is not None
    with pytest.raises(SignatureError, match="routing policy"):
        verifier.verify(signed)


def test_a_routing_policy_without_a_ca_is_a_configuration_error() -> None:
    config = Config.model_validate({"bus": {"routing_policy": {"a.b": ["koji"]}}})
    with pytest.raises(ConfigError, match="need \\[bus\\] ca"):
        verifier_from_config(config.bus)
