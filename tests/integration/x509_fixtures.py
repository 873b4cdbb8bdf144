"""A test PKI laid out as fedmsg expects it: a CA, its CRL, and signers' key pairs in an ``ssldir``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

NOW = datetime.now(UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class FedmsgPKI:
    """A CA under ``root`` (``ca.crt``, ``crl.pem``) and signers in ``root/ssldir`` (``NAME.crt/.key``).

    ``revoked`` names signers the CRL lists.
    """

    def __init__(self, root: Path, signers: tuple[str, ...], revoked: tuple[str, ...] = ()) -> None:
        self.root = root
        self.ssldir = root / "ssldir"
        self.ssldir.mkdir(parents=True, exist_ok=True)
        self._ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ca = self._certificate(_name("fedmsg test CA"), self._ca_key.public_key(), ca=True)
        self.ca_path = root / "ca.crt"
        self.ca_path.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))
        serials = {name: self._signer(name) for name in (*signers, *revoked)}
        self.crl_path = root / "crl.pem"
        self.crl_path.write_bytes(self.crl([serials[name] for name in revoked]))

    def _certificate(self, subject: x509.Name, key: rsa.RSAPublicKey, *, ca: bool) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(_name("fedmsg test CA"))
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(self._ca_key, hashes.SHA256())
        )

    def _signer(self, name: str) -> int:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        certificate = self._certificate(_name(f"{name}.example.org"), key.public_key(), ca=False)
        self.certificate(name).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        self.key(name).write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
        return int(certificate.serial_number)

    def crl(self, serials: list[int], *, days_ago: int = 0) -> bytes:
        """A CRL of the CA revoking ``serials``: current, or with ``days_ago`` out of date that long."""
        last_update = NOW - timedelta(hours=1, days=2 * days_ago)
        next_update = NOW - timedelta(days=days_ago) if days_ago else NOW + timedelta(days=7)
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.ca.subject)
                   .last_update(last_update).next_update(next_update))
        for serial in serials:
            revoked = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(last_update)
            builder = builder.add_revoked_certificate(revoked.build())
        return builder.sign(self._ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    def certificate(self, name: str) -> Path:
        """The PEM certificate of signer ``name``."""
        return self.ssldir / f"{name}.crt"

    def key(self, name: str) -> Path:
        """The PEM key of signer ``name``."""
        return self.ssldir / f"{name}.key"
