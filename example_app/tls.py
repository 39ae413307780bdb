"""A self-signed certificate for ``https://localhost``, for ``python -m example_app --https``.

Adobe takes only https redirect URIs, even for localhost, so trying the demo
against real Adobe needs the demo served over https. The certificate and its
key are kept in the user's cache directory (see :func:`cache_dir`) and reused
on the next run; a new pair is made when they are missing, unreadable, not a
matching certificate and key, expired or expiring within a week, not for
``localhost``, or when the key file is readable by other users.

Needs the ``cryptography`` package (installed with the ``jwt`` extra, as
``make demo`` does).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CERT_NAME",
    "KEY_NAME",
    "RENEW_BEFORE",
    "VALIDITY",
    "LocalCertificate",
    "cache_dir",
    "fingerprint",
    "localhost_certificate",
    "problem",
    "write_certificate",
]

APP_DIR = "flask-adobe-oauth"
CERT_NAME = "localhost-cert.pem"
KEY_NAME = "localhost-key.pem"
#: How long a new certificate is valid.
VALIDITY = timedelta(days=365)
#: A certificate that ends sooner than this is replaced.
RENEW_BEFORE = timedelta(days=7)
#: Backdating of a new certificate, for clocks a little behind.
_SKEW = timedelta(minutes=5)
_WINDOWS = os.name == "nt"
#: The key usage of the certificate: digital signatures and nothing else.
_SIGNING_ONLY = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True)
class LocalCertificate:
    """The certificate and key files to serve with, and what :func:`localhost_certificate` did."""

    cert: Path
    key: Path
    #: SHA-256 of the certificate, as browsers show it (``AB:CD:...``).
    fingerprint: str
    not_after: datetime
    #: ``None`` when the files were reused, else why a new pair was made.
    renewed_because: str | None


def cache_dir(environ: Mapping[str, str] | None = None, *, windows: bool = _WINDOWS) -> Path:
    """Where the certificate is kept: ``$XDG_CACHE_HOME/flask-adobe-oauth`` (``~/.cache/...``
    when unset or not absolute), or ``%LOCALAPPDATA%\\flask-adobe-oauth\\cache`` on Windows."""
    env = os.environ if environ is None else environ
    if windows:
        base = env.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP_DIR / "cache"
    xdg = env.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / APP_DIR


def localhost_certificate(directory: Path | None = None, *, now: datetime | None = None) -> LocalCertificate:
    """The certificate for localhost in ``directory`` (default :func:`cache_dir`), made if needed.

    Raises :class:`OSError` when the directory or the files cannot be written.
    """
    directory = cache_dir() if directory is None else directory
    now = now or datetime.now(timezone.utc)
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    why = problem(cert_path, key_path, now=now)
    if why is not None:
        write_certificate(directory, not_before=now - _SKEW, not_after=now + VALIDITY)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return LocalCertificate(
        cert=cert_path,
        key=key_path,
        fingerprint=fingerprint(cert),
        not_after=cert.not_valid_after_utc,
        renewed_because=why,
    )


def fingerprint(cert: x509.Certificate) -> str:
    """The SHA-256 fingerprint as browsers show it: ``AB:CD:...``."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def problem(cert_path: Path, key_path: Path, *, now: datetime) -> str | None:
    """Why the certificate and key at these paths cannot be used for localhost at ``now``; ``None`` if they can."""
    try:
        cert_pem, key_pem = cert_path.read_bytes(), key_path.read_bytes()
    except FileNotFoundError:
        return "none was there yet"
    except OSError as exc:
        return f"the old one could not be read ({exc.strerror or exc})"
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        matching = cert.public_key().public_bytes(*spki) == key.public_key().public_bytes(*spki)
        try:
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns_names = names.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            dns_names = []
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return "the old files are not a PEM certificate and unencrypted key"
    if not matching:
        return "the old key does not belong to the old certificate"
    if now < cert.not_valid_before_utc:
        return "the old one is not valid yet (was the clock changed?)"
    if cert.not_valid_after_utc <= now:
        return "the old one expired"
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        return f"the old one expires within {RENEW_BEFORE.days} days"
    if "localhost" not in dns_names:
        return "the old one is not for localhost"
    if not _WINDOWS and key_path.stat().st_mode & 0o077:
        return "the old key could be read by other users"
    return None


def write_certificate(directory: Path, *, not_before: datetime, not_after: datetime) -> None:
    """Make a new key (EC P-256) and self-signed certificate for localhost, 127.0.0.1 and ::1,
    and write them to ``directory``, replacing what is there. The key file is mode 0600 from
    the moment it exists."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _self_signed(key, not_before=not_before, not_after=not_after)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(directory / KEY_NAME, key_pem, 0o600)
    _write(directory / CERT_NAME, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _self_signed(
    key: ec.EllipticCurvePrivateKey, *, not_before: datetime, not_after: datetime
) -> x509.Certificate:
    """A certificate for localhost signed by ``key`` itself, valid from ``not_before`` to ``not_after``."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "flask-adobe-oauth demo (self-signed)"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in _server_extensions(key.public_key()):
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256())


def _server_extensions(public: ec.EllipticCurvePublicKey) -> list[tuple[x509.ExtensionType, bool]]:
    """The extensions, each with whether it is critical, of a TLS server's certificate for
    localhost, 127.0.0.1 and ::1 that is no CA and whose key only signs."""
    return [
        (
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ip_address("127.0.0.1")),
                    x509.IPAddress(ip_address("::1")),
                ]
            ),
            False,
        ),
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_SIGNING_ONLY, True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        (x509.SubjectKeyIdentifier.from_public_key(public), False),
        (x509.AuthorityKeyIdentifier.from_issuer_public_key(public), False),
    ]


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file created with ``mode`` (never a wider one), then move it to ``path``."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temporary, flags, mode)
    try:
        with open(fd, "wb") as file:
            if not _WINDOWS:
                os.fchmod(file.fileno(), mode)  # exactly ``mode``, whatever the umask; still empty
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
