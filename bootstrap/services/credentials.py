"""Credentials: EAP secrets, the store's CA and subscriber certificates.

Secrets and private keys are encrypted with a Fernet key kept in a file
(``[store] secret_key_file``, created with mode 0600 on first use) before
they reach the store, so a database dump alone reveals nothing.  Plain
values leave this module only in the return value of the call that created
them (printed once by the CLI) and in the files written once with 0600.
Nothing here logs.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy.orm import Session

from ..config import Settings
from ..errors import ConfigError, Conflict, NotFound
from ..store.engine import Store
from ..store.models import Setting, utcnow
from . import audit
from .actor import Actor

CA_CERT_KEY = "ca.cert"
CA_KEY_KEY = "ca.key"
SECRET_BYTES = 18  # 24 URL-safe characters, 144 bits
CERT_DAYS = 825
CA_DAYS = 3650


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (no window with wider modes)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


_FERNETS: dict[str, Fernet] = {}


def fernet(settings: Settings) -> Fernet:
    """The store's encryption key, created on first use (cached per key file)."""
    cached = _FERNETS.get(settings.store.secret_key_file)
    if cached is not None:
        return cached
    f = _load_fernet(settings)
    _FERNETS[settings.store.secret_key_file] = f
    return f


def _load_fernet(settings: Settings) -> Fernet:
    path = Path(settings.store.secret_key_file)
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        key = Fernet.generate_key()
        write_private(path, key + b"\n")
    except OSError as exc:
        raise ConfigError(
            f"[store] secret_key_file {path} cannot be read: {exc.strerror}"
        ) from None
    try:
        return Fernet(key)
    except ValueError:
        raise ConfigError(f"[store] secret_key_file {path} does not hold a Fernet key") from None


def encrypt(settings: Settings, plain: bytes) -> bytes:
    return fernet(settings).encrypt(plain)


def decrypt(settings: Settings, blob: bytes) -> bytes:
    try:
        return fernet(settings).decrypt(blob)
    except InvalidToken:
        raise ConfigError(
            f"[store] secret_key_file {settings.store.secret_key_file} is not the key this store's"
            " secrets were encrypted with"
        ) from None


def decrypt_secret(settings: Settings, blob: bytes) -> str:
    """The EAP secret stored as ``blob``."""
    return decrypt(settings, blob).decode()


def new_eap_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


@dataclass(frozen=True, slots=True)
class IssuedCert:
    cert_pem: bytes
    key_pem: bytes
    serial: int


def ca_init(
    store: Store,
    settings: Settings,
    common_name: str = "mip6-bootstrap CA",
    actor: Actor | None = None,
) -> str:
    """Create the store's CA (EC P-256); refuses if one exists. Returns the CA PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with store.session() as s:
        if s.get(Setting, CA_CERT_KEY) is not None:
            raise Conflict(
                "the store already has a CA; it is kept so issued certificates stay valid"
            )
        s.add(Setting(key=CA_CERT_KEY, value=pem))
        s.add(Setting(key=CA_KEY_KEY, blob=encrypt(settings, key_pem)))
        audit.record(
            s, actor or Actor.cli(), "ca.init", common_name, serial=format(cert.serial_number, "x")
        )
    return pem


def ca_cert_pem(store: Store) -> str | None:
    with store.session() as s:
        row = s.get(Setting, CA_CERT_KEY)
        return row.value if row is not None else None


def load_ca(
    session: Session, settings: Settings
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_row = session.get(Setting, CA_CERT_KEY)
    key_row = session.get(Setting, CA_KEY_KEY)
    if cert_row is None or key_row is None or cert_row.value is None or key_row.blob is None:
        raise NotFound("the store has no CA yet; run 'bootstrapctl ca init' first")
    cert = x509.load_pem_x509_certificate(cert_row.value.encode())
    key = serialization.load_pem_private_key(decrypt(settings, key_row.blob), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError("the store's CA key is not an EC key")
    return cert, key


def issue_leaf(
    session: Session,
    settings: Settings,
    common_name: str,
    names: list[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    days: int = CERT_DAYS,
) -> IssuedCert:
    """An EC P-256 end-entity certificate from the store's CA (clients and HAs alike)."""
    ca_cert, ca_key = load_ca(session, settings)
    key = ec.generate_private_key(ec.SECP256R1())
    now = utcnow()
    serial = x509.random_serial_number()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return IssuedCert(
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        serial=serial,
    )


def issue_certificate(session: Session, settings: Settings, identity: str, fqdn: str) -> IssuedCert:
    """A client certificate naming ``identity`` (rfc822Name, CN) and ``fqdn`` (dNSName)."""
    names: list[x509.GeneralName] = [x509.RFC822Name(identity), x509.DNSName(fqdn)]
    return issue_leaf(session, settings, identity, names, ExtendedKeyUsageOID.CLIENT_AUTH)


def ca_pem_in(session: Session) -> bytes:
    row = session.get(Setting, CA_CERT_KEY)
    return (row.value or "").encode() if row is not None else b""


def write_certificate_files(
    settings: Settings, identity: str, issued: IssuedCert, ca_pem: bytes
) -> tuple[Path, Path, Path]:
    """Write cert, key (0600) and CA under ``credentials_dir/<identity>/``; returns their paths."""
    base = Path(settings.store.credentials_dir) / identity
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path, ca_path = base / "cert.pem", base / "key.pem", base / "ca.pem"
    write_private(key_path, issued.key_pem)
    cert_path.write_bytes(issued.cert_pem)
    ca_path.write_bytes(ca_pem)
    return cert_path, key_path, ca_path
