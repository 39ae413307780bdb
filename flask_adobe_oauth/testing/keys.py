"""An RSA key for the stand-in's id_tokens, and RS256 JWTs signed with it.

Needs ``cryptography`` (installed with the ``test`` or ``jwt`` extra). Without
it the stand-in still works but issues no id_token.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
except ImportError:  # pragma: no cover - exercised only without the extra
    rsa = None  # type: ignore[assignment]


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class SigningKey:
    """An RSA-2048 key; :meth:`sign` makes RS256 JWTs, :meth:`jwks` publishes it."""

    available = rsa is not None
    _shared: SigningKey | None = None

    @classmethod
    def shared(cls) -> SigningKey:
        """One key per process: generating RSA keys is slow, and stand-ins
        started by consecutive tests need not differ in their key."""
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def __init__(self) -> None:
        if rsa is None:
            raise RuntimeError("the stand-in needs 'cryptography' to sign id_tokens")
        self.kid = "standin-" + secrets.token_hex(4)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "kid": self.kid,
                    "use": "sig",
                    "alg": "RS256",
                    "n": _int_b64(numbers.n),
                    "e": _int_b64(numbers.e),
                }
            ]
        }


def opaque_jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped token with a random 256-byte "signature".

    Adobe's access and refresh tokens are RS256 JWTs of 1–2 KB; the stand-in
    mints tokens of the same shape and size so cookie sizes in tests are
    realistic. Their validity is looked up, not verified.
    """
    header = {"alg": "RS256", "x5u": "ims_na1-key-at-1.cer", "kid": "ims_na1-key-at-1", "itt": "at"}
    return ".".join(
        (
            b64url(json.dumps(header, separators=(",", ":")).encode()),
            b64url(json.dumps(claims, separators=(",", ":")).encode()),
            b64url(secrets.token_bytes(256)),
        )
    )
